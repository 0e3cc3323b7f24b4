"""``dockyard pull`` against the Dockyard registry: media types, platforms, faults, output."""

from __future__ import annotations

import os

import pytest

from client.layers import chain_ids
from client.localimages import platform_manifest
from client.store import ImageStore
from client.store.graph import diff_ids
from ocispec.digest import Digest
from ocispec.reference import Reference

from ...helpers.oci_layout import ImageLayout
from .imagekit import add_image, files_layer, manifest_json, multi_platform, publish


@pytest.fixture
def layout(tmp_path) -> ImageLayout:
    return ImageLayout(tmp_path / "layout")


async def stored(cli) -> ImageStore:
    return await ImageStore.open(cli.root)


async def assert_ready(cli, reference: str, layout: ImageLayout, manifest) -> None:
    """The store names ``manifest`` by ``reference``, holds its blobs and has it unpacked."""
    store = await stored(cli)
    entry = await store.resolve(Reference.parse(reference))
    assert entry.digest == manifest.digest
    for descriptor in layout.walk(manifest):
        assert store.blobs.read(descriptor.digest) == layout.read_blob(descriptor.digest)
    for layer in await store.unpack(entry):  # already unpacked: this only looks them up
        assert layer.path.is_dir()


@pytest.mark.parametrize("compression,docker", [
    ("gzip", False), ("zstd", False), (None, False), ("gzip", True)],
    ids=["oci-gzip", "oci-zstd", "oci-uncompressed", "docker-schema2"])
async def test_pull_makes_the_image_ready_to_run(cli, dockyard, registry_api, layout,
                                                 compression, docker):
    layers = [files_layer(etc__hostname=b"box"), files_layer(bin__tool=os.urandom(3000))]
    manifest = add_image(layout, layers, compression=compression, docker=docker)
    await publish(registry_api, dockyard, "team/app", layout, manifest, "v1")

    result = await cli.ok("pull", f"{dockyard}/team/app:v1")

    await assert_ready(cli, f"{dockyard}/team/app:v1", layout, manifest)
    store = await stored(cli)
    [bottom, top] = await store.unpack(await store.resolve(Reference.parse(f"{dockyard}/team/app:v1")))
    assert (bottom.path / "etc" / "hostname").read_bytes() == b"box"
    assert result.lines[0] == "v1: Pulling from team/app"
    assert result.lines[-3:] == [f"Digest: {manifest.digest}",
                                 f"Status: Downloaded newer image for {dockyard}/team/app:v1",
                                 f"{dockyard}/team/app:v1"]
    for layer in manifest_json(layout, manifest)["layers"]:
        short = Digest.parse(layer["digest"]).hex[:12]
        assert f"{short}: Pull complete" in result.lines
        assert f"{short}: Downloading" not in result.out  # byte counts are for terminals


async def test_a_second_pull_is_up_to_date_and_shares_layers(cli, dockyard, registry_api,
                                                             layout):
    base = files_layer(etc__os=b"base")
    first = add_image(layout, [base])
    second = add_image(layout, [base, files_layer(app=b"app")])
    await publish(registry_api, dockyard, "team/base", layout, first, "1")
    await publish(registry_api, dockyard, "team/app", layout, second, "1")
    await cli.ok("pull", f"{dockyard}/team/base:1")

    again = await cli.ok("pull", f"{dockyard}/team/base:1")
    assert again.lines[-2] == f"Status: Image is up to date for {dockyard}/team/base:1"
    shared = await cli.ok("pull", f"{dockyard}/team/app:1")
    base_id = Digest.parse(manifest_json(layout, first)["layers"][0]["digest"]).hex[:12]
    assert f"{base_id}: Already exists" in shared.lines
    assert shared.lines[-2].startswith("Status: Downloaded newer image")


async def test_pull_picks_the_platform_from_an_index(cli, dockyard, registry_api, layout):
    index, manifests = multi_platform(layout, docker=True)
    await publish(registry_api, dockyard, "team/multi", layout, index, "latest")

    result = await cli.ok("pull", "--platform", "linux/arm64", f"{dockyard}/team/multi")
    assert result.lines[-3] == f"Digest: {index.digest}"  # the registry's name for the tag
    await assert_ready(cli, f"{dockyard}/team/multi", layout, manifests["arm64"])
    await cli.ok("pull", "--platform", "linux/arm", f"{dockyard}/team/multi")
    await assert_ready(cli, f"{dockyard}/team/multi", layout, manifests["arm/v7"])
    await cli.ok("pull", f"{dockyard}/team/multi")  # this machine: amd64
    await assert_ready(cli, f"{dockyard}/team/multi", layout, manifests["amd64"])

    missing = await cli("pull", "--platform", "linux/s390x", f"{dockyard}/team/multi")
    assert missing.code == 1
    assert missing.err == ("Error: no matching manifest for linux/s390x in the manifest list "
                           "entries\n")


async def test_pull_all_platforms_keeps_the_index(cli, dockyard, registry_api, layout):
    index, manifests = multi_platform(layout)
    await publish(registry_api, dockyard, "team/multi", layout, index, "1")
    await cli.ok("pull", "--all-platforms", f"{dockyard}/team/multi:1")
    store = await stored(cli)
    entry = await store.resolve(Reference.parse(f"{dockyard}/team/multi:1"))
    assert entry.digest == index.digest
    for descriptor in layout.walk(index):
        assert store.blobs.read(descriptor.digest) == layout.read_blob(descriptor.digest)
    host = await platform_manifest(store, entry)
    assert host.digest == manifests["amd64"].digest
    chain = chain_ids(diff_ids(await store.config(host)))
    assert sorted(store.layers.chain_ids(), key=str) == sorted(chain, key=str)  # only the host's


async def test_pull_by_digest_and_all_tags(cli, dockyard, registry_api, layout):
    manifest = add_image(layout, [files_layer(a=b"a")])
    for tag in ("1", "2"):
        await publish(registry_api, dockyard, "team/app", layout, manifest, tag)
    pinned = f"{dockyard}/team/app@{manifest.digest}"
    result = await cli.ok("pull", "-q", pinned)
    assert result.out == f"{pinned}\n"
    await assert_ready(cli, pinned, layout, manifest)

    everything = await cli.ok("pull", "--all-tags", "-q", f"{dockyard}/team/app")
    assert everything.lines == [f"{dockyard}/team/app:1", f"{dockyard}/team/app:2"]


async def test_pull_resumes_a_dropped_download(cli, dockyard, faulty, faults, registry_api,
                                               layout):
    layer = files_layer(big=os.urandom(3 << 20))
    manifest = add_image(layout, [layer], compression=None)
    await publish(registry_api, dockyard, "team/app", layout, manifest, "1")
    digest = manifest_json(layout, manifest)["layers"][0]["digest"]
    faults.blobs[digest] = layout.read_blob(digest)
    faults.drop_after[digest] = 1 << 20

    await cli.ok("pull", f"{faulty}/team/app:1")

    assert faults.ranges == [f"bytes={1 << 20}-"]  # picked up where it broke, not from zero
    await assert_ready(cli, f"{faulty}/team/app:1", layout, manifest)


async def test_a_failed_pull_leaves_its_bytes_for_the_next(cli, dockyard, faulty, faults,
                                                           registry_api, layout):
    manifest = add_image(layout, [files_layer(big=os.urandom(2 << 20))], compression=None)
    await publish(registry_api, dockyard, "team/app", layout, manifest, "1")
    digest = manifest_json(layout, manifest)["layers"][0]["digest"]
    faults.blobs[digest] = layout.read_blob(digest)
    faults.drop_after[digest] = 700_000
    faults.fail_resumes = True

    failed = await cli("pull", f"{faulty}/team/app:1")
    assert failed.code == 1 and failed.err.startswith("Error: ")
    assert len(failed.err.splitlines()) == 1

    faults.drop_after.clear()
    faults.ranges.clear()
    await cli.ok("pull", f"{faulty}/team/app:1")
    assert faults.ranges == ["bytes=700000-"]
    await assert_ready(cli, f"{faulty}/team/app:1", layout, manifest)


async def test_pull_retries_429_and_503(cli, dockyard, faulty, faults, registry_api, layout):
    manifest = add_image(layout, [files_layer(a=b"a")])
    await publish(registry_api, dockyard, "team/app", layout, manifest, "1")
    faults.refuse = [429, 503, 503]
    await cli.ok("pull", f"{faulty}/team/app:1")
    assert faults.refused == 3
    await assert_ready(cli, f"{faulty}/team/app:1", layout, manifest)


async def test_a_digest_mismatch_keeps_nothing(cli, dockyard, faulty, faults, registry_api,
                                               layout):
    manifest = add_image(layout, [files_layer(a=os.urandom(5000))])
    await publish(registry_api, dockyard, "team/app", layout, manifest, "1")
    digest = manifest_json(layout, manifest)["layers"][0]["digest"]
    faults.blobs[digest] = layout.read_blob(digest)
    faults.corrupt.add(digest)

    result = await cli("pull", f"{faulty}/team/app:1")

    assert result.code == 1
    assert result.err.startswith(f"Error: blob {digest}: content has digest sha256:")
    store = await stored(cli)
    assert not store.blobs.has(Digest.parse(digest))
    assert os.listdir(store.blobs.ingest_dir) == []
    assert store.layers.chain_ids() == [] and await store.images() == []


async def test_errors_are_one_line(cli, dockyard):
    invalid = await cli("pull", "Team/App")
    assert (invalid.code, invalid.err) == (
        1, "Error: invalid reference 'Team/App': repository name must be lowercase\n")
    unknown = await cli("pull", f"{dockyard}/team/nothing:1")
    assert unknown.code == 1 and len(unknown.err.splitlines()) == 1
    assert "manifest unknown" in unknown.err.lower()
    platform = await cli("pull", "--platform", "linux", f"{dockyard}/team/nothing")
    assert platform.err == "Error: invalid platform 'linux': expected os/arch[/variant]\n"


async def test_a_hostile_layer_fails_the_pull_while_streaming(cli, dockyard, registry_api,
                                                              layout):
    """The unpacker reads the download as it arrives; refusing it ends the pull, cleanly."""
    from ..layerkit import entry, tar_bytes

    evil = tar_bytes(entry("../escaped", data=b"x"), entry("big", data=os.urandom(1 << 20)))
    manifest = add_image(layout, [files_layer(ok=b"ok"), evil])
    await publish(registry_api, dockyard, "team/evil", layout, manifest, "1")

    result = await cli("pull", f"{dockyard}/team/evil:1")

    assert result.code == 1 and len(result.err.splitlines()) == 1
    assert "path leaves the layer" in result.err
    store = await stored(cli)
    assert all(not name.startswith(".tmp-") for name in os.listdir(store.layers.root))
    assert await store.images() == []
    assert not (cli.root.parent / "escaped").exists()
