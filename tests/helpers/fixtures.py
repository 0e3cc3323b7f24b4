"""Session fixtures for tests that need a Dockyard server at a URL (import them into a conftest)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import pytest

from .live_server import ThreadedRegistry


class _Server(Protocol):
    url: str


def dockyard_server(root: Path, workdir: Path) -> AbstractContextManager[_Server]:
    """The real ``python -m registry serve CONFIG`` process once the CLI exists, else in-process.

    The subprocess is what users run (config parsing, workers, signal handling);
    the threaded app stands in while ``registry/__main__.py`` is still to come.
    """
    if importlib.util.find_spec("registry.__main__") is not None:
        from ..registry.server_process import RegistryProcess
        return RegistryProcess(root, workdir)
    return ThreadedRegistry(root)


@pytest.fixture(scope="session")
def dockyard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Dockyard server over empty storage, shared by the session, deletes enabled."""
    workdir = tmp_path_factory.mktemp("dockyard")
    with dockyard_server(workdir / "storage", workdir) as server:
        yield server.url
