"""Session fixtures for tests that need a Dockyard server at a URL (import them into a conftest).

The server is the real ``python -m registry serve CONFIG`` process, as users run
it (config parsing, workers, signal handling), started once per session by
``tests.registry.server_process``. A conftest that imports ``dockyard_url`` gets
its own session instance, so running two such directories starts two servers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..registry.server_process import run_registry


@pytest.fixture(scope="session")
def dockyard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Dockyard server over empty storage, shared by the session, deletes enabled."""
    with run_registry(tmp_path_factory.mktemp("dockyard")) as server:
        yield server.url
