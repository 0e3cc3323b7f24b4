"""Test content for registry benchmarks: random blobs, OCI layouts, pushes over the API.

The data is random so that no layer of the stack (gzip, page-cache dedup, a
registry's own content addressing) can make one registry look faster by
recognising it; images are real (tar layers, gzip streams, configs with diff_ids)
so that real clients such as skopeo accept them without converting anything.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ocispec import mediatypes

from .common import expect, http_request

CHUNK = 4 << 20


@dataclass(frozen=True)
class Blob:
    """A blob on disk (``path``) or in memory (``data``) with its digest and size."""

    digest: str
    size: int
    media_type: str = "application/octet-stream"
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, data: bytes, media_type: str = "application/octet-stream") -> "Blob":
        return cls("sha256:" + hashlib.sha256(data).hexdigest(), len(data), media_type, data=data)

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class _RandomReader:
    """A read-only file of ``size`` random bytes, produced as it is read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def random_file(path: Path, size: int) -> Blob:
    """Write ``size`` random bytes to ``path`` in chunks, hashing on the way."""
    with open(path, "wb") as out:
        writer = _HashingWriter(out)
        source = _RandomReader(size)
        while chunk := source.read(CHUNK):
            writer.write(chunk)
    return Blob(writer.digest, size, path=path)


def tar_gzip_layer(path: Path, add: Callable[[tarfile.TarFile], None],
                   compresslevel: int) -> tuple[Blob, str]:
    """Write at ``path`` a gzip'd tar whose members ``add`` puts in; the blob and its diff_id."""
    with open(path, "wb") as out:
        compressed = _HashingWriter(out)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=compresslevel,
                           mtime=0) as gz:
            uncompressed = _HashingWriter(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                add(tar)
    return (Blob(compressed.digest, compressed.size, mediatypes.OCI_LAYER_GZIP, path=path),
            uncompressed.digest)


def _random_layer(path: Path, size: int, name: str) -> tuple[Blob, str]:
    """A gzip'd tar holding one file of random data; returns the blob and its diff_id.

    gzip level 0 ("stored") keeps building fast while the stream stays a valid
    tar+gzip layer, so clients copy it as is instead of recompressing it.
    """
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        tar.addfile(info, _RandomReader(size))

    return tar_gzip_layer(path, add, compresslevel=0)


def image_manifest(config: Blob, layers: list[Blob]) -> Blob:
    """An OCI image manifest over ``config`` and ``layers``, as the bytes that get pushed."""
    manifest = {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                "config": config.descriptor(), "layers": [layer.descriptor() for layer in layers]}
    return Blob.of(json.dumps(manifest, separators=(",", ":")).encode(), mediatypes.OCI_MANIFEST)


def image_config(diff_ids: list[str]) -> Blob:
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return Blob.of(json.dumps(config, separators=(",", ":")).encode(), mediatypes.OCI_CONFIG)


def oci_layout(root: Path, layers: int, total_bytes: int, tag: str = "latest") -> Blob:
    """Build an OCI image layout at ``root`` with ``layers`` random layers; return its manifest."""
    return layout_of(root, [lambda path, i=i: _random_layer(path, total_bytes // layers,
                                                            f"layer-{i}.bin")
                            for i in range(layers)], tag)


def layout_of(root: Path, layers: Sequence[Callable[[Path], tuple[Blob, str]]],
              tag: str = "latest") -> Blob:
    """An OCI layout at ``root`` of one image whose layers the ``layers`` functions write
    (each given a path, returning the blob and its diff_id); returns the manifest."""
    blobs_dir = root / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True)
    layer_blobs, diff_ids = [], []
    for i, write in enumerate(layers):
        tmp = blobs_dir / f"tmp-{i}"
        blob, diff_id = write(tmp)
        final = blobs_dir / blob.digest.split(":", 1)[1]
        tmp.rename(final)
        layer_blobs.append(Blob(blob.digest, blob.size, blob.media_type, path=final))
        diff_ids.append(diff_id)
    config = image_config(diff_ids)
    manifest = image_manifest(config, layer_blobs)
    for blob in (config, manifest):
        (blobs_dir / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
             "manifests": [{**manifest.descriptor(),
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest


def layout_manifest_digest(root: Path, tag: str = "latest") -> str:
    """The digest an OCI layout's index gives for ``tag`` (to check a pull round trip)."""
    index = json.loads((root / "index.json").read_text())
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return desc["digest"]
    raise LookupError(f"{root}: no manifest tagged {tag!r}")


# --- pushing over the distribution API ---------------------------------------------------


def push_blob(base_url: str, repo: str, blob: Blob) -> None:
    """Monolithic push (POST a session, PUT ?digest= with the whole body, streamed from disk)."""
    started = expect(http_request("POST", f"{base_url}/v2/{repo}/blobs/uploads/",
                                  headers={"Content-Length": "0"}), 202, f"start upload to {repo}")
    location = urllib.parse.urljoin(base_url + "/", started.headers["Location"])
    separator = "&" if urllib.parse.urlsplit(location).query else "?"
    url = f"{location}{separator}digest={urllib.parse.quote(blob.digest)}"
    headers = {"Content-Length": str(blob.size), "Content-Type": "application/octet-stream"}
    if blob.data is not None:
        resp = http_request("PUT", url, blob.data, headers)
    else:
        with open(blob.path, "rb") as body:
            resp = http_request("PUT", url, body, headers)
    expect(resp, 201, f"finish upload of {blob.digest} to {repo}")


def push_manifest(base_url: str, repo: str, reference: str, manifest: Blob) -> None:
    resp = http_request("PUT", f"{base_url}/v2/{repo}/manifests/{reference}", manifest.data,
                        {"Content-Type": manifest.media_type})
    expect(resp, 201, f"put manifest {repo}:{reference}")


def push_small_image(base_url: str, repo: str, tag: str) -> Blob:
    """Push a config, one small layer and a manifest tagged ``tag``; return the manifest."""
    content = os.urandom(4096)
    layer = Blob.of(gzip.compress(content, mtime=0), mediatypes.OCI_LAYER_GZIP)
    config = image_config(["sha256:" + hashlib.sha256(content).hexdigest()])
    for blob in (config, layer):
        push_blob(base_url, repo, blob)
    manifest = image_manifest(config, [layer])
    push_manifest(base_url, repo, tag, manifest)
    return manifest
