"""Fixtures for the registry client: an isolated home, and registries on 127.0.0.1."""

from __future__ import annotations

import pytest

from client.transport import RegistryClient, RetryPolicy
from registry.app import create_app
from registry.auth import setup

from ...registry.auth.kit import load_config, token_settings
from .fakes import TokenAuthRegistry

# Retries in tests wait milliseconds, not seconds.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A fresh $HOME, and no docker/podman/dockyard settings leaking in from the machine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                "DOCKYARD_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return home


@pytest.fixture
async def registry_client():
    async with RegistryClient(retry=FAST_RETRY) as client:
        yield client


@pytest.fixture
async def dockyard(aiohttp_server, registry_model):
    """The real Dockyard registry app, served on 127.0.0.1; yields its ``host:port``."""
    server = await aiohttp_server(create_app(registry_model))
    return f"127.0.0.1:{server.port}"


@pytest.fixture
def token_registry():
    return TokenAuthRegistry()


@pytest.fixture
async def token_server(aiohttp_server, token_registry):
    """The fake token-auth registry, served; yields its ``host:port``."""
    server = await aiohttp_server(token_registry.app())
    token_registry.realm = f"http://127.0.0.1:{server.port}/token"
    return f"127.0.0.1:{server.port}"


@pytest.fixture
async def secure_dockyard(aiohttp_server, registry_model, tmp_path) -> str:
    """Dockyard with token auth and its own token endpoint (tests/registry/auth/kit's users
    and rules: alice (alice-pw) pushes and pulls team-a/*, anyone pulls public/*)."""
    settings = token_settings(tmp_path)
    access = setup.build(load_config(tmp_path, settings).auth)
    server = await aiohttp_server(create_app(registry_model, access=access))
    return f"127.0.0.1:{server.port}"
