"""The local-image commands: images, tag, rmi, inspect, save, load, image prune, system df."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from client.store import ImageStore
from ocispec.reference import Reference

from ..layerkit import entry, put_image, tar_bytes

@pytest.fixture
async def images(cli):
    """Two images in the store: busybox (tagged twice) and a much larger app."""
    store = await ImageStore.open(cli.root)
    box = await asyncio.to_thread(put_image, store, [tar_bytes(entry("bin/sh", data=b"#!"))],
                                  "gzip", "box")
    app = await asyncio.to_thread(put_image, store, [tar_bytes(entry("app", data=bytes(3000)))],
                                  None, "app")
    await store.tag(Reference.parse("busybox"), box)
    await store.tag(Reference.parse("localhost:5000/team/box:1.0"), box)
    await store.tag(Reference.parse("localhost:5000/team/app:v2"), app)
    return store, box, app


async def config_digest(store: ImageStore, manifest) -> str:
    return str((await store.manifest(manifest)).config.digest)


async def test_images_prints_an_aligned_table(cli, images):
    store, box, app = images
    result = await cli.ok("images")
    header, *rows = result.lines
    assert re.fullmatch(r"REPOSITORY +TAG +IMAGE ID +CREATED +SIZE", header)
    for column in ("TAG", "IMAGE ID", "CREATED", "SIZE"):  # every row starts each column here
        start = header.index(column)
        assert all(row[start - 1] == " " and row[start] != " " for row in rows)
    box_id = (await config_digest(store, box)).removeprefix("sha256:")[:12]
    assert any(re.fullmatch(rf"busybox +latest +{box_id} +\d+ years? ago +\d+(\.\d+)?[kM]?B", r)
               for r in rows), rows
    assert len(rows) == 3


async def test_images_formats(cli, images):
    store, box, app = images
    quiet = await cli.ok("images", "-q")
    assert len(quiet.lines) == 2  # one line per image, not per tag
    as_json = [json.loads(line) for line in (await cli.ok("images", "--format", "json")).lines]
    assert {(i["Repository"], i["Tag"]) for i in as_json} == {
        ("busybox", "latest"), ("localhost:5000/team/box", "1.0"),
        ("localhost:5000/team/app", "v2")}
    assert {"ID", "Size", "CreatedSince", "CreatedAt", "Digest"} <= set(as_json[0])
    template = await cli.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox")
    assert template.out == "busybox:latest\n"
    table = await cli.ok("images", "--format", "table {{.Repository}}\\t{{.Tag}}",
                         "localhost:5000/team/app")
    assert table.lines == ["REPOSITORY                TAG", "localhost:5000/team/app   v2"]
    bad = await cli("images", "--format", "{{range .}}")
    assert bad.code == 1 and bad.err.startswith("Error: unsupported format template")


async def test_tag_inspect_and_rmi(cli, images):
    store, box, app = images
    box_id = await config_digest(store, box)
    await cli.ok("tag", box_id.removeprefix("sha256:")[:8], "mine/box:edge")
    [described] = json.loads((await cli.ok("inspect", "mine/box:edge")).out)
    assert described["Id"] == box_id
    assert sorted(described["RepoTags"]) == ["busybox:latest", "localhost:5000/team/box:1.0",
                                             "mine/box:edge"]
    assert (described["Os"], described["Architecture"]) == ("linux", "amd64")
    assert described["RootFS"]["Type"] == "layers" and len(described["RootFS"]["Layers"]) == 1
    assert (await cli.ok("inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox")).out == \
        "linux/amd64\n"

    refused = await cli("rmi", box_id)  # three tags: only with -f
    assert refused.code == 1 and "must be forced" in refused.err
    untag = await cli.ok("rmi", "busybox")
    assert untag.lines == ["Untagged: busybox:latest"]
    gone = await cli.ok("rmi", "-f", box_id)
    assert sorted(gone.lines) == ["Deleted: " + box_id, "Untagged: localhost:5000/team/box:1.0",
                                  "Untagged: mine/box:edge"]
    assert not store.blobs.has(box.digest) and store.blobs.has(app.digest)
    missing = await cli("rmi", "nothing", "localhost:5000/team/app:v2")
    assert missing.code == 1 and missing.err == "Error: no such image: nothing:latest\n"
    assert missing.lines[0] == "Untagged: localhost:5000/team/app:v2"  # the others still go


async def test_save_and_load_round_trip(cli, images, tmp_path):
    store, box, app = images
    for format in ("docker", "oci"):
        archive = tmp_path / f"images-{format}.tar"
        await cli.ok("save", "--format", format, "-o", str(archive), "busybox",
                     "localhost:5000/team/app:v2")
        other = type(cli)(tmp_path / f"other-{format}", cli._capsys)
        loaded = await other.ok("load", "-i", str(archive))
        assert sorted(loaded.lines) == ["Loaded image: busybox:latest",
                                        "Loaded image: localhost:5000/team/app:v2"]
        restored = await ImageStore.open(other.root)
        assert (await restored.resolve(Reference.parse("busybox"))).digest == box.digest
        assert len(restored.layers.chain_ids()) == 2  # unpacked, ready to run
    refused = await cli("save", "nothing", "-o", str(tmp_path / "none.tar"))
    assert refused.code == 1 and not (tmp_path / "none.tar").exists()


async def test_image_group_prune_and_df(cli, images):
    store, box, app = images
    listed = await cli.ok("image", "ls")
    assert listed.out == (await cli.ok("images")).out
    await cli.ok("image", "tag", "busybox", "localhost:5000/team/app:v2")  # app: dangling
    df = await cli.ok("system", "df")
    assert re.fullmatch(r"Images +2 +1 +\S+B +\S+B \(\d+%\)", df.lines[1])  # app is dangling
    pruned = await cli.ok("image", "prune", "-f")
    assert pruned.lines[:2] == ["Deleted Images:", f"deleted: {app.digest}"]
    assert pruned.lines[-1].startswith("Total reclaimed space: ")
    everything = await cli.ok("image", "prune", "-a", "-f")
    assert "untagged: busybox:latest" in everything.lines
    assert await store.images() == [] and list(store.blobs.digests()) == []


async def test_prune_keeps_dangling_images_that_containers_use(cli, images):
    store, box, app = images
    await cli.ok("create", "--name", "user-of-app", "localhost:5000/team/app:v2", "/app")
    await cli.ok("tag", "busybox", "localhost:5000/team/app:v2")  # app: dangling, yet in use
    pruned = await cli.ok("image", "prune", "-f")
    assert "Deleted Images:" not in pruned.out
    assert app.digest in [image.digest for image in await store.images()]
    pruned = await cli.ok("image", "prune", "-a", "-f")
    assert app.digest in [image.digest for image in await store.images()]

    await cli.ok("rm", "user-of-app")
    pruned = await cli.ok("image", "prune", "-f")
    assert pruned.lines[:2] == ["Deleted Images:", f"deleted: {app.digest}"]
