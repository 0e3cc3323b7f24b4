"""Build and read OCI image layouts on disk, the format skopeo, umoci and Dockyard's store share.

Interoperability tests need images that a real client accepts as they are (no
conversion, so digests survive a round trip): real gzip'd tar layers, a config
whose ``rootfs.diff_ids`` match the layers, manifests and multi-platform indexes,
all content-addressed under ``blobs/<alg>/<hex>`` with ``index.json`` naming the
tags through ``org.opencontainers.image.ref.name``. They also need to read a
layout a client wrote and walk everything reachable from a tag, to compare two
layouts blob by blob. See the OCI image spec's ``image-layout.md``.

Layers here are built in memory from a seeded ``random.Random``: test images are
small, and a seed makes a failing run reproducible. A large blob written
elsewhere (a benchmark's streamed random layer) can be moved in with
:meth:`ImageLayout.add_blob_file`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ocispec import mediatypes
from ocispec.digest import Digest
from ocispec.manifest import Descriptor

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"


def sha256_digest(data: bytes) -> str:
    return str(Digest.of(data))


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Compact JSON: the exact bytes that get hashed, stored and pushed."""
    return json.dumps(document, separators=(",", ":")).encode()


def platform(architecture: str = "amd64", os: str = "linux",
             variant: str | None = None) -> dict[str, str]:
    """An image-spec platform object (as a config's and an index entry's fields)."""
    value = {"architecture": architecture, "os": os}
    if variant:
        value["variant"] = variant
    return value


@dataclass(frozen=True)
class Layer:
    """A tar+gzip layer: the compressed blob and the digest of the tar inside (its diff_id)."""

    blob: bytes
    diff_id: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.blob)


def tar_gzip_layer(files: Mapping[str, bytes]) -> Layer:
    """A reproducible layer: sorted entries, fixed owner/mode/mtime, gzip without a timestamp."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    raw = tar_bytes.getvalue()
    return Layer(gzip.compress(raw, mtime=0), sha256_digest(raw))


def random_layer(rng: random.Random, *, files: int = 3, file_size: int = 16 << 10,
                 prefix: str = "data") -> Layer:
    """A layer of ``files`` files of random (incompressible) bytes drawn from ``rng``."""
    return tar_gzip_layer({f"{prefix}/file-{i}.bin": rng.randbytes(file_size)
                           for i in range(files)})


@dataclass(frozen=True)
class Image:
    """What :meth:`ImageLayout.add_image` wrote: the manifest and everything it references."""

    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def blob_digests(self) -> set[str]:
        return {str(self.config.digest), *(str(layer.digest) for layer in self.layers)}


@dataclass
class ImageLayout:
    """An OCI image layout directory: ``oci-layout``, ``index.json`` and ``blobs/``.

    Creating one on a missing or empty directory initialises it; on an existing
    layout it reads ``index.json`` so that more images and tags can be added.
    """

    root: Path
    entries: list[Descriptor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        index = self.root / "index.json"
        if index.exists():
            document = json.loads(index.read_text())
            self.entries = [Descriptor.from_json(d, "index.json")
                            for d in document.get("manifests", [])]
            return
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": LAYOUT_VERSION}))
        self._write_index()

    # -- writing ------------------------------------------------------------------------

    def blob_path(self, digest: str | Digest) -> Path:
        algorithm, hex_part = str(digest).split(":", 1)
        return self.root / "blobs" / algorithm / hex_part

    def add_blob(self, data: bytes, media_type: str) -> Descriptor:
        digest = Digest.of(data)
        path = self.blob_path(digest)
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return Descriptor(media_type, digest, len(data))

    def add_blob_file(self, source: Path, media_type: str) -> Descriptor:
        """Move a file written elsewhere (possibly large) into the layout, hashing it streamed."""
        with open(source, "rb") as f:
            digest = Digest("sha256", hashlib.file_digest(f, "sha256").hexdigest())
        size = source.stat().st_size
        shutil.move(source, self.blob_path(digest))
        return Descriptor(media_type, digest, size)

    def add_document(self, document: Mapping[str, Any]) -> Descriptor:
        """Store a manifest or index (its ``mediaType`` names its type)."""
        return self.add_blob(canonical_json(document), document["mediaType"])

    def add_image(self, layers: Sequence[Layer], *, on: Mapping[str, str] = platform(),
                  tag: str | None = None, annotations: Mapping[str, str] | None = None) -> Image:
        """Store layers, a matching config and an OCI image manifest; optionally tag it."""
        layer_descs = tuple(self.add_blob(layer.blob, mediatypes.OCI_LAYER_GZIP)
                            for layer in layers)
        config = self.add_blob(canonical_json({
            **on,
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }), mediatypes.OCI_CONFIG)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [d.to_json() for d in layer_descs],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        desc = self.add_document(manifest)
        if tag:
            self.tag(desc, tag)
        return Image(desc, config, layer_descs)

    def add_index(self, images: Sequence[Image], *, tag: str | None = None) -> Descriptor:
        """Store an OCI image index over ``images`` (each with its own platform)."""
        desc = self.add_document({
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [replace(image.manifest, platform=self.config_platform(image.config))
                          .to_json() for image in images],
        })
        if tag:
            self.tag(desc, tag)
        return desc

    def tag(self, desc: Descriptor, name: str) -> None:
        """Name ``desc`` in index.json (replacing whatever had that name)."""
        self.entries = [e for e in self.entries if (e.annotations or {}).get(REF_NAME) != name]
        self.entries.append(replace(desc, annotations={**(desc.annotations or {}), REF_NAME: name}))
        self._write_index()

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                 "manifests": [e.to_json() for e in self.entries]}
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps(index, indent=2))
        os.replace(tmp, self.root / "index.json")

    # -- reading ------------------------------------------------------------------------

    def read_blob(self, digest: str | Digest) -> bytes:
        return self.blob_path(digest).read_bytes()

    def read_json(self, digest: str | Digest) -> dict[str, Any]:
        return json.loads(self.read_blob(digest))

    def config_platform(self, config: Descriptor) -> dict[str, str]:
        document = self.read_json(config.digest)
        return platform(document["architecture"], document["os"], document.get("variant"))

    def resolve(self, tag: str) -> Descriptor:
        """The descriptor index.json names ``tag``."""
        for entry in self.entries:
            if (entry.annotations or {}).get(REF_NAME) == tag:
                return entry
        raise LookupError(f"{self.root}: no manifest tagged {tag!r}")

    def walk(self, desc: Descriptor) -> Iterator[Descriptor]:
        """``desc`` and every descriptor reachable from it (children of indexes, configs, layers)."""
        yield desc
        if desc.media_type in mediatypes.INDEXES:
            for child in self.read_json(desc.digest)["manifests"]:
                yield from self.walk(Descriptor.from_json(child, str(desc.digest)))
        elif desc.media_type in mediatypes.IMAGE_MANIFESTS:
            document = self.read_json(desc.digest)
            for child in (document["config"], *document["layers"]):
                yield Descriptor.from_json(child, str(desc.digest))

    def reachable_digests(self, tag: str) -> set[str]:
        return {str(d.digest) for d in self.walk(self.resolve(tag))}

    def verify(self, digests: set[str]) -> None:
        """Every listed blob exists and hashes to its name (a layout is only as good as that)."""
        for digest in digests:
            with open(self.blob_path(digest), "rb") as f:
                actual = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
            if actual != digest:
                raise AssertionError(f"{self.root}: blob {digest} hashes to {actual}")


def build_image(root: Path, tag: str, *, layers: int = 3, seed: int = 0) -> Image:
    """A layout at ``root`` holding one multi-layer linux/amd64 image tagged ``tag``."""
    rng = random.Random(seed)
    layout = ImageLayout(root)
    return layout.add_image([random_layer(rng, prefix=f"layer{i}") for i in range(layers)],
                            tag=tag)


def build_index(root: Path, tag: str, platforms: Sequence[Mapping[str, str]], *,
                layers: int = 2, seed: int = 0) -> tuple[Descriptor, list[Image]]:
    """A layout at ``root`` with one image per platform and an index over them tagged ``tag``."""
    rng = random.Random(seed)
    layout = ImageLayout(root)
    images = [layout.add_image([random_layer(rng, prefix=f"{on['architecture']}{i}")
                                for i in range(layers)], on=on)
              for on in platforms]
    return layout.add_index(images, tag=tag), images
