"""SIGKILL in the middle of uploads, then a restart on the same storage.

What must hold afterwards: only complete, verified blobs are visible (every
blob file hashes to its name), an interrupted session can be continued from
what reached the disk, and ``purge_stale`` clears whatever was abandoned.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

import aiohttp
import pytest

from registry.model.uploads import purge_stale
from registry.storage.filesystem import FileSystemDriver

from .server_process import registry_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

MiB = 1 << 20
NAME = "crash/test"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


async def start_session(http: aiohttp.ClientSession) -> str:
    async with http.post(f"/v2/{NAME}/blobs/uploads/") as response:
        assert response.status == 202
        return response.headers["Location"]


async def patch(http: aiohttp.ClientSession, location: str, data: bytes, start: int) -> None:
    async with http.patch(location, data=data,
                          headers={"Content-Range": f"{start}-{start + len(data) - 1}"}) as response:
        assert response.status == 202, await response.text()


async def stored_size(http: aiohttp.ClientSession, location: str) -> int | None:
    """Bytes the session holds (None: no such session); only for sessions holding some."""
    async with http.get(location) as response:
        if response.status == 404:
            return None
        assert response.status == 204
        return int(response.headers["Range"].split("-")[1]) + 1


async def send_without_finishing(port: int, method: str, target: str, length: int,
                                 chunk: bytes, start: int) -> asyncio.StreamWriter:
    """Send a request declaring a ``length``-byte chunk at ``start`` but only ``chunk`` of it."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Length: {length}\r\nContent-Range: {start}-{start + length - 1}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n")
    writer.write(head.encode() + chunk)
    await writer.drain()
    return writer


async def blob_of(http: aiohttp.ClientSession, digest: str) -> bytes | None:
    async with http.get(f"/v2/{NAME}/blobs/{digest}") as response:
        if response.status == 404:
            return None
        assert response.status == 200
        return await response.read()


def assert_blobs_intact(root: Path) -> None:
    """Every blob in storage is complete: its content hashes to the digest it is stored under."""
    for data in (root / "docker/registry/v2/blobs").glob("*/*/*/data"):
        algorithm, encoded = data.parts[-4], data.parts[-2]
        with data.open("rb") as f:
            assert hashlib.file_digest(f, algorithm).hexdigest() == encoded, data


async def purge_everything(root: Path) -> int:
    driver = FileSystemDriver(str(root))
    try:
        return await purge_stale(driver, 0)
    finally:
        await driver.close()


async def test_killed_mid_patch_session_continues(registry_server):
    server, data = registry_server, random.Random(1).randbytes(32 * MiB)
    async with aiohttp.ClientSession(server.url) as http:
        abandoned = await start_session(http)
        await patch(http, abandoned, b"left behind", 0)
        location = await start_session(http)
        await patch(http, location, data[:4 * MiB], 0)
        hanging = await send_without_finishing(server.port, "PATCH", location,
                                               len(data) - 4 * MiB,
                                               data[4 * MiB:14 * MiB], 4 * MiB)
        for _ in range(500):  # until part of the hanging chunk has reached storage
            if await stored_size(http, location) > 4 * MiB:
                break
            await asyncio.sleep(0.02)
        server.kill()
        hanging.close()

    server.start()
    async with aiohttp.ClientSession(server.url) as http:
        assert await blob_of(http, digest_of(data)) is None
        done = await stored_size(http, location)
        assert 4 * MiB < done <= 14 * MiB
        await patch(http, location, data[done:], done)
        async with http.put(location, params={"digest": digest_of(data)}) as response:
            assert response.status == 201, await response.text()
        assert await blob_of(http, digest_of(data)) == data
        assert await purge_everything(server.root) == 1
        assert await stored_size(http, abandoned) is None
    assert_blobs_intact(server.root)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.5])
async def test_killed_while_finishing_leaves_the_whole_blob_or_nothing(registry_server, delay):
    """sha512 makes the server re-read the upload to verify it: a longer window to die in."""
    server, data = registry_server, random.Random(2).randbytes(48 * MiB)
    digest = digest_of(data, "sha512")
    async with aiohttp.ClientSession(server.url) as http:
        location = await start_session(http)
        await patch(http, location, data[:32 * MiB], 0)
        hanging = await send_without_finishing(server.port, "PUT", f"{location}?digest={digest}",
                                               16 * MiB, data[32 * MiB:], 32 * MiB)
        await asyncio.sleep(delay)
        server.kill()
        hanging.close()

    server.start()
    async with aiohttp.ClientSession(server.url) as http:
        found = await blob_of(http, digest)
        assert found in (None, data)
        if found is None:
            done = await stored_size(http, location)
            if done is None:  # the session ended with the kill: push again
                location, done = await start_session(http), 0
            if done < len(data):  # all of it may have arrived, only the commit missing
                await patch(http, location, data[done:], done)
            async with http.put(location, params={"digest": digest}) as response:
                assert response.status == 201, await response.text()
            assert await blob_of(http, digest) == data
        await purge_everything(server.root)
    assert_blobs_intact(server.root)
    assert not list((server.root / "docker/registry/v2/repositories").glob("*/*/_uploads/*"))
