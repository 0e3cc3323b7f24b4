"""Fixtures of the sync tests: Dockyard registries as server processes, as users run them.

Two plain servers are shared by the module (each test uses repository names
of its own); their access logs tell which requests a sync made.  Images are
published with the transport's plain calls, independent of the code under test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cli.conftest import cli, registry_api  # noqa: F401  (fixtures)
from ..transport.conftest import home  # noqa: F401  (a fixture)
from ...registry.server_process import RegistryProcess, run_registry

_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d+)')


class Requests:
    """The requests a server logs from now on: ``(method, path, status)``.

    A server writes a request's line once it has answered, so a client may be
    done before the line is there: the log is read once it has stopped growing.
    """

    def __init__(self, server: RegistryProcess) -> None:
        self._server = server
        self._start = len(_settled(server))

    def __call__(self, method: str = "", part: str = "") -> list[tuple[str, str, int]]:
        found = [(m, p, int(s)) for m, p, s in _REQUEST.findall(
            _settled(self._server)[self._start:])]
        return [r for r in found if (not method or r[0] == method) and part in r[1]]


def _settled(server: RegistryProcess, quiet: float = 0.2) -> str:
    """The server's log once nothing was added to it for ``quiet`` seconds."""
    text = server.output()
    while True:
        time.sleep(quiet)
        now = server.output()
        if now == text:
            return text
        text = now


def host(server: RegistryProcess) -> str:
    return server.url.removeprefix("http://")


def _server(factory: pytest.TempPathFactory, name: str) -> Iterator[RegistryProcess]:
    with run_registry(factory.mktemp(name)) as server:
        yield server


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Iterator[RegistryProcess]:
    yield from _server(tmp_path_factory, "source")


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[RegistryProcess]:
    yield from _server(tmp_path_factory, "target")


@pytest.fixture
def sync_file(tmp_path):
    """``sync_file(text)``: a sync YAML file with ``text``; its path."""
    def write(text: str) -> Path:
        path = tmp_path / "sync.yml"
        path.write_text(text)
        return path

    return write
