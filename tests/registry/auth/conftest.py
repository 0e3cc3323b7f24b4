"""Fixtures: a registry app with access control from a real config, served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry.app import create_app
from registry.auth import setup

from .kit import basic, load_config, token_settings

MakeClient = Callable[[dict[str, Any]], Awaitable[TestClient]]


@pytest.fixture
def secure_client(aiohttp_client, registry_model, tmp_path) -> MakeClient:
    """Make a client of the app with access control as ``settings`` configure it."""
    async def make(settings: dict[str, Any]) -> TestClient:
        access = setup.build(load_config(tmp_path, settings).auth)
        return await aiohttp_client(create_app(registry_model, access=access))
    return make


@pytest.fixture
async def token_client(secure_client, tmp_path) -> TestClient:
    """Token auth with Dockyard's own issuer, the users, robot and rules of ``kit``."""
    return await secure_client(token_settings(tmp_path))


async def fetch_token(client: TestClient, *scopes: str, user: str | None = None,
                      password: str | None = None, **params: str) -> dict[str, Any]:
    """The token endpoint's JSON answer to a GET (anonymous unless ``user`` is given)."""
    headers = basic(user, password) if user else {}
    query = [("service", params.pop("service", "test-registry")),
             *(("scope", scope) for scope in scopes), *params.items()]
    response = await client.get("/auth/token", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()
