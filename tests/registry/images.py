"""Building and pushing small images for the manifest, tag, catalog and referrers tests.

Blobs go straight into the model (the upload API is tested elsewhere);
manifests go through the HTTP API, since that is what these tests are about.
"""

from __future__ import annotations

import json
from typing import Any

from ocispec import mediatypes as mt
from ocispec.digest import Digest
from registry.model import Registry

CONFIG_TYPES = {mt.OCI_MANIFEST: mt.OCI_CONFIG, mt.DOCKER_MANIFEST: mt.DOCKER_CONFIG}
LAYER_TYPES = {mt.OCI_MANIFEST: mt.OCI_LAYER_GZIP, mt.DOCKER_MANIFEST: mt.DOCKER_LAYER_GZIP}


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def encode(document: dict[str, Any]) -> bytes:
    """Deliberately unusual formatting: the registry must keep the bytes as sent."""
    return json.dumps(document, indent=3, sort_keys=False).encode()


async def add_blob(registry: Registry, name: str, data: bytes) -> None:
    digest = await registry.blob_store.put(data)
    await registry.repository(name).blobs.link(digest)


async def image(registry: Registry, name: str, media_type: str = mt.OCI_MANIFEST, *,
                seed: str = "a", subject: dict[str, Any] | None = None,
                artifact_type: str | None = None, config_type: str | None = None,
                annotations: dict[str, str] | None = None) -> bytes:
    """An image manifest whose config and layer are already in repository ``name``."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer {seed}".encode()
    await add_blob(registry, name, config)
    await add_blob(registry, name, layer)
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type or CONFIG_TYPES[media_type], config),
        "layers": [descriptor(LAYER_TYPES[media_type], layer)],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if subject:
        document["subject"] = subject
    if annotations:
        document["annotations"] = annotations
    return encode(document)


def index(children: list[tuple[bytes, str, dict[str, str]]],
          media_type: str = mt.OCI_INDEX, **extra: Any) -> bytes:
    """An index of (manifest bytes, media type, platform) children."""
    return encode({"schemaVersion": 2, "mediaType": media_type,
                   "manifests": [descriptor(child_type, data, platform=platform)
                                 for data, child_type, platform in children], **extra})


async def push(client, name: str, reference: str, data: bytes,
               media_type: str = mt.OCI_MANIFEST, expect: int = 201):
    """PUT a manifest; checks the status and returns the response."""
    response = await client.put(f"/v2/{name}/manifests/{reference}", data=data,
                                headers={"Content-Type": media_type})
    assert response.status == expect, await response.text()
    return response


async def error_code(response) -> str:
    return (await response.json())["errors"][0]["code"]
