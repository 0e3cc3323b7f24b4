"""Fixtures shared by every test: a registry over a temporary directory, served for real."""

from __future__ import annotations

import pytest

from registry.app import create_app
from registry.model import Registry
from registry.storage.filesystem import FileSystemDriver


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
    """Containers share a parent cgroup ``dockyard`` that the runtime keeps (removing it
    would race a concurrent create); the suite removes the ones it made, once empty."""
    import glob
    import os

    before = set(glob.glob("/sys/fs/cgroup/*/dockyard"))
    yield
    for parent in set(glob.glob("/sys/fs/cgroup/*/dockyard")) - before:
        try:
            os.rmdir(parent)  # refuses unless empty: never touches a live container
        except OSError:
            pass
