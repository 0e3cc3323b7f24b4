"""Fixtures of the command tests: the dockyard CLI over a temporary root, and registries.

Commands run as users run them, through ``client.cli.main`` (argument parsing,
error handling, exit codes), in a worker thread with an event loop of their
own, while the registries they talk to are served by the test's loop on
127.0.0.1.  ``faults`` wraps the same registry storage in a middleware that
misbehaves on purpose: refuses with 429/503, drops a blob's connection
half-way, or serves wrong bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from client.cli import main
from client.transport import RegistryClient
from registry.app import create_app

from ..transport.conftest import FAST_RETRY, dockyard, home, secure_dockyard  # noqa: F401  (fixtures)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Dockyard:
    """``dockyard --root ROOT ...`` run in-process; its exit code and what it printed."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self._capsys = capsys

    async def __call__(self, *argv: str) -> Result:
        self._capsys.readouterr()
        code = await asyncio.to_thread(main, ["--root", str(self.root), *argv])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    async def ok(self, *argv: str) -> Result:
        """Run and insist on success (the failure message shows what it printed)."""
        result = await self(*argv)
        assert result.code == 0, f"dockyard {' '.join(argv)} -> {result.code}: {result.err}"
        return result


@pytest.fixture
def cli(tmp_path, capsys, home) -> Dockyard:  # noqa: F811  (home: the fixture)
    return Dockyard(tmp_path / "root", capsys)


@pytest.fixture
async def registry_api():
    """A registry client for setting things up and checking them (not the code under test)."""
    async with RegistryClient(retry=FAST_RETRY) as client:
        yield client


@dataclass
class Faults:
    """What the faulty registry does to blob downloads (GET /v2/.../blobs/<digest>)."""

    refuse: list[int] = field(default_factory=list)  # statuses to answer first, one per GET
    drop_after: dict[str, int] = field(default_factory=dict)  # digest -> bytes sent, then cut
    fail_resumes: bool = False  # answer 503 to every ranged GET of a dropped blob
    corrupt: set[str] = field(default_factory=set)  # digests served with wrong bytes
    blobs: dict[str, bytes] = field(default_factory=dict)  # content the faults need
    ranges: list[str] = field(default_factory=list)  # Range headers seen
    refused: int = 0


def _blob_digest(request: web.Request) -> str | None:
    parts = request.path.split("/blobs/")
    if request.method != "GET" or len(parts) != 2 or "uploads" in parts[1]:
        return None
    return parts[1]


def fault_middleware(faults: Faults) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def misbehave(request: web.Request, handler) -> web.StreamResponse:
        digest = _blob_digest(request)
        if digest is None:
            return await handler(request)
        if "Range" in request.headers:
            faults.ranges.append(request.headers["Range"])
        if faults.refuse:
            faults.refused += 1
            return web.Response(status=faults.refuse.pop(0), headers={"Retry-After": "0"})
        if digest in faults.corrupt:
            return web.Response(body=bytes(len(faults.blobs[digest])))
        if digest in faults.drop_after:
            if "Range" in request.headers and faults.fail_resumes:
                return web.Response(status=503, headers={"Retry-After": "0"})
            if "Range" not in request.headers:
                data = faults.blobs[digest]
                response = web.StreamResponse(headers={"Content-Length": str(len(data))})
                await response.prepare(request)
                await response.write(data[:faults.drop_after[digest]])
                assert request.transport is not None
                request.transport.close()  # the connection breaks mid-body
                return response
        return await handler(request)

    return misbehave


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def faulty(aiohttp_server, registry_model, faults) -> str:
    """The registry over the same storage as ``dockyard``, misbehaving as ``faults`` says."""
    server = await aiohttp_server(create_app(registry_model,
                                             middlewares=(fault_middleware(faults),)))
    return f"127.0.0.1:{server.port}"
