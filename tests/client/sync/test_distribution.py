"""``dockyard sync`` with the CNCF distribution registry (Debian's ``docker-registry``) at
either end: Dockyard -> distribution -> Dockyard keeps every digest, indexes included."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bench.registry import Target

from ...helpers.oci_layout import ImageLayout
from ..cli.imagekit import add_image, files_layer, multi_platform, publish
from .conftest import Requests, host
from .test_sync import assert_copied

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("docker-registry") is None,
                       reason="docker-registry is not on PATH (Debian package 'docker-registry')"),
]


@pytest.fixture
def distribution(tmp_path) -> Iterator[str]:
    with Target("distribution").server(tmp_path / "distribution", False) as server:
        yield server.base_url.removeprefix("http://")


async def test_dockyard_to_distribution_and_back(cli, registry_api, source, target,
                                                 distribution, tmp_path):
    layout = ImageLayout(tmp_path / "layout")
    index, _ = multi_platform(layout, docker=True)
    single = add_image(layout, [files_layer(a=b"a" * 70_000)])
    await publish(registry_api, host(source), "peer/app", layout, index, "multi")
    await publish(registry_api, host(source), "peer/app", layout, single, "single")

    await cli.ok("sync", "--all-tags", f"{host(source)}/peer/app", f"{distribution}/peer/app")
    await cli.ok("sync", "--all-tags", f"{distribution}/peer/app", f"{host(target)}/back/app")

    for root, tag in ((index, "multi"), (single, "single")):
        await assert_copied(registry_api, layout, root, distribution, "peer/app", tag)
        await assert_copied(registry_api, layout, root, host(target), "back/app", tag)
    at_target = Requests(target)
    again = await cli.ok("sync", "--all-tags", f"{distribution}/peer/app",
                         f"{host(target)}/back/app")
    assert "(0 copied, 2 up to date)" in again.lines[-1]
    assert not at_target("PUT") and not at_target("POST")
