"""Fixtures of the mirror tests: registries on 127.0.0.1 that log what they were asked.

The origin and each mirror are real Dockyard registry apps over storage of
their own, served by the test's loop; a middleware records every request
(method and path) so a test can tell which registry served a pull and that
a push never touched a mirror.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from registry.app import create_app
from registry.model import Registry
from registry.storage.filesystem import FileSystemDriver

from ..cli.conftest import Faults, cli, fault_middleware, registry_api  # noqa: F401
from ..transport.conftest import home  # noqa: F401  (a fixture)


@dataclass
class Served:
    """A registry on 127.0.0.1 and the requests it answered."""

    host: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)  # Range headers of the requests

    def asked(self, method: str = "", part: str = "") -> list[str]:
        """Paths of the requests with ``method`` (any when empty) whose path holds ``part``."""
        return [path for verb, path in self.requests
                if (not method or verb == method) and part in path]


@pytest.fixture
async def serve(aiohttp_server, tmp_path):
    """``await serve("name")``: a fresh registry (misbehaving as ``faults`` says, if given);
    drivers closed after the test."""
    drivers = []

    async def start(name: str, faults: Faults | None = None) -> Served:
        driver = FileSystemDriver(str(tmp_path / name))
        drivers.append(driver)
        served = Served("")

        @web.middleware
        async def record(request: web.Request, handler) -> web.StreamResponse:
            served.requests.append((request.method, request.path))
            if "Range" in request.headers:
                served.ranges.append(request.headers["Range"])
            return await handler(request)

        misbehave = (fault_middleware(faults),) if faults else ()
        server = await aiohttp_server(create_app(Registry(driver),
                                                 middlewares=(record, *misbehave)))
        served.host = f"127.0.0.1:{server.port}"
        return served

    yield start
    for driver in drivers:
        await driver.close()


@pytest.fixture
def client_config(home):  # noqa: F811  (home: the fixture)
    """``client_config({...})`` writes the user's ``~/.config/dockyard/config.json``."""
    def write(settings: dict) -> Path:
        path = home / ".config" / "dockyard" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
        return path

    return write
