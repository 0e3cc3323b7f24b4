"""Parsing and validating image manifests and indexes.

The bytes are the truth (a manifest's digest is over the bytes as sent), so
this module only *reads* them: it never re-serialises a manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import mediatypes as mt
from .digest import Digest, InvalidDigest


class InvalidManifest(ValueError):
    """The bytes are not a manifest or index we accept."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    platform: dict[str, Any] | None = None
    urls: tuple[str, ...] = ()

    @property
    def is_foreign(self) -> bool:
        """A non-distributable layer fetched from its ``urls``: registries need not hold it."""
        return bool(self.urls) and self.media_type in mt.FOREIGN_LAYERS

    @classmethod
    def from_json(cls, value: Any, where: str) -> "Descriptor":
        if not isinstance(value, dict):
            raise InvalidManifest(f"{where}: a descriptor must be an object")
        media_type = value.get("mediaType")
        size = value.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidManifest(f"{where}: mediaType is missing")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"{where}: size must be a non-negative integer")
        try:
            digest = Digest.parse(value.get("digest") if isinstance(value.get("digest"), str) else "")
        except InvalidDigest as err:
            raise InvalidManifest(f"{where}: {err}") from None
        annotations = value.get("annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise InvalidManifest(f"{where}: annotations must be an object")
        urls = value.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise InvalidManifest(f"{where}: urls must be a list of strings")
        return cls(media_type, digest, size, value.get("artifactType"), annotations,
                   value.get("platform"), tuple(urls))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest),
                               "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform:
            out["platform"] = self.platform
        if self.urls:
            out["urls"] = list(self.urls)
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest or an index; ``children`` is empty for the former."""

    media_type: str
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def effective_artifact_type(self) -> str | None:
        """What the referrers API reports: artifactType, else the config's media type."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else None


_SCHEMA1_REFUSED = ("Docker schema 1 manifests are not supported; "
                    "push a Docker schema 2 or an OCI manifest")


def _media_type_of(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifest("mediaType must be a string")
    header = (content_type or "").split(";")[0].strip().lower() or None
    if header in mt.DOCKER_SCHEMA1_MANIFESTS or declared in mt.DOCKER_SCHEMA1_MANIFESTS:
        raise InvalidManifest(_SCHEMA1_REFUSED)
    if header in mt.MANIFESTS:
        if declared and declared != header:
            raise InvalidManifest(f"mediaType {declared!r} does not match Content-Type {header!r}")
        if not declared and header in mt.DOCKER_MANIFESTS:
            # Readers tell Docker from OCI by this field alone (OCI may omit it).
            raise InvalidManifest(f"mediaType is required in a {header} manifest")
        return header
    if declared in mt.MANIFESTS:
        return declared
    if declared:
        raise InvalidManifest(f"unsupported manifest media type {declared!r}")
    # OCI manifests may omit mediaType; tell them apart by shape.
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc:
        return mt.OCI_MANIFEST
    raise InvalidManifest("cannot tell the manifest's media type")


def _descriptors(doc: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    items = doc.get(key)
    if not isinstance(items, list):
        raise InvalidManifest(f"{key} must be a list")
    return tuple(Descriptor.from_json(item, f"{key}[{i}]") for i, item in enumerate(items))


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidManifest(f"not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest("a manifest must be a JSON object")
    return doc


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Validate ``data`` as a manifest; ``content_type`` is the request's header, if any."""
    doc = _json_object(data)
    if doc.get("schemaVersion") == 1:
        raise InvalidManifest(_SCHEMA1_REFUSED)
    media_type = _media_type_of(doc, content_type)
    if doc.get("schemaVersion") != 2:
        raise InvalidManifest("schemaVersion must be 2")
    subject = Descriptor.from_json(doc["subject"], "subject") if doc.get("subject") else None
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifest("artifactType must be a string")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidManifest("annotations must be an object")
    if media_type in mt.INDEXES:
        return Manifest(media_type, children=_descriptors(doc, "manifests"), subject=subject,
                        artifact_type=artifact_type, annotations=annotations)
    if "config" not in doc:
        raise InvalidManifest("config is missing")
    return Manifest(media_type, config=Descriptor.from_json(doc["config"], "config"),
                    layers=_descriptors(doc, "layers"), subject=subject,
                    artifact_type=artifact_type, annotations=annotations)


def stored_media_type(data: bytes) -> str:
    """The media type of a manifest already accepted (its bytes are all we keep).

    Lenient on purpose: it only reads the declared ``mediaType`` (or the
    shape, for OCI documents that omit it), so content written under older
    or laxer rules is still served.
    """
    doc = _json_object(data)
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    return _media_type_of(doc, None)
