"""``dockyard sync`` between two Dockyard registries: full and incremental copies, indexes,
tag patterns, sync files, token auth at the source, and failures."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys

import pytest

from bench.common import REPO_ROOT
from client.credentials import Credentials
from client.transport import RegistryClient
from ocispec import mediatypes as mt
from ocispec.digest import Digest

from ...helpers.fake_hub import FakeHub
from ...helpers.oci_layout import ImageLayout
from ...registry.auth.kit import PASSWORDS, token_settings
from ...registry.server_process import run_registry
from ..cli.imagekit import add_image, files_layer, multi_platform, publish
from ..transport.conftest import FAST_RETRY
from .conftest import Requests, host


@pytest.fixture
def layout(tmp_path) -> ImageLayout:
    return ImageLayout(tmp_path / "layout")


def image(layout: ImageLayout, *sizes: int):
    return add_image(layout, [files_layer(data=os.urandom(size)) for size in sizes])


async def assert_copied(api: RegistryClient, layout: ImageLayout, root, registry: str,
                        repository: str, tag: str) -> None:
    """The destination names ``root`` by ``tag`` and holds everything under it, byte-equal
    by digest (the registry verified each blob as it took it)."""
    remote = api.repository(registry, repository)
    found = await remote.head_manifest(tag)
    assert found is not None and found.digest == root.digest
    for descriptor in layout.walk(root):
        if descriptor.media_type in mt.MANIFESTS:
            assert (await remote.get_manifest(str(descriptor.digest))).data == \
                layout.read_blob(descriptor.digest)
        else:
            assert await remote.blob_size(descriptor.digest) == descriptor.size


async def test_full_copy_then_incremental_copy_moves_nothing(
        cli, registry_api, source, target, layout):
    src, dst = host(source), host(target)
    first = image(layout, 300_000, 2000)
    await publish(registry_api, src, "full/app", layout, first, "v1")

    result = await cli.ok("sync", f"{src}/full/app:v1", f"{dst}/mirror/app")

    await assert_copied(registry_api, layout, first, dst, "mirror/app", "v1")
    assert result.lines[-1].startswith("Synced 1 tag (1 copied, 0 up to date): manifests "
                                       "1 copied, 0 skipped; blobs 3 copied")
    at_source, at_target = Requests(source), Requests(target)

    again = await cli.ok("sync", f"{src}/full/app:v1", f"{dst}/mirror/app")

    assert again.lines[-1] == ("Synced 1 tag (0 copied, 1 up to date): manifests 0 copied, "
                               "0 skipped; blobs 0 copied (0B), 0 mounted, 0 skipped")
    assert f"up to date ({first.digest})" in again.out
    # One HEAD at each end (a transient failure may repeat it), and nothing else.
    assert {m for m, path, _ in at_source() if "/full/app/" in path} == {"HEAD"}
    assert {m for m, path, _ in at_target() if "/mirror/app/" in path} == {"HEAD"}
    assert not at_source("GET", "/blobs/") and not at_target("PUT") + at_target("PATCH")


async def test_changed_tag_copies_only_the_new_blobs(cli, registry_api, source, target, layout):
    src, dst = host(source), host(target)
    shared = files_layer(base=os.urandom(50_000))
    old = add_image(layout, [shared, files_layer(v=b"1")])
    new = add_image(layout, [shared, files_layer(v=b"2")])
    await publish(registry_api, src, "moving/app", layout, old, "latest")
    await cli.ok("sync", f"{src}/moving/app", f"{dst}/moving/app")
    await publish(registry_api, src, "moving/app", layout, new, "latest")
    at_source = Requests(source)

    result = await cli.ok("sync", f"{src}/moving/app", f"{dst}/moving/app")

    await assert_copied(registry_api, layout, new, dst, "moving/app", "latest")
    assert "blobs 2 copied" in result.lines[-1] and "1 skipped" in result.lines[-1]
    assert len(at_source("GET", "/blobs/")) == 2  # the new layer and the new config


async def test_multi_platform_index_is_copied_whole(cli, registry_api, source, target, layout):
    src, dst = host(source), host(target)
    index, platforms = multi_platform(layout)
    await publish(registry_api, src, "multi/app", layout, index, "v1")

    result = await cli.ok("sync", f"{src}/multi/app:v1", f"{dst}/multi/app")

    await assert_copied(registry_api, layout, index, dst, "multi/app", "v1")
    assert "manifests 4 copied" in result.lines[-1]  # the index and its three platforms
    for manifest in platforms.values():
        assert await registry_api.repository(dst, "multi/app").head_manifest(
            str(manifest.digest)) is not None


async def test_tag_patterns_and_all_tags(cli, registry_api, source, target, layout):
    src, dst = host(source), host(target)
    one = image(layout, 1000)
    for tag in ("1.0", "1.1", "2.0", "latest"):
        await publish(registry_api, src, "tags/app", layout, one, tag)

    some = await cli.ok("sync", "--tags", "1.*", "--tags", "latest", f"{src}/tags/app",
                        f"{dst}/tags/some")
    await cli.ok("sync", "--all-tags", f"{src}/tags/app", f"{dst}/tags/all")

    assert sorted(await registry_api.repository(dst, "tags/some").list_tags()) == \
        ["1.0", "1.1", "latest"]
    # three tags of one image: its config and layer copied once, not once per tag
    assert "manifests 3 copied, 0 skipped; blobs 2 copied" in some.lines[-1]
    assert sorted(await registry_api.repository(dst, "tags/all").list_tags()) == \
        ["1.0", "1.1", "2.0", "latest"]


async def test_same_registry_copies_mount_and_tags_can_be_renamed(
        cli, registry_api, source, layout):
    src = host(source)
    one = image(layout, 5000)
    await publish(registry_api, src, "here/app", layout, one, "v1")

    result = await cli.ok("sync", f"{src}/here/app:v1", f"{src}/there/app:stable")

    await assert_copied(registry_api, layout, one, src, "there/app", "stable")
    assert "blobs 0 copied (0B), 2 mounted" in result.lines[-1]


async def test_blobs_one_run_copied_are_mounted_into_its_other_repositories(
        cli, registry_api, source, target, layout, sync_file):
    src, dst = host(source), host(target)
    base = files_layer(base=os.urandom(30_000))
    for name, extra in (("a", b"a"), ("b", b"b")):
        manifest = add_image(layout, [base, files_layer(own=extra)])
        await publish(registry_api, src, f"shared/{name}", layout, manifest, "v1")
    path = sync_file(f"""
destination: {dst}/mounted
concurrency: 1
repositories:
  - source: {src}/shared/a
  - source: {src}/shared/b
""")

    result = await cli.ok("sync", "--config", str(path))

    assert "blobs 5 copied" in result.lines[-1] and "1 mounted" in result.lines[-1]
    assert any(line.endswith("Mounted from mounted/shared/a") for line in result.lines)


async def test_sync_file_lists_repositories_and_a_failure_does_not_stop_the_rest(
        cli, registry_api, source, target, layout, sync_file):
    src, dst = host(source), host(target)
    one, two = image(layout, 1000), image(layout, 2000)
    await publish(registry_api, src, "file/one", layout, one, "3.1")
    await publish(registry_api, src, "file/one", layout, one, "4.0")
    await publish(registry_api, src, "file/two", layout, two, "x")
    path = sync_file(f"""
destination: {dst}/copies
concurrency: 2
repositories:
  - source: {src}/file/one
    tags: ["3.*"]
  - source: {src}/file/missing
  - source: {src}/file/two
    destination: {dst}/elsewhere/two
""")

    result = await cli("sync", "--config", str(path))

    assert result.code == 1
    assert sorted(await registry_api.repository(dst, "copies/file/one").list_tags()) == ["3.1"]
    await assert_copied(registry_api, layout, two, dst, "elsewhere/two", "x")
    [error] = result.err.splitlines()
    assert error.startswith(f"Error: {src}/file/missing -> {dst}/copies/file/missing: ")
    assert "1 failed" in result.lines[-1]


async def test_source_with_token_auth(cli, registry_api, target, layout, tmp_path, home):
    (tmp_path / "auth").mkdir()
    with run_registry(tmp_path / "auth", config=token_settings(tmp_path / "auth")) as secured:
        src, dst = host(secured), host(target)
        alice = Credentials("alice", PASSWORDS["alice"])
        one = image(layout, 4000)
        async with RegistryClient(credentials=lambda _: alice, retry=FAST_RETRY) as api:
            await publish(api, src, "team-a/app", layout, one, "v1")

        refused = await cli("sync", f"{src}/team-a/app:v1", f"{dst}/secured/app")
        assert refused.code == 1 and len(refused.err.splitlines()) == 1
        docker_config = home / ".docker"
        docker_config.mkdir()
        auth = base64.b64encode(f"alice:{PASSWORDS['alice']}".encode()).decode()
        (docker_config / "config.json").write_text(json.dumps({"auths": {src: {"auth": auth}}}))

        await cli.ok("sync", f"{src}/team-a/app:v1", f"{dst}/secured/app")

        await assert_copied(registry_api, layout, one, dst, "secured/app", "v1")
        assert "/auth/token" in secured.output()


@pytest.mark.parametrize("argv, message", [
    (["a.example/x"], "needs SRC and DST"),
    (["a.example/x:1", "b.example/y", "--all-tags"], "source tag or digest can't be used"),
    (["a.example/x", "b.example/y:2", "--tags", "1.*"], "destination tag can't be used"),
    (["a.example/x", f"b.example/y@{Digest.of(b'')}"], "a digest is not a place"),
    (["--config", "/nonexistent/sync.yml"], "cannot read /nonexistent/sync.yml"),
])
async def test_usage_mistakes_are_one_line(cli, argv, message):
    result = await cli("sync", *argv)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert line.startswith("Error: ") and message in line


async def test_large_blobs_go_up_in_chunks_each_a_ranged_read(
        cli, registry_api, source, target, layout, monkeypatch):
    from client.sync import copier

    monkeypatch.setattr(copier, "UPLOAD_CHUNK", 100_000)
    src, dst = host(source), host(target)
    big = add_image(layout, [os.urandom(350_000)], compression=None)
    await publish(registry_api, src, "chunked/app", layout, big, "v1")
    at_source, at_target = Requests(source), Requests(target)

    await cli.ok("sync", f"{src}/chunked/app:v1", f"{dst}/chunked/app")

    await assert_copied(registry_api, layout, big, dst, "chunked/app", "v1")
    layer = next(d for d in layout.walk(big) if d.size > 300_000)
    assert len(at_source("GET", f"/blobs/{layer.digest}")) == 4  # 350 kB in 100 kB pieces
    assert len(at_target("PATCH")) == 4


def test_quiet_run_as_cron_runs_it(source, target, sync_file, tmp_path):
    """``python -m client sync --quiet --config FILE`` in a process of its own, no terminal:
    the summary alone on stdout, exit 0; then a failing entry: one line on stderr, exit 1."""
    src, dst = host(source), host(target)
    layout = ImageLayout(tmp_path / "layout")

    async def setup() -> None:
        async with RegistryClient(retry=FAST_RETRY) as api:
            await publish(api, src, "cron/app", layout, image(layout, 1000), "1")

    asyncio.run(setup())
    good = sync_file(f"destination: {dst}\nrepositories: [{{source: {src}/cron/app}}]\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "client", "--root", str(tmp_path / "root"), "sync",
            "--quiet", "--config"]

    ok = subprocess.run([*argv, str(good)], capture_output=True, text=True, env=env,
                        cwd=REPO_ROOT, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Synced 1 tag (1 copied") and len(ok.stdout.splitlines()) == 1
    assert ok.stderr == ""

    good.write_text(f"destination: {dst}\nrepositories: [{{source: {src}/cron/none}}]\n")
    failed = subprocess.run([*argv, str(good)], capture_output=True, text=True, env=env,
                            cwd=REPO_ROOT, timeout=60)
    assert failed.returncode == 1
    assert len(failed.stderr.splitlines()) == 1 and failed.stderr.startswith("Error: ")


async def test_docker_hub_like_source_unchanged_costs_no_pulls(cli, registry_api, target,
                                                                tmp_path):
    """A loopback Docker Hub (token realm on a server of its own, ``library/`` images, one
    pull allowed): the first sync spends the pull, the next ones only HEAD, which is free."""
    hub = FakeHub(tmp_path / "hub", pull_limit=1)
    await hub.start()
    try:
        image = await hub.add_image("library/busybox", "latest", seed="sync")
        src, dst = hub.url.removeprefix("http://"), host(target)

        await cli.ok("sync", f"{src}/library/busybox", f"{dst}/dockerhub/library/busybox")
        for _ in range(2):
            again = await cli.ok("sync", f"{src}/library/busybox",
                                 f"{dst}/dockerhub/library/busybox")
            assert "(0 copied, 1 up to date)" in again.lines[-1]

        copied = await registry_api.repository(dst, "dockerhub/library/busybox").head_manifest(
            "latest")
        assert copied is not None and copied.digest == image.digest
        assert hub.count("GET", "manifests") == 1  # the one pull, by digest
        assert hub.count("HEAD", "manifests") == 3
        assert hub.count("GET", "blobs") == len(image.blobs)
        assert hub.count("GET", "token") >= 1  # tokens came from the separate realm
    finally:
        await hub.close()
