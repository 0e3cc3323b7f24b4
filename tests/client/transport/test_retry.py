"""Retries (503, 429 with Retry-After, dropped connections) and resumed blob downloads."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import aclosing

import pytest
from aiohttp import web

from client.transport import RegistryClient, RegistryError, RetryPolicy, TransportError
from client.transport.retry import parse_retry_after
from ocispec.digest import Digest

from .fakes import registry_error

BLOB = os.urandom(3 << 20)
DIGEST = Digest.of(BLOB)


class Flaky:
    """A registry whose tag list and blob misbehave as a test scripts them."""

    def __init__(self) -> None:
        self.tag_failures: list[web.StreamResponse | str] = []  # served first, in order
        self.tag_requests = 0
        self.blob_ranges: list[str | None] = []
        self.blob_cut_at: list[int] = []   # per request: drop the connection after N bytes sent
        self.honour_range = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/", self._ping)
        app.router.add_get("/v2/app/tags/list", self._tags)
        app.router.add_get(f"/v2/app/blobs/{DIGEST}", self._blob)
        return app

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _tags(self, request: web.Request) -> web.StreamResponse:
        self.tag_requests += 1
        if self.tag_failures:
            failure = self.tag_failures.pop(0)
            if failure == "drop":
                request.transport.close()
                return web.Response()
            return failure
        return web.json_response({"name": "app", "tags": ["v1"]})

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        self.blob_ranges.append(request.headers.get("Range"))
        start = 0
        resp = web.StreamResponse(status=200)
        if request.http_range.start is not None and self.honour_range:
            start = request.http_range.start
            resp.set_status(206)
            resp.headers["Content-Range"] = f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"
        resp.content_length = len(BLOB) - start
        await resp.prepare(request)
        if self.blob_cut_at:
            await resp.write(BLOB[start:start + self.blob_cut_at.pop(0)])
            request.transport.close()
            return resp
        await resp.write(BLOB[start:])
        await resp.write_eof()
        return resp


@pytest.fixture
def flaky():
    return Flaky()


@pytest.fixture
async def flaky_server(aiohttp_server, flaky):
    server = await aiohttp_server(flaky.app())
    return f"127.0.0.1:{server.port}"


async def test_503_is_retried(flaky, flaky_server, registry_client):
    flaky.tag_failures = [registry_error(503, "UNAVAILABLE", "busy") for _ in range(2)]
    assert await registry_client.repository(flaky_server, "app").list_tags() == ["v1"]
    assert flaky.tag_requests == 3


async def test_429_waits_as_long_as_retry_after_says(flaky, flaky_server, registry_client):
    flaky.tag_failures = [registry_error(429, "TOOMANYREQUESTS", "slow down",
                                         **{"Retry-After": "1"})]
    started = time.monotonic()
    assert await registry_client.repository(flaky_server, "app").list_tags() == ["v1"]
    assert time.monotonic() - started >= 0.9
    assert flaky.tag_requests == 2


async def test_retry_after_is_bounded(flaky, flaky_server):
    flaky.tag_failures = [registry_error(429, "TOOMANYREQUESTS", "slow down",
                                         **{"Retry-After": "3600"})]
    policy = RetryPolicy(attempts=2, max_retry_after=0.05)
    async with RegistryClient(retry=policy) as client:
        started = time.monotonic()
        assert await client.repository(flaky_server, "app").list_tags() == ["v1"]
        assert time.monotonic() - started < 2


async def test_gives_up_with_the_registry_error(flaky, flaky_server, registry_client):
    flaky.tag_failures = [registry_error(503, "UNAVAILABLE", "down for maintenance")
                          for _ in range(10)]
    with pytest.raises(RegistryError) as caught:
        await registry_client.repository(flaky_server, "app").list_tags()
    assert (caught.value.status, caught.value.code) == (503, "UNAVAILABLE")
    assert str(caught.value) == f"{flaky_server}: down for maintenance (UNAVAILABLE)"
    assert flaky.tag_requests == registry_client.retry.attempts


async def test_dropped_connection_is_retried(flaky, flaky_server, registry_client):
    flaky.tag_failures = ["drop"]
    assert await registry_client.repository(flaky_server, "app").list_tags() == ["v1"]
    assert flaky.tag_requests == 2


async def test_refused_connection_fails_at_once(unused_tcp_port, registry_client):
    started = time.monotonic()
    with pytest.raises(TransportError, match="Connection refused"):
        await registry_client.ping(f"127.0.0.1:{unused_tcp_port}")
    assert time.monotonic() - started < 2


async def read_blob(client: RegistryClient, registry: str, offset: int = 0) -> bytes:
    async with aclosing(client.repository(registry, "app").iter_blob(DIGEST, offset)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_download_resumes_with_range(flaky, flaky_server, registry_client):
    flaky.blob_cut_at = [1 << 20, 100]  # drop twice; the second resume starts mid-stream
    data = await read_blob(registry_client, flaky_server)
    assert hashlib.sha256(data).hexdigest() == DIGEST.hex
    assert flaky.blob_ranges == [None, f"bytes={1 << 20}-", f"bytes={(1 << 20) + 100}-"]


async def test_resume_copes_with_a_server_ignoring_range(flaky, flaky_server, registry_client):
    flaky.honour_range = False
    flaky.blob_cut_at = [12345]
    assert await read_blob(registry_client, flaky_server) == BLOB
    assert flaky.blob_ranges == [None, "bytes=12345-"]


async def test_download_from_an_offset(flaky, flaky_server, registry_client):
    assert await read_blob(registry_client, flaky_server, offset=1000) == BLOB[1000:]
    assert flaky.blob_ranges == ["bytes=1000-"]


async def test_download_gives_up_without_progress(flaky, flaky_server, registry_client):
    flaky.blob_cut_at = [0] * 10
    with pytest.raises(TransportError, match="at byte 0"):
        await read_blob(registry_client, flaky_server)
    assert len(flaky.blob_ranges) == registry_client.retry.attempts


def test_retry_policy_delays():
    policy = RetryPolicy(base_delay=1, max_delay=4, max_retry_after=30)
    assert 0.5 <= policy.delay(1) <= 1
    assert 2 <= policy.delay(3) <= 4
    assert 2 <= policy.delay(10) <= 4
    assert policy.delay(1, "7") == 7
    assert policy.delay(1, "999") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
