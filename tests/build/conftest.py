"""Fixtures of the build tests: the CLI over a store with busybox, a Dockyard server for
the push round trip, a file server."""

import http.server
import threading
from pathlib import Path

import pytest

from ..helpers.fixtures import dockyard_url  # noqa: F401  (a fixture)
from .buildkit import Dockyard, with_busybox


@pytest.fixture
def dockyard(tmp_path, capsys) -> Dockyard:
    """The CLI over a store with busybox:test; fails the test if a build left a mount."""
    yield with_busybox(tmp_path, capsys)
    assert str(tmp_path) not in Path("/proc/mounts").read_text()


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
