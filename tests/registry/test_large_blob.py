"""A blob larger than 1 GiB, pushed in chunks to a real server process and pulled back.

Blobs are streamed in both directions, so the server's memory must not grow
with the blob: its peak RSS stays far below the blob's size.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from .server_process import registry_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

BLOCK = random.Random(1).randbytes(1 << 20)
SIZE = (1 << 30) + (1 << 20) + 123  # not a multiple of anything the server batches by
CHUNK = 256 << 20
MAX_PEAK_RSS = 128 << 20  # the server itself needs about 50 MiB


def pieces(start: int, stop: int) -> Iterator[bytes]:
    """Bytes ``[start, stop)`` of the blob (``BLOCK`` repeated), never more than a block at once."""
    offset = start
    while offset < stop:
        piece = BLOCK[offset % len(BLOCK):][:stop - offset]
        yield piece
        offset += len(piece)


async def body(start: int, stop: int) -> AsyncIterator[bytes]:
    for piece in pieces(start, stop):
        yield piece


def chunk_headers(start: int, stop: int) -> dict[str, str]:
    return {"Content-Range": f"{start}-{stop - 1}", "Content-Length": str(stop - start),
            "Content-Type": "application/octet-stream"}


async def test_round_trip_over_one_gibibyte_with_flat_memory(registry_server):
    hasher = hashlib.sha256()
    for piece in pieces(0, SIZE):
        hasher.update(piece)
    digest = f"sha256:{hasher.hexdigest()}"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(registry_server.url, timeout=timeout) as http:
        async with http.post("/v2/big/blob/blobs/uploads/") as response:
            assert response.status == 202
            location = response.headers["Location"]
        last = SIZE - SIZE % CHUNK
        for start in range(0, last, CHUNK):
            async with http.patch(location, data=body(start, start + CHUNK),
                                  headers=chunk_headers(start, start + CHUNK)) as response:
                assert response.status == 202, await response.text()
                assert response.headers["Range"] == f"0-{start + CHUNK - 1}"
                location = response.headers["Location"]
        async with http.put(location, params={"digest": digest}, data=body(last, SIZE),
                            headers=chunk_headers(last, SIZE)) as response:
            assert response.status == 201, await response.text()

        async with http.get(f"/v2/big/blob/blobs/{digest}") as response:
            assert response.status == 200
            assert response.content_length == SIZE
            pulled = hashlib.sha256()
            async for data in response.content.iter_chunked(1 << 20):
                pulled.update(data)
        assert f"sha256:{pulled.hexdigest()}" == digest
    peak = registry_server.peak_rss()
    assert peak < MAX_PEAK_RSS, f"peak RSS {peak >> 20} MiB"
