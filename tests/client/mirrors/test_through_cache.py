"""The client's Docker Hub mirror being a Dockyard pull-through cache: ``dockyard pull
busybox`` with ``registry-mirrors`` naming the cache's ``dockerhub/`` namespace, the cache's
upstream a loopback Docker Hub.  Docker Hub itself is never contacted."""

from __future__ import annotations

import logging

from client.store import ImageStore
from ocispec.reference import Reference

from ...helpers.fake_hub import FakeHub
from ...registry.server_process import run_registry


async def test_docker_hub_pulls_through_a_dockyard_cache(cli, client_config, tmp_path, caplog):
    hub = FakeHub(tmp_path / "hub")
    await hub.start()
    (tmp_path / "cache").mkdir()
    config = {"dockyard": {"proxy": {"upstreams": {"dockerhub": {"remoteurl": hub.url}}}}}
    try:
        image = await hub.add_image("library/busybox", "latest", seed="mirror")
        with run_registry(tmp_path / "cache", config=config) as cache:
            client_config({"registry-mirrors": [f"{cache.url}/dockerhub"]})
            caplog.set_level(logging.DEBUG, logger="dockyard.transport")

            await cli.ok("pull", "busybox")
            await cli.ok("--root", str(tmp_path / "second"), "pull", "busybox")

        for root in (cli.root, tmp_path / "second"):
            store = await ImageStore.open(root)
            stored = await store.resolve(Reference.parse("busybox"))
            assert stored.digest == image.digest
        assert hub.count("GET", "blobs") == len(image.blobs)  # the second pull: cache hits
        assert "docker.io" not in caplog.text
    finally:
        await hub.close()
