"""Building layer tars and images in memory, for the store and unpacking tests."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from client.layers.compression import zstd
from client.store import ImageStore
from ocispec import mediatypes as mt
from ocispec.digest import Digest
from ocispec.manifest import Descriptor

MTIME = 1_600_000_000


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields) -> tuple:
    """A tar member: ``fields`` set TarInfo attributes (mode, uid, linkname, pax_headers...)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
    return info, data


def tar_bytes(*entries: tuple) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def compress(data: bytes, kind: str | None) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zstd":
        return zstd.compress(data)
    return data


LAYER_TYPES = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, None: mt.OCI_LAYER}


def put_image(store: ImageStore, layers: list[bytes], compression: str | None = "gzip",
              label: str = "") -> Descriptor:
    """Write an OCI image of uncompressed ``layers`` into the store (blocking); its descriptor.

    ``label`` makes the config (and so the image) distinct from others with the same layers.
    """
    layer_descriptors = []
    for layer in layers:
        blob = compress(layer, compression)
        digest = store.blobs.put(blob)
        layer_descriptors.append({"mediaType": LAYER_TYPES[compression], "digest": str(digest),
                                  "size": len(blob)})
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {"Labels": {"test": label}},
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(layer)) for layer in layers]},
    }).encode()
    config_digest = store.blobs.put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest), "size": len(config)},
        "layers": layer_descriptors,
    }).encode()
    return Descriptor(mt.OCI_MANIFEST, store.blobs.put(manifest), len(manifest))
