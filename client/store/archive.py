"""``save`` and ``load``: images as a ``docker save`` tar or an OCI archive, streamed.

Both formats written are an OCI image layout in a tar (``oci-layout``,
``index.json``, ``blobs/sha256/...``) holding the store's blobs byte for byte,
so digests survive the trip:

- ``oci``: index.json names each image by its full reference in
  ``org.opencontainers.image.ref.name``, as the store does
  (``skopeo copy oci-archive:f.tar:docker.io/library/busybox:latest ...``);
- ``docker``: what Docker 25+ writes: index.json carries the full name in
  ``io.containerd.image.name`` and the tag in ``ref.name``, and ``manifest.json``
  and ``repositories`` let ``docker load`` and ``skopeo docker-archive:`` of any
  age read it.  Layers stay as stored (compressed); every reader of the format
  decompresses layer files.

``load`` reads either, and the legacy ``docker save`` layout
(``<id>/layer.tar`` with ``<config>.json``), gzip-compressed or not.  Blobs
are verified against their names as they stream into the store.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from ocispec import mediatypes as mt
from ocispec.digest import Digest, InvalidDigest
from ocispec.manifest import Descriptor, InvalidManifest
from ocispec.reference import InvalidReference, Reference

from client.layers.compression import compression_of

from .errors import StoreError
from .graph import read_manifest, reachable
from .index import LAYOUT_FILE, LAYOUT_VERSION, REF_NAME, index_document, named, point
from .leases import Lease
from .store import ImageStore

DOCKER = "docker"
OCI = "oci"
FORMATS = (DOCKER, OCI)
CONTAINERD_NAME = "io.containerd.image.name"

_BUFFER = 1 << 16  # tarfile's stream buffer: big enough for few calls, small enough to slice cheaply
_MAX_METADATA = 16 << 20  # manifest.json, index.json, legacy configs: read whole
_BLOB_PATH = re.compile(r"blobs/([a-z0-9]+)/([a-f0-9]+)")
_LEGACY_METADATA = re.compile(r"[a-f0-9]{64}/(json|VERSION)")  # docker v1 layer metadata: unused


@dataclass(frozen=True, slots=True)
class Loaded:
    reference: Reference | None  # None: the archive gave the image no name
    descriptor: Descriptor


async def save(store: ImageStore, images: Sequence[tuple[Reference | None, Descriptor]],
               out: BinaryIO, format: str = DOCKER) -> None:
    """Write ``images`` (resolved by the caller) as one archive to the binary stream ``out``."""
    if format not in FORMATS:
        raise StoreError(f"unknown archive format {format!r}: use one of {', '.join(FORMATS)}")
    await asyncio.to_thread(_save, store, images, out, format)


async def load(store: ImageStore, source: BinaryIO) -> list[Loaded]:
    """Read an archive from ``source`` into the store and tag what it names."""
    return await asyncio.to_thread(_load, store, source)


# -- save ----------------------------------------------------------------------


def _save(store: ImageStore, images: Sequence[tuple[Reference | None, Descriptor]],
          out: BinaryIO, format: str) -> None:
    # Everything that can fail is checked before the first byte goes out.
    metadata = {LAYOUT_FILE: LAYOUT_VERSION}
    if format == OCI:
        metadata["index.json"] = index_document(
            [named(d, str(ref) if ref else None) for ref, d in images])
    else:
        manifest, repositories = _docker_manifest(store, images)
        metadata["index.json"] = index_document([_docker_entry(r, d) for r, d in images])
        metadata["manifest.json"] = json.dumps(manifest).encode()
        metadata["repositories"] = json.dumps(repositories).encode()
    blobs = sorted(reachable(store.blobs, [d for _, d in images]).blobs, key=str)
    for digest in blobs:
        store.blobs.size(digest)  # raises BlobNotFound for an image not wholly here
    with tarfile.open(fileobj=out, mode="w|", bufsize=_BUFFER, format=tarfile.PAX_FORMAT) as tar:
        tar.copybufsize = _BUFFER
        for directory in sorted({posixpath.dirname(_blob_path(d)) for d in blobs} | {"blobs"}):
            _add_entry(tar, directory, None)
        for digest in blobs:
            with store.blobs.open(digest) as blob:
                info = _tar_info(_blob_path(digest))
                info.size = os.fstat(blob.fileno()).st_size
                tar.addfile(info, blob)
        for name, data in metadata.items():
            _add_entry(tar, name, data)


def _docker_entry(reference: Reference | None, descriptor: Descriptor) -> Descriptor:
    """An index.json entry as Docker 25 writes it: full name aside, the tag as ref.name."""
    entry = named(descriptor, reference.tag if reference and reference.tag else None)
    if reference is None:
        return entry
    return replace(entry, annotations={**(entry.annotations or {}), CONTAINERD_NAME: str(reference)})


def _docker_manifest(store: ImageStore, images: Sequence[tuple[Reference | None, Descriptor]]
                     ) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """``manifest.json`` (one entry per image, with all its tags) and ``repositories``."""
    entries: dict[Digest, dict[str, Any]] = {}
    repositories: dict[str, dict[str, str]] = {}
    for reference, descriptor in images:
        if descriptor.digest not in entries:
            manifest = read_manifest(store.blobs, descriptor)
            if manifest.config is None:
                raise StoreError(f"{reference or descriptor.digest} is a multi-platform index: "
                                 "a docker archive holds single images; use the oci format")
            entries[descriptor.digest] = {
                "Config": _blob_path(manifest.config.digest), "RepoTags": [],
                "Layers": [_blob_path(layer.digest) for layer in manifest.layers]}
        entry = entries[descriptor.digest]
        if reference is not None and reference.tag is not None:
            entry["RepoTags"].append(reference.familiar())
            if entry["Layers"]:
                top = entry["Layers"][-1].rsplit("/", 1)[1]
                repositories.setdefault(reference.familiar_name, {})[reference.tag] = top
    return list(entries.values()), repositories


def _blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _tar_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    return info


def _add_entry(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    """A small file, or a directory when ``data`` is None."""
    info = _tar_info(name)
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


# -- load ----------------------------------------------------------------------


def _load(store: ImageStore, source: BinaryIO) -> list[Loaded]:
    with Lease(store.layout / "leases", store.index) as lease:
        files, metadata = _ingest_members(store, lease, source)
        if "index.json" in metadata:
            loaded = _images_from_index(store, metadata["index.json"])
        elif "manifest.json" in metadata:
            loaded = _images_from_docker_manifest(store, lease, files, metadata)
        else:
            raise StoreError("not an image archive: it has neither index.json nor manifest.json")
        _record(store, loaded)
    return loaded


def _ingest_members(store: ImageStore, lease: Lease, source: BinaryIO
                    ) -> tuple[dict[str, Digest], dict[str, bytes]]:
    """Stream every file of the archive in: blobs into the store, metadata into memory.

    Returns archive path -> digest of each stored file (links included), and the
    metadata files' bytes.
    """
    files: dict[str, Digest] = {}
    metadata: dict[str, bytes] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(fileobj=source, mode="r|*", bufsize=_BUFFER) as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()
                name = posixpath.normpath(member.name).lstrip("/")
                if member.issym():
                    links[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                                    member.linkname))
                elif member.islnk():
                    links[name] = posixpath.normpath(member.linkname).lstrip("/")
                elif not member.isreg() or _LEGACY_METADATA.fullmatch(name):
                    continue
                elif _is_metadata(name):
                    metadata[name] = _read_small(tar, member)
                else:
                    files[name] = _ingest(store, lease, tar, member, _digest_of_path(name))
    except (tarfile.TarError, EOFError, OSError) as err:
        raise StoreError(f"cannot read the archive: {err}") from None
    for name, target in links.items():
        if target in files:
            files[name] = files[target]
    return files, metadata


def _is_metadata(name: str) -> bool:
    return name in ("index.json", "manifest.json", "repositories", LAYOUT_FILE) or (
        "/" not in name and name.endswith(".json"))


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if member.size > _MAX_METADATA:
        raise StoreError(f"archive member {member.name} is too large ({member.size} bytes)")
    content = tar.extractfile(member)
    assert content is not None  # a regular member
    return content.read()


def _digest_of_path(name: str) -> Digest | None:
    match = _BLOB_PATH.fullmatch(name)
    if match is None:
        return None
    try:
        return Digest.parse(f"{match[1]}:{match[2]}")
    except InvalidDigest:
        raise StoreError(f"archive member {name} is not named by a valid digest") from None


def _ingest(store: ImageStore, lease: Lease, tar: tarfile.TarFile, member: tarfile.TarInfo,
            expected: Digest | None) -> Digest:
    if expected is not None:
        lease.add(expected)  # before looking: a concurrent prune must not take it
    content = tar.extractfile(member)
    assert content is not None  # a regular member
    with store.blobs.writer(expected, member.size) as writer:
        if not writer.complete:
            if writer.offset:  # a download abandoned earlier: we have it all here
                writer.reset()
            while chunk := content.read(_BUFFER):
                writer.write(chunk)
    lease.add(writer.digest)
    return writer.digest


def _images_from_index(store: ImageStore, data: bytes) -> list[Loaded]:
    try:
        entries = json.loads(data)["manifests"]
        descriptors = [Descriptor.from_json(e, f"index.json manifests[{i}]")
                       for i, e in enumerate(entries)]
    except (ValueError, KeyError, TypeError, InvalidManifest) as err:
        raise StoreError(f"the archive's index.json is invalid: {err}") from None
    loaded = []
    for descriptor in descriptors:
        if not store.blobs.has(descriptor.digest):
            raise StoreError(f"the archive lacks manifest {descriptor.digest}")
        annotations = dict(descriptor.annotations or {})
        full_name, tag = annotations.pop(CONTAINERD_NAME, None), annotations.pop(REF_NAME, None)
        loaded.append(Loaded(_reference(full_name or tag),
                             replace(descriptor, annotations=annotations or None)))
    return loaded


def _reference(name: str | None) -> Reference | None:
    """The image name an archive gives, or None for none or a bare tag (``latest``)."""
    if not name or not any(c in name for c in "/:@"):
        return None
    try:
        return Reference.parse(name)
    except InvalidReference:
        return None


def _images_from_docker_manifest(store: ImageStore, lease: Lease, files: dict[str, Digest],
                                 metadata: dict[str, bytes]) -> list[Loaded]:
    """Images of a docker archive without index.json: a manifest is made for each."""
    try:
        entries = json.loads(metadata["manifest.json"])
        images = [(e["Config"], list(e["Layers"]), list(e.get("RepoTags") or [])) for e in entries]
    except (ValueError, KeyError, TypeError) as err:
        raise StoreError(f"the archive's manifest.json is invalid: {err}") from None
    loaded = []
    for config_path, layer_paths, tags in images:
        config = _blob_of(store, lease, config_path, files, metadata)
        layers = [_layer_descriptor(store, _blob_of(store, lease, p, files, metadata))
                  for p in layer_paths]
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config),
                       "size": store.blobs.size(config)},
            "layers": [layer.to_json() for layer in layers]}).encode()
        lease.add(Digest.of(manifest))
        descriptor = Descriptor(mt.OCI_MANIFEST, store.blobs.put(manifest), len(manifest))
        references = [r for r in map(_reference, tags) if r is not None]
        loaded.extend(Loaded(r, descriptor) for r in references or [None])
    return loaded


def _blob_of(store: ImageStore, lease: Lease, path: str, files: dict[str, Digest],
             metadata: dict[str, bytes]) -> Digest:
    path = posixpath.normpath(path)
    if path in files:
        return files[path]
    if path in metadata:  # a legacy config, read as metadata: store it now
        digest = Digest.of(metadata[path])
        lease.add(digest)
        return store.blobs.put(metadata[path], digest)
    raise StoreError(f"the archive lacks {path}, which its manifest.json names")


def _layer_descriptor(store: ImageStore, digest: Digest) -> Descriptor:
    with store.blobs.open(digest) as blob:
        kind = compression_of(blob.read(4))
    media_type = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}.get(kind or "", mt.OCI_LAYER)
    return Descriptor(media_type, digest, store.blobs.size(digest))


def _record(store: ImageStore, loaded: Iterable[Loaded]) -> None:
    """Tag the loaded images; an unnamed one is kept as a dangling image."""
    with store.index.update() as entries:
        for image in loaded:
            point(entries, str(image.reference) if image.reference else None, image.descriptor)
