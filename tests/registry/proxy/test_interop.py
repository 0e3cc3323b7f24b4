"""The cache with real peers: skopeo and podman pulling through a Dockyard server process,
and the CNCF distribution registry as the upstream."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from bench.common import LOOPBACK, missing_tools
from bench.images import layout_manifest_digest, push_small_image
from bench.pull import skopeo_options
from bench.registry import Target
from tests.registry.server_process import run_registry

from .conftest import ACCEPT, pull

pytestmark = pytest.mark.interop


async def _run(*argv: str) -> str:
    """A command run to completion without blocking the loop (the fake hub serves meanwhile)."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"{argv[0]} exited {proc.returncode}: {err.decode()[-2000:]}"
    return out.decode()


@pytest.mark.skipif(bool(missing_tools("skopeo")), reason="needs skopeo")
async def test_skopeo_pulls_through_a_dockyard_server_configured_with_upstreams(hub, tmp_path):
    image = await hub.add_image("library/busybox", "latest")
    config = {"dockyard": {"proxy": {"upstreams": {"hub": {"remoteurl": hub.url,
                                                           "library": True}}}}}
    (tmp_path / "proxy").mkdir()
    with run_registry(tmp_path / "proxy", config=config) as server:
        source = f"docker://{LOOPBACK}:{server.port}/hub/busybox:latest"
        for attempt in range(2):
            layout = tmp_path / f"layout-{attempt}"
            await _run("skopeo", *skopeo_options(tmp_path), "copy", "--quiet",
                       "--src-tls-verify=false", source, f"oci:{layout}:latest")
            assert layout_manifest_digest(layout) == str(image.digest)
        assert hub.count("GET", "blobs") == 3  # the second pull fetched no blob upstream
        metrics = await _run("curl", "-sf", f"{server.url}/metrics")
        assert 'dockyard_proxy_misses_total{prefix="hub"} 4' in metrics
        assert "proxy: miss blob" in server.output()
        assert "proxy: hub/* mirrors" in server.output()


@pytest.mark.skipif(bool(missing_tools("podman")), reason="needs podman")
async def test_podman_pulls_through_dockyard(hub, tmp_path):
    image = await hub.add_image("library/alpine", "3", seed="podman")
    config = {"proxy": {"remoteurl": hub.url}, "dockyard": {"proxy": {"tagttl": "1h"}}}
    (tmp_path / "proxy").mkdir()
    runroot = Path(tempfile.mkdtemp(prefix="pp-"))  # podman wants a short run root
    podman = ["podman", "--root", str(tmp_path / "storage"), "--runroot", str(runroot),
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
              "--events-backend", "none"]
    try:
        with run_registry(tmp_path / "proxy", config=config) as server:
            # distribution's form: the whole registry mirrors one upstream (here not Docker
            # Hub, so no library/ is added: the name is the upstream's)
            reference = f"{LOOPBACK}:{server.port}/library/alpine:3"
            await _run(*podman, "pull", "--quiet", "--tls-verify=false", reference)
            digest = await _run(*podman, "image", "inspect", "--format", "{{.Digest}}",
                                reference)
            assert digest.strip() == str(image.digest)
    finally:
        await _run(*podman, "rmi", "--all", "--force")
        shutil.rmtree(runroot, ignore_errors=True)


@pytest.fixture
def distribution(tmp_path):
    if missing_tools("docker-registry"):
        pytest.skip("needs docker-registry (CNCF distribution)")
    with Target("distribution").server(tmp_path / "distribution", False) as server:
        yield server


async def test_distribution_as_the_upstream(distribution, make_proxy):
    manifest = await asyncio.to_thread(push_small_image, distribution.base_url,
                                       "team/app", "v1")
    await asyncio.to_thread(push_small_image, distribution.base_url, "team/other", "v1")
    proxy = await make_proxy(distribution.base_url, prefix="dist", tag_ttl=0, library=False)
    first = await pull(proxy, "dist/team/app", "v1")
    response = await proxy.get("/v2/dist/team/app/manifests/v1", headers=ACCEPT)
    assert response.headers["Docker-Content-Digest"] == manifest.digest
    distribution.stop()  # the upstream goes away: cached content is still served
    assert await pull(proxy, "dist/team/app", "v1") == first
    stale = await proxy.get("/v2/dist/team/app/manifests/v1", headers=ACCEPT)
    assert stale.status == 200 and "Dockyard-Proxy-Stale" in stale.headers
    missing = await proxy.get("/v2/dist/team/other/manifests/v1", headers=ACCEPT)
    assert missing.status == 503
