"""Fixtures for the pull-through cache: a fake Docker Hub, and Dockyard proxying it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry.app import create_app
from registry.config import ProxyConfig, UpstreamConfig
from registry.proxy import ProxyRegistry, install
from registry.storage.filesystem import FileSystemDriver
from tests.helpers.fake_hub import FakeHub

ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                    "application/vnd.oci.image.index.v1+json"}


@pytest.fixture
async def hub(tmp_path):
    fake = FakeHub(tmp_path)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def make_proxy(tmp_path, aiohttp_client) -> Callable:
    """``await make_proxy(url, prefix="hub", tag_ttl=60, ttl=3600, account=None)``: a client
    of a Dockyard whose ``prefix/...`` repositories mirror ``url``; the rest are ordinary."""
    drivers = []

    async def make(url: str, *, prefix: str = "hub", tag_ttl: float = 60.0,
                   ttl: float = 3600.0, library: bool = True,
                   account: tuple[str, str] | None = None):
        driver = FileSystemDriver(str(tmp_path / "proxy-storage"))
        drivers.append(driver)
        username, password = account or (None, None)
        config = ProxyConfig((UpstreamConfig(prefix, url, username, password, ttl, library),),
                             tag_ttl=tag_ttl)
        registry = ProxyRegistry(driver, config)
        app = create_app(registry)
        install(app, registry, evict=False)
        client = await aiohttp_client(app)
        client.registry = registry
        return client

    yield make
    for driver in drivers:
        await driver.close()


async def pull(client, name: str, reference: str = "latest") -> dict[str, bytes]:
    """GET the manifest and every blob it names, as a client pulls; {digest: bytes}."""
    response = await client.get(f"/v2/{name}/manifests/{reference}", headers=ACCEPT)
    assert response.status == 200, await response.text()
    manifest = await response.json(content_type=None)
    got = {}
    for descriptor in (manifest["config"], *manifest["layers"]):
        blob = await client.get(f"/v2/{name}/blobs/{descriptor['digest']}")
        assert blob.status == 200, await blob.text()
        got[descriptor["digest"]] = await blob.read()
    return got
