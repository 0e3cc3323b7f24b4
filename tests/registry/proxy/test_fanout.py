"""Broadcast: readers follow a download in bounded memory; the last bytes wait for the verdict."""

from __future__ import annotations

import asyncio

import pytest

from registry import errors
from registry.proxy.fanout import Broadcast, FellBehind


async def _collect(broadcast: Broadcast, offset: int = 0) -> bytes:
    return b"".join([chunk async for chunk in broadcast.read(offset)])


async def test_readers_get_chunks_as_published_and_the_end_only_once_verified():
    broadcast = Broadcast(size=6)
    reader = broadcast.read(0)
    broadcast.publish(b"abc")
    assert await reader.__anext__() == b"abc"  # before the download has ended
    broadcast.publish(b"def")
    last = asyncio.ensure_future(reader.__anext__())
    await asyncio.sleep(0.01)
    assert not last.done()  # the final bytes wait for verification
    late = asyncio.ensure_future(_collect(broadcast, 1))
    broadcast.finish()
    with pytest.raises(FellBehind):  # after the commit the rest comes from storage
        await last
    with pytest.raises(FellBehind):
        await late


async def test_a_failed_download_fails_every_reader():
    broadcast = Broadcast(size=10)
    reader = asyncio.ensure_future(_collect(broadcast))
    broadcast.publish(b"abcd")
    await asyncio.sleep(0.01)
    broadcast.finish(errors.DigestInvalid())
    with pytest.raises(errors.DigestInvalid):
        await reader


async def test_memory_is_bounded_and_a_reader_left_behind_is_told():
    broadcast = Broadcast(size=None, window=10)
    for _ in range(30):
        broadcast.publish(b"x" * 4)
    assert broadcast.first > 0
    with pytest.raises(FellBehind):
        await broadcast.read(0).__anext__()
    assert await broadcast.read(116).__anext__() == b"xxxx"
