"""Images for the command tests: any mix of media types, published over the registry API.

``tests.helpers.oci_layout`` makes OCI gzip images; pull must also take
Docker schema 2 manifests and zstd or uncompressed layers, so images here
choose their manifest flavour and their layers' compression.  They are
written to an ``ImageLayout`` (the format skopeo reads too) and published
with the transport's plain API calls, independent of the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from client.transport import RegistryClient
from ocispec import mediatypes as mt
from ocispec.digest import Digest
from ocispec.manifest import Descriptor

from ...helpers.oci_layout import ImageLayout, canonical_json, platform
from ..layerkit import compress, entry, tar_bytes

OCI_LAYER_TYPES = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, None: mt.OCI_LAYER}
CREATED = "2024-01-02T03:04:05Z"


def files_layer(**files: bytes) -> bytes:
    """An uncompressed layer tar holding ``files`` (keyword ``a_b`` names ``a/b``)."""
    return tar_bytes(*(entry(name.replace("__", "/"), data=data) for name, data in files.items()))


def add_image(layout: ImageLayout, layers: Sequence[bytes], *, compression: str | None = "gzip",
              docker: bool = False, on: dict[str, str] | None = None,
              tag: str | None = None) -> Descriptor:
    """An image of the uncompressed tars ``layers``; Docker schema 2 if ``docker``."""
    if docker and compression != "gzip":
        raise ValueError("Docker schema 2 layers are gzip'd")
    layer_type = mt.DOCKER_LAYER_GZIP if docker else OCI_LAYER_TYPES[compression]
    descriptors = [layout.add_blob(compress(layer, compression), layer_type) for layer in layers]
    config = layout.add_blob(canonical_json({
        **(on or platform()), "created": CREATED, "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(layer)) for layer in layers]},
    }), mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG)
    manifest = layout.add_document({
        "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        "config": config.to_json(), "layers": [d.to_json() for d in descriptors]})
    if tag:
        layout.tag(manifest, tag)
    return manifest


def add_index(layout: ImageLayout, manifests: Sequence[Descriptor], platforms: Sequence[dict],
              *, docker: bool = False, tag: str | None = None) -> Descriptor:
    entries: list[dict[str, Any]] = [
        {**m.to_json(), "platform": on} for m, on in zip(manifests, platforms)]
    index = layout.add_document({"schemaVersion": 2, "manifests": entries,
                                 "mediaType": mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX})
    if tag:
        layout.tag(index, tag)
    return index


def multi_platform(layout: ImageLayout, *, docker: bool = False, tag: str | None = None,
                   ) -> tuple[Descriptor, dict[str, Descriptor]]:
    """An index over amd64, arm64 and arm/v7 images; the index and each platform's manifest."""
    platforms = {"amd64": platform("amd64"), "arm64": platform("arm64", variant="v8"),
                 "arm/v7": platform("arm", variant="v7")}
    manifests = {name: add_image(layout, [files_layer(arch=name.encode())], docker=docker, on=on)
                 for name, on in platforms.items()}
    return add_index(layout, list(manifests.values()), list(platforms.values()),
                     docker=docker, tag=tag), manifests


async def publish(client: RegistryClient, registry: str, repository: str,
                  layout: ImageLayout, root: Descriptor, tag: str) -> None:
    """Upload ``root`` and everything it references; children before parents."""
    remote = client.repository(registry, repository)
    for descriptor in reversed(list(layout.walk(root))):
        data = layout.read_blob(descriptor.digest)
        if descriptor.media_type in mt.MANIFESTS:
            reference = tag if descriptor.digest == root.digest else str(descriptor.digest)
            await remote.put_manifest(reference, data, descriptor.media_type)
        elif await remote.blob_size(descriptor.digest) is None:
            await remote.upload_blob(descriptor.digest, len(data), data)


def manifest_json(layout: ImageLayout, descriptor: Descriptor) -> dict[str, Any]:
    return json.loads(layout.read_blob(descriptor.digest))
