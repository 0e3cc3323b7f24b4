"""Pulls through mirrors (``registry-mirrors``, ``mirrors``), fallback to the origin, and
pushes that never go to a mirror.  Registries are real, on 127.0.0.1; Docker Hub is never
contacted: its test has the mirror answer everything."""

from __future__ import annotations

import logging
import os

import pytest

from bench.common import free_port
from client.config import ClientConfig, Mirror
from client.errors import DockyardError
from client.store import ImageStore
from ocispec.reference import Reference

from ...helpers.oci_layout import ImageLayout
from ..cli.conftest import Faults
from ..cli.imagekit import add_image, files_layer, publish


@pytest.fixture
def image(tmp_path):
    layout = ImageLayout(tmp_path / "layout")
    return layout, add_image(layout, [files_layer(etc__motd=os.urandom(2000))])


async def stored_digest(cli, reference: str):
    store = await ImageStore.open(cli.root)
    return (await store.resolve(Reference.parse(reference))).digest


async def test_pull_goes_to_the_mirror_and_never_to_the_origin(
        cli, serve, registry_api, client_config, image):
    origin, mirror = await serve("origin"), await serve("mirror")
    layout, manifest = image
    # The mirror keeps the origin's repositories under a namespace, as a multi-upstream cache.
    await publish(registry_api, mirror.host, "cache/team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}/cache"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest
    assert origin.requests == []
    assert mirror.asked("GET", "/v2/cache/team/app/manifests/v1")
    assert len(mirror.asked("GET", "/blobs/")) == 2  # config and layer


async def test_mirror_without_the_image_falls_back_to_the_origin(
        cli, serve, registry_api, client_config, image):
    origin, mirror = await serve("origin"), await serve("mirror")
    layout, manifest = image
    await publish(registry_api, origin.host, "team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest
    assert mirror.asked("GET", "/v2/team/app/manifests/v1")  # answered 404
    assert origin.asked("GET", "/v2/team/app/manifests/v1")


async def test_mirror_down_falls_back_and_the_next_mirror_is_tried(
        cli, serve, registry_api, client_config, image):
    origin, second = await serve("origin"), await serve("second")
    layout, manifest = image
    await publish(registry_api, second.host, "team/app", layout, manifest, "v1")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client_config({"mirrors": {origin.host: [down, f"http://{second.host}"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest
    assert origin.requests == []
    assert second.asked("GET", "/blobs/")


async def test_every_mirror_down_pulls_from_the_origin(
        cli, serve, registry_api, client_config, image):
    origin = await serve("origin")
    layout, manifest = image
    await publish(registry_api, origin.host, "team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://127.0.0.1:{free_port()}"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest


async def test_docker_hub_pulls_are_served_by_registry_mirrors(
        cli, serve, registry_api, client_config, image, caplog):
    """Docker Hub itself is never reached: the mirror has everything, and the image's name
    exists nowhere else, so a fallback would fail the pull."""
    mirror = await serve("mirror")
    layout, manifest = image
    name = "dockyard-mirror-test-only"
    await publish(registry_api, mirror.host, f"library/{name}", layout, manifest, "v1")
    client_config({"registry-mirrors": [f"http://{mirror.host}"]})
    caplog.set_level(logging.DEBUG, logger="dockyard.transport")

    result = await cli.ok("pull", f"{name}:v1")

    assert f"docker.io/library/{name}:v1" in result.out
    assert await stored_digest(cli, f"{name}:v1") == manifest.digest
    assert mirror.asked("GET", f"/v2/library/{name}/manifests/v1")
    assert "docker.io" not in caplog.text and mirror.host in caplog.text


async def test_push_never_goes_to_a_mirror(cli, serve, registry_api, client_config, image):
    origin, mirror = await serve("origin"), await serve("mirror")
    layout, manifest = image
    await publish(registry_api, mirror.host, "team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}"]}})
    await cli.ok("pull", f"{origin.host}/team/app:v1")
    mirror.requests.clear()

    await cli.ok("push", f"{origin.host}/team/app:v1")

    assert mirror.requests == []
    assert origin.asked("PUT", "/v2/team/app/manifests/v1")
    pushed = await registry_api.repository(origin.host, "team/app").head_manifest("v1")
    assert pushed is not None and pushed.digest == manifest.digest


async def test_pull_all_tags_lists_them_through_the_mirror(
        cli, serve, registry_api, client_config, image):
    origin, mirror = await serve("origin"), await serve("mirror")
    layout, manifest = image
    for tag in ("a", "b"):
        await publish(registry_api, mirror.host, "team/app", layout, manifest, tag)
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}"]}})

    await cli.ok("pull", "--all-tags", f"{origin.host}/team/app")

    assert origin.requests == []
    assert await stored_digest(cli, f"{origin.host}/team/app:b") == manifest.digest


def test_config_shapes(tmp_path):
    user, system = tmp_path / "user", tmp_path / "etc"
    system.mkdir()
    (system / "config.json").write_text(
        '{"registry-mirrors": ["https://hub-mirror.example"],'
        ' "mirrors": {"index.docker.io": ["mirror2.example:5000/hub"],'
        ' "ghcr.io": ["http://10.0.0.5:5000/ghcr"]},'
        ' "insecure-registries": ["10.0.0.0/8"]}')
    config = ClientConfig.load(user, system)  # no user file: the machine's
    assert config.insecure_registries == ("10.0.0.0/8",)
    assert config.mirrors == {
        "docker.io": (Mirror("https://hub-mirror.example", "hub-mirror.example", False),
                      Mirror("mirror2.example:5000/hub", "mirror2.example:5000", False, "hub")),
        "ghcr.io": (Mirror("http://10.0.0.5:5000/ghcr", "10.0.0.5:5000", True, "ghcr"),),
    }
    assert config.mirrors["ghcr.io"][0].repository("org/tool") == "ghcr/org/tool"
    user.mkdir()
    (user / "config.json").write_text("{}")  # the user's file replaces the machine's
    assert ClientConfig.load(user, system).mirrors == {}


@pytest.mark.parametrize("document, message", [
    ('{"registry-mirrors": "https://m.example"}', "registry-mirrors must be a list"),
    ('{"mirrors": ["https://m.example"]}', "mirrors must map a registry"),
    ('{"mirrors": {"ghcr.io": "https://m.example"}}', "mirrors.ghcr.io must be a list"),
    ('{"mirrors": {"https://ghcr.io": ["https://m.example"]}}', "is not a registry name"),
    ('{"registry-mirrors": ["ftp://m.example"]}', "not an http"),
    ('{"registry-mirrors": ["https://u:p@m.example"]}', "no credentials"),
    ('["x"]', "expected a JSON object"),
])
def test_config_mistakes_are_named(tmp_path, document, message):
    (tmp_path / "config.json").write_text(document)
    with pytest.raises(DockyardError, match=message):
        ClientConfig.load(tmp_path, tmp_path / "none")


async def test_blob_cut_off_by_the_mirror_continues_from_the_origin(
        cli, serve, registry_api, client_config, tmp_path):
    """The mirror drops the layer half-way and refuses to resume: the origin sends the
    rest (a ranged GET from the byte reached), and the pulled layer verifies."""
    layout = ImageLayout(tmp_path / "layout")
    layer = files_layer(big=os.urandom(200_000))
    manifest = add_image(layout, [layer], compression=None)
    digest = str(next(d.digest for d in layout.walk(manifest) if d.size > 100_000))
    faults = Faults(drop_after={digest: 64_000}, fail_resumes=True,
                    blobs={digest: layout.read_blob(digest)})
    origin, mirror = await serve("origin"), await serve("mirror", faults)
    for registry in (origin, mirror):
        await publish(registry_api, registry.host, "team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest
    assert origin.asked("GET", f"/blobs/{digest}")
    assert origin.ranges == ["bytes=64000-"]


async def test_a_failing_mirror_is_left_alone_after_its_first_failure(
        cli, serve, registry_api, client_config, image):
    origin = await serve("origin")
    mirror = await serve("mirror", Faults(refuse=[503] * 50))  # every blob GET fails
    layout, manifest = image
    for registry in (origin, mirror):
        await publish(registry_api, registry.host, "team/app", layout, manifest, "v1")
    client_config({"mirrors": {origin.host: [f"http://{mirror.host}"]}})

    await cli.ok("pull", f"{origin.host}/team/app:v1")

    assert await stored_digest(cli, f"{origin.host}/team/app:v1") == manifest.digest
    assert len(origin.asked("GET", "/blobs/")) == 2
    # one blob tried the mirror (with retries); the other went straight to the origin
    assert len({path for path in mirror.asked("GET", "/blobs/")}) == 1
