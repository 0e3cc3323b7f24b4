"""``dockyard push``: blobs the registry has are skipped, known ones mounted, indexes whole."""

from __future__ import annotations

import os
from contextlib import aclosing

from ocispec.digest import Digest

from ...helpers.oci_layout import ImageLayout
from .imagekit import add_image, files_layer, manifest_json, multi_platform, publish


async def remote_digest(registry_api, registry: str, repository: str, tag: str) -> Digest:
    descriptor = await registry_api.repository(registry, repository).head_manifest(tag)
    assert descriptor is not None, f"{registry}/{repository}:{tag} is not there"
    return descriptor.digest


async def download(registry_api, registry: str, repository: str, digest: Digest) -> bytes:
    remote = registry_api.repository(registry, repository)
    async with aclosing(remote.iter_blob(digest)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_push_round_trip_keeps_every_byte(cli, dockyard, registry_api, tmp_path):
    layout = ImageLayout(tmp_path / "layout")
    manifest = add_image(layout, [files_layer(a=os.urandom(4000)), files_layer(b=b"b")],
                         docker=True)
    await publish(registry_api, dockyard, "team/source", layout, manifest, "1")
    await cli.ok("pull", f"{dockyard}/team/source:1")
    await cli.ok("tag", f"{dockyard}/team/source:1", f"{dockyard}/team/copy:2")

    result = await cli.ok("push", f"{dockyard}/team/copy:2")

    assert result.lines[0] == f"The push refers to repository [{dockyard}/team/copy]"
    assert result.lines[-1] == f"2: digest: {manifest.digest} size: {manifest.size}"
    for layer in manifest_json(layout, manifest)["layers"]:
        # pulled from team/source, so mounted from there rather than uploaded
        assert f"{Digest.parse(layer['digest']).hex[:12]}: Mounted from team/source" \
            in result.lines
    assert await remote_digest(registry_api, dockyard, "team/copy", "2") == manifest.digest
    for descriptor in layout.walk(manifest):
        assert await download(registry_api, dockyard, "team/copy", descriptor.digest) == \
            layout.read_blob(descriptor.digest)

    again = await cli.ok("push", f"{dockyard}/team/copy:2")
    assert sum(line.endswith(": Layer already exists") for line in again.lines) == 2
    inspected = await cli.ok("inspect", "--format", "{{json .RepoDigests}}",
                             f"{dockyard}/team/copy:2")
    assert inspected.out.strip() == (f'["{dockyard}/team/copy@{manifest.digest}",'
                                     f'"{dockyard}/team/source@{manifest.digest}"]')


async def test_push_uploads_to_a_registry_that_has_nothing(cli, dockyard, registry_api,
                                                           tmp_path, aiohttp_server):
    from registry.app import create_app
    from registry.model import Registry
    from registry.storage.filesystem import FileSystemDriver

    layout = ImageLayout(tmp_path / "layout")
    manifest = add_image(layout, [files_layer(big=os.urandom(20 << 20))], compression=None)
    await publish(registry_api, dockyard, "team/app", layout, manifest, "1")
    await cli.ok("pull", f"{dockyard}/team/app:1")
    driver = FileSystemDriver(str(tmp_path / "other-storage"))
    other = await aiohttp_server(create_app(Registry(driver)))
    target = f"127.0.0.1:{other.port}/elsewhere/app:1"
    await cli.ok("tag", f"{dockyard}/team/app:1", target)
    try:
        result = await cli.ok("push", target)
        layer = Digest.parse(manifest_json(layout, manifest)["layers"][0]["digest"])
        assert f"{layer.hex[:12]}: Pushed" in result.lines  # chunked: larger than one chunk
        assert await remote_digest(registry_api, f"127.0.0.1:{other.port}", "elsewhere/app",
                                   "1") == manifest.digest
    finally:
        await driver.close()


async def test_push_of_an_index_pushes_its_platforms_first(cli, dockyard, registry_api,
                                                           tmp_path):
    layout = ImageLayout(tmp_path / "layout")
    index, manifests = multi_platform(layout)
    await publish(registry_api, dockyard, "team/multi", layout, index, "1")
    await cli.ok("pull", "--all-platforms", f"{dockyard}/team/multi:1")
    await cli.ok("tag", f"{dockyard}/team/multi:1", f"{dockyard}/team/again:1")

    result = await cli.ok("push", f"{dockyard}/team/again:1")

    assert result.lines[-1] == f"1: digest: {index.digest} size: {index.size}"
    remote = registry_api.repository(dockyard, "team/again")
    for manifest in manifests.values():
        assert (await remote.head_manifest(str(manifest.digest))).digest == manifest.digest
    assert await remote_digest(registry_api, dockyard, "team/again", "1") == index.digest


async def test_push_needs_a_local_image(cli, dockyard):
    result = await cli("push", f"{dockyard}/team/none:1")
    assert (result.code, result.err) == (
        1, f"Error: An image does not exist locally with the tag: {dockyard}/team/none:1\n")
