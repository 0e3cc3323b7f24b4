"""Two worker processes over one storage: one upload written by one worker at a time, and
workers that die with a killed supervisor, so a restarted server finds no lock still held."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from .server_process import run_registry
from .test_crash import send_without_finishing, start_session, stored_size
from .test_server import request, wait_for, worker_pids

pytestmark = pytest.mark.slow

MiB = 1 << 20
CHUNK = 2 * MiB
PATCHES = 16  # on connections of their own: all to one worker once in 30000 runs


async def _patch(url: str, location: str, data: bytes, start: int) -> int:
    """A PATCH on a connection of its own (the kernel may hand it to either worker)."""
    async with aiohttp.ClientSession(url) as http:
        async with http.patch(location, data=data, headers={
                "Content-Range": f"{start}-{start + len(data) - 1}"}) as response:
            return response.status


async def test_concurrent_patches_on_one_upload_never_interleave(tmp_path: Path):
    chunks = [bytes([n]) * CHUNK for n in range(PATCHES)]
    with run_registry(tmp_path, workers=2) as server:
        wait_for(lambda: len(worker_pids(server.pid)) == 2)
        async with aiohttp.ClientSession(server.url) as http:
            location = await start_session(http)
            statuses = await asyncio.gather(*(_patch(server.url, location, chunk, 0)
                                              for chunk in chunks))
            # All claim to start at 0: the one that got the session first appends,
            # every other finds it no longer ends at 0.
            assert sorted(statuses) == [202] + [416] * (PATCHES - 1)
            assert await stored_size(http, location) == CHUNK
            winner = chunks[statuses.index(202)]
            digest = f"sha256:{hashlib.sha256(winner).hexdigest()}"
            async with http.put(location, params={"digest": digest}) as response:
                assert response.status == 201, await response.text()
        workers = {int(line.split("[", 1)[1].split("]", 1)[0])
                   for line in server.output().splitlines() if '"PATCH ' in line}
    assert len(workers) == 2, "the PATCHes all went to one worker; the test proved nothing"


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


async def test_killed_supervisor_takes_its_workers_along(tmp_path: Path):
    """A PATCH left hanging holds the upload's lock; the restarted server must get it."""
    data = random.Random(3).randbytes(16 * MiB)
    server = run_registry(tmp_path, workers=2)
    with server:
        workers = wait_for(lambda: len(worker_pids(server.pid)) == 2 and worker_pids(server.pid))
        async with aiohttp.ClientSession(server.url) as http:
            location = await start_session(http)
            hanging = await send_without_finishing(server.port, "PATCH", location, len(data),
                                                   data[:4 * MiB], 0)
            for _ in range(500):  # until part of the chunk has reached storage
                if await stored_size(http, location) > MiB:
                    break
                await asyncio.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)  # the supervisor only
        server.process.wait()
        wait_for(lambda: _gone(workers), timeout=5)
        hanging.close()

        server.start()
        async with aiohttp.ClientSession(server.url) as http:
            done = await stored_size(http, location)
            assert MiB < done <= 4 * MiB
            started = time.monotonic()
            status = await asyncio.wait_for(
                _patch(server.url, location, data[done:], done), timeout=20)
            assert status == 202
            assert time.monotonic() - started < 10
            digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
            async with http.put(location, params={"digest": digest}) as response:
                assert response.status == 201, await response.text()
        assert request(server, "GET", f"/v2/crash/test/blobs/{digest}")[0].status == 200
