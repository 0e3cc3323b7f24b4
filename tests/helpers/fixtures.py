"""Session fixtures for tests that need a Dockyard server at a URL (import them into a conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .live_server import ThreadedRegistry


@pytest.fixture(scope="session")
def dockyard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Dockyard server over empty storage, shared by the session, deletes enabled."""
    with ThreadedRegistry(tmp_path_factory.mktemp("dockyard-storage")) as server:
        yield server.base_url
