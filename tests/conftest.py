"""Fixtures shared by every test: a registry over a temporary directory, served for real."""

from __future__ import annotations

import pytest

from registry.app import create_app
from registry.model import Registry
from registry.storage.filesystem import FileSystemDriver
from tests.helpers.cgroups import removing_new_dockyard_parents


@pytest.fixture
async def driver(tmp_path):
    fs = FileSystemDriver(str(tmp_path / "storage"))
    yield fs
    await fs.close()


@pytest.fixture
def registry_model(driver) -> Registry:
    return Registry(driver, delete_enabled=True)


@pytest.fixture
async def client(aiohttp_client, registry_model):
    """An aiohttp test client talking to the real app on 127.0.0.1."""
    return await aiohttp_client(create_app(registry_model))


@pytest.fixture(scope="session", autouse=True)
def _remove_dockyard_cgroup_parents():
    """The suite removes the ``dockyard`` parent cgroups it made, once empty."""
    with removing_new_dockyard_parents():
        yield
