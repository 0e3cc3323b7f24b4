"""Blobs, uploads, manifests, tags and catalog against the real Dockyard registry."""

from __future__ import annotations

import json
import os
from contextlib import aclosing

import pytest
from aiohttp import web

from client.transport import NotFoundError, RegistryClient, RegistryError
from ocispec import mediatypes as mt
from ocispec.digest import Digest


async def upload(client: RegistryClient, registry: str, repo: str, data: bytes,
                 **kwargs) -> tuple[Digest, str]:
    digest = Digest.of(data)
    how = await client.repository(registry, repo).upload_blob(digest, len(data), data, **kwargs)
    return digest, how


async def download(client: RegistryClient, registry: str, repo: str, digest: Digest) -> bytes:
    async with aclosing(client.repository(registry, repo).iter_blob(digest)) as chunks:
        return b"".join([chunk async for chunk in chunks])


def manifest_for(config: Digest, config_size: int, layer: Digest, layer_size: int) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config), "size": config_size},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": str(layer), "size": layer_size}],
    }).encode()


async def push_image(client: RegistryClient, registry: str, repo: str, *tags: str) -> Digest:
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(1000)
    config_digest, _ = await upload(client, registry, repo, config)
    layer_digest, _ = await upload(client, registry, repo, layer)
    data = manifest_for(config_digest, len(config), layer_digest, len(layer))
    remote = client.repository(registry, repo)
    digests = {await remote.put_manifest(tag, data, mt.OCI_MANIFEST) for tag in tags}
    assert digests == {Digest.of(data)}
    return Digest.of(data)


async def test_monolithic_upload_and_download(dockyard, registry_client):
    data = os.urandom(5 << 20)  # larger than any reply the client reads whole
    digest, how = await upload(registry_client, dockyard, "team/app", data)
    assert how == "uploaded"
    repo = registry_client.repository(dockyard, "team/app")
    assert await repo.blob_size(digest) == len(data)
    assert await download(registry_client, dockyard, "team/app", digest) == data
    assert await repo.blob_size(Digest.of(b"missing")) is None


async def test_chunked_upload_from_a_file(dockyard, registry_client, tmp_path):
    data = os.urandom(200_001)
    path = tmp_path / "blob"
    path.write_bytes(data)
    digest = Digest.of(data)
    repo = registry_client.repository(dockyard, "team/app")
    assert await repo.upload_blob(digest, len(data), path, chunk_size=64 << 10) == "uploaded"
    assert await download(registry_client, dockyard, "team/app", digest) == data


async def test_cross_repository_mount(dockyard, registry_client):
    data = os.urandom(5000)
    digest, _ = await upload(registry_client, dockyard, "team/base", data)
    _, how = await upload(registry_client, dockyard, "team/app", data,
                          mount_from=["team/base"])
    assert how == "mounted"
    assert await registry_client.repository(dockyard, "team/app").blob_size(digest) == len(data)


async def test_mount_falls_back_to_upload(dockyard, registry_client):
    _, how = await upload(registry_client, dockyard, "team/app", os.urandom(10),
                          mount_from=["team/nowhere"])
    assert how == "uploaded"


async def test_upload_of_wrong_content_is_refused(dockyard, registry_client):
    repo = registry_client.repository(dockyard, "team/app")
    with pytest.raises(RegistryError) as caught:
        await repo.upload_blob(Digest.of(b"this"), 4, b"that")
    assert caught.value.code == "DIGEST_INVALID"


async def test_manifest_round_trip(dockyard, registry_client):
    digest = await push_image(registry_client, dockyard, "team/app", "v1")
    repo = registry_client.repository(dockyard, "team/app")
    by_tag = await repo.get_manifest("v1")
    assert (by_tag.digest, by_tag.media_type) == (digest, mt.OCI_MANIFEST)
    assert len(by_tag.manifest.layers) == 1
    by_digest = await repo.get_manifest(str(digest))
    assert by_digest.data == by_tag.data
    head = await repo.head_manifest("v1")
    assert head == by_tag.descriptor
    assert await repo.head_manifest("nope") is None


async def test_unknown_manifest_is_one_clear_error(dockyard, registry_client):
    with pytest.raises(NotFoundError) as caught:
        await registry_client.repository(dockyard, "team/app").get_manifest("nope")
    assert caught.value.code == "MANIFEST_UNKNOWN"
    assert "\n" not in str(caught.value) and str(caught.value).startswith(dockyard)


async def test_tags_and_catalog_follow_pagination(dockyard, registry_client):
    tags = ["a", "b", "c", "d", "e"]
    await push_image(registry_client, dockyard, "team/app", *tags)
    await push_image(registry_client, dockyard, "team/other", "v1")
    assert await registry_client.repository(dockyard, "team/app").list_tags(page_size=2) == tags
    assert await registry_client.catalog(dockyard, page_size=1) == ["team/app", "team/other"]


async def test_manifest_not_matching_its_digest_is_refused(aiohttp_server, registry_client):
    served = b'{"schemaVersion": 2, "mediaType": "%s", "manifests": []}' % mt.OCI_INDEX.encode()
    wanted = Digest.of(b"something else")

    async def manifest(request: web.Request) -> web.Response:
        return web.Response(body=served, content_type=mt.OCI_INDEX)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v2/", ping)
    app.router.add_get("/v2/app/manifests/{reference}", manifest)
    server = await aiohttp_server(app)
    repo = registry_client.repository(f"127.0.0.1:{server.port}", "app")
    with pytest.raises(RegistryError, match="expected " + str(wanted)):
        await repo.get_manifest(str(wanted))
    assert (await repo.get_manifest("latest")).digest == Digest.of(served)
