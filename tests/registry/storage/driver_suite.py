"""The storage-driver contract (registry/storage/driver.py) as tests every driver must pass.

A driver's test module subclasses DriverSuite and supplies a ``harness``
fixture: a fresh, empty store plus a way to find what the driver keeps out of
sight (temporary files, unfinished uploads)::

    class TestS3Driver(DriverSuite):
        @pytest.fixture
        async def harness(self):
            driver = S3Driver(bucket=..., root=f"/test-{uuid4().hex}")
            yield DriverHarness(driver, leftovers=driver_specific_leftover_listing)
            await driver.close()

After every test the suite fails if the harness reports leftovers: each test
finishes, cancels or deletes what it writes, so anything left is a leak.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial

import aiohttp
import pytest

from registry.storage.driver import (MAX_PATH, MAX_SEGMENT, FileWriter, InvalidOffset,
                                     InvalidPath, PathNotFound, StorageDriver, StorageError)

MiB = 1 << 20
Appender = Callable[[str], Awaitable[FileWriter]]


@dataclass(frozen=True)
class DriverHarness:
    driver: StorageDriver
    leftovers: Callable[[], Awaitable[list[str]]]
    """Names of internal objects (temporary files, unfinished writes) still in the store."""


def payload(size: int, seed: int = 0) -> bytes:
    """Reproducible incompressible bytes, so misplaced chunks and truncations show."""
    return random.Random(seed).randbytes(size)


def numbered_chunks(count: int, size: int) -> Iterator[bytes]:
    """``count`` distinct chunks cut from one random block: a big stream, cheap to generate."""
    block = payload(size)
    for i in range(count):
        yield i.to_bytes(8, "big") + block[8:]


async def read_all(driver: StorageDriver, path: str, offset: int = 0,
                   chunk_size: int = MiB) -> bytes:
    """The stream's bytes, checking that no chunk exceeds ``chunk_size``."""
    chunks = [chunk async for chunk in driver.read_stream(path, offset, chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    return b"".join(chunks)


async def stream_digest(stream: AsyncIterator[bytes]) -> tuple[int, str]:
    """Size and sha256 of a stream, without holding it whole."""
    digest, size = hashlib.sha256(), 0
    async for chunk in stream:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


async def assert_missing(operation: Callable[[str], Awaitable[object]], *paths: str) -> None:
    """``operation(path)`` raises PathNotFound naming ``path``, for each of ``paths``."""
    for path in paths:
        with pytest.raises(PathNotFound) as raised:
            await operation(path)
        assert raised.value.path == path


async def leave_unfinished(driver: StorageDriver, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` and close the writer uncommitted, as a paused upload does."""
    writer = await driver.writer(path)
    await writer.write(data)
    await writer.close()


async def first_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
    """Start a stream (its errors surface on first iteration) and close it again."""
    try:
        return await anext(stream, None)
    finally:
        await stream.aclose()


def _path_of_length(length: int) -> str:
    segment = "/" + "x" * (MAX_SEGMENT - 1)
    whole, rest = divmod(length, len(segment))
    return segment * whole + ("/" + "y" * (rest - 1) if rest else "")


def _short_id(path: str) -> str:
    return repr(path) if len(path) <= 40 else f"{path[:12]}...{len(path)}chars"


VALID_PATHS = [
    "/a", "/2", "/a.a", "/.abc", "/abc.", "/...", "/a--b", "/_.x", "/A/b-C/1.2.3_4",
    "/docker/registry/v2/blobs/sha256/ab/" + "ab" * 32 + "/data",
    "/" + "s" * MAX_SEGMENT,
    "".join(f"/d{i}" for i in range(60)),
    _path_of_length(MAX_PATH),
]

INVALID_PATHS = [
    "", "a", "a/b", "//a", "/a//b", "/a/", "/.", "/..", "/a/..", "/a/../b", "/a/./b",
    "/a b", "/a\tb", "/a\nb", "/a\x00b", "/a~b", "/a:b", "/a\\b", "/a?b", "/a*b", "/\u00e4",
    "/" + "s" * (MAX_SEGMENT + 1),
    _path_of_length(MAX_PATH + 1),
]


class DriverSuite:
    """Subclass as ``Test<Driver>`` and add a ``harness`` fixture yielding a DriverHarness."""

    @pytest.fixture
    def driver(self, harness: DriverHarness) -> StorageDriver:
        return harness.driver

    @pytest.fixture
    def append_to(self, driver: StorageDriver) -> Appender:
        """``driver.writer(path, append=True)`` as a one-argument call, for assert_missing."""
        return partial(driver.writer, append=True)

    @pytest.fixture(autouse=True)
    async def _nothing_left_behind(self, harness: DriverHarness) -> AsyncIterator[None]:
        yield
        assert await harness.leftovers() == []

    # -- paths ---------------------------------------------------------------

    @pytest.mark.parametrize("path", VALID_PATHS, ids=_short_id)
    async def test_valid_path(self, driver: StorageDriver, path: str) -> None:
        await driver.put_content(path, b"content")
        assert await driver.get_content(path) == b"content"
        assert (await driver.stat(path)).path == path
        parent = path.rsplit("/", 1)[0] or "/"
        assert path in await driver.list(parent)
        await driver.delete(path)
        assert await driver.list("/") == []

    @pytest.mark.parametrize("path", INVALID_PATHS, ids=_short_id)
    async def test_invalid_path(self, driver: StorageDriver, path: str) -> None:
        await driver.put_content("/ok", b"ok")
        operations = [
            driver.get_content(path), driver.put_content(path, b"x"),
            first_chunk(driver.read_stream(path)), driver.writer(path),
            driver.writer(path, append=True), driver.stat(path), driver.list(path),
            driver.move(path, "/ok"), driver.move("/ok", path), driver.delete(path),
        ]
        for operation in operations:
            with pytest.raises(InvalidPath) as raised:
                await operation
            assert raised.value.path == path
        assert await driver.list("/") == ["/ok"]
        await driver.delete("/ok")

    async def test_root_is_only_listable(self, driver: StorageDriver) -> None:
        assert await driver.list("/") == []
        for operation in (driver.put_content("/", b""), driver.stat("/"), driver.delete("/")):
            with pytest.raises(InvalidPath):
                await operation

    # -- whole objects -------------------------------------------------------

    @pytest.mark.parametrize("content", [
        b"", b"a", "\u00df".encode(), b"\x80\x80\x80\x80", bytes(range(256)) * 4, payload(MiB),
    ], ids=["empty", "one-byte", "utf8", "non-utf8", "all-bytes", "1MiB"])
    async def test_put_get_round_trip(self, driver: StorageDriver, content: bytes) -> None:
        await driver.put_content("/dir/object", content)
        assert await driver.get_content("/dir/object") == content
        assert (await driver.stat("/dir/object")).size == len(content)
        await driver.delete("/dir")

    async def test_put_replaces_all_content(self, driver: StorageDriver) -> None:
        await driver.put_content("/object", payload(MiB, 1))
        await driver.put_content("/object", b"short")
        assert await driver.get_content("/object") == b"short"
        await driver.delete("/object")

    async def test_readers_see_old_or_new_content_never_a_mix(self, driver: StorageDriver) -> None:
        values = {payload(256 * 1024, 1), payload(64 * 1024, 2)}
        await driver.put_content("/object", min(values))
        seen: list[bytes] = []

        async def overwrite() -> None:
            for _ in range(10):
                for value in values:
                    await driver.put_content("/object", value)

        async def read() -> None:
            for _ in range(40):
                seen.append(await driver.get_content("/object"))
                seen.append(await read_all(driver, "/object"))

        await asyncio.gather(overwrite(), overwrite(), read(), read())
        assert set(seen) <= values
        await driver.delete("/object")

    async def test_concurrent_puts_leave_one_whole_value(self, driver: StorageDriver) -> None:
        values = [payload(64 * 1024, seed) for seed in range(32)]
        listings: list[list[str]] = []

        async def watch() -> None:
            for _ in range(20):
                try:
                    listings.append(await driver.list("/dir"))
                except PathNotFound:
                    pass
                await asyncio.sleep(0)

        await asyncio.gather(watch(), *(driver.put_content("/dir/object", v) for v in values))
        assert await driver.get_content("/dir/object") in values
        assert all(listing == ["/dir/object"] for listing in listings)
        await driver.delete("/dir")

    async def test_get_missing(self, driver: StorageDriver) -> None:
        await driver.put_content("/dir/object", b"x")
        await assert_missing(driver.get_content, "/missing", "/dir", "/dir/object/below")
        await driver.delete("/dir")

    # -- streams -------------------------------------------------------------

    async def test_large_streamed_write(self, driver: StorageDriver) -> None:
        written = hashlib.sha256()
        writer = await driver.writer("/big")
        for chunk in numbered_chunks(64, MiB):
            await writer.write(chunk)
            written.update(chunk)
        assert writer.size == 64 * MiB
        await writer.commit()
        assert (await driver.stat("/big")).size == 64 * MiB
        assert await stream_digest(driver.read_stream("/big", 0, 4 * MiB)) == (
            64 * MiB, written.hexdigest())
        await driver.delete("/big")

    async def test_event_loop_keeps_running_during_big_write(self, driver: StorageDriver) -> None:
        """A driver doing disk or network I/O on the loop would stall every other request."""
        loop = asyncio.get_running_loop()
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(loop.time())
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        try:
            writer = await driver.writer("/big")
            ticks_before_writes = len(ticks)
            for chunk in numbered_chunks(16, 2 * MiB):
                await writer.write(chunk)
            assert len(ticks) > ticks_before_writes, "no other task ran during the writes"
            await writer.commit()
            await driver.put_content("/whole", payload(8 * MiB))
            await stream_digest(driver.read_stream("/big"))
        finally:
            ticker.cancel()
        longest_stall = max(b - a for a, b in zip(ticks, ticks[1:]))
        assert longest_stall < 0.2
        await driver.delete("/big")
        await driver.delete("/whole")

    @pytest.mark.parametrize("offset", [0, 1, 4096, 50_000, 98_303, 98_304])
    async def test_read_stream_from_offset(self, driver: StorageDriver, offset: int) -> None:
        content = payload(98_304)
        await driver.put_content("/object", content)
        assert await read_all(driver, "/object", offset, chunk_size=4096) == content[offset:]
        await driver.delete("/object")

    @pytest.mark.parametrize("offset", [-1, 98_305, 1 << 40])
    async def test_read_stream_invalid_offset(self, driver: StorageDriver, offset: int) -> None:
        await driver.put_content("/object", payload(98_304))
        with pytest.raises(InvalidOffset) as raised:
            await first_chunk(driver.read_stream("/object", offset))
        assert (raised.value.path, raised.value.offset) == ("/object", offset)
        await driver.delete("/object")

    async def test_read_stream_missing(self, driver: StorageDriver) -> None:
        await driver.put_content("/dir/object", b"x")
        await assert_missing(lambda path: first_chunk(driver.read_stream(path)), "/missing", "/dir")
        await assert_missing(lambda path: first_chunk(driver.read_stream(path, 64)), "/missing")
        await driver.delete("/dir")

    async def test_concurrent_stream_reads(self, driver: StorageDriver) -> None:
        content = payload(4 * MiB)
        await driver.put_content("/object", content)
        offsets = random.Random(0).sample(range(len(content)), 8)
        reads = (read_all(driver, "/object", offset, 256 * 1024) for offset in offsets)
        results = await asyncio.gather(*reads)
        assert all(result == content[o:] for result, o in zip(results, offsets))
        await driver.delete("/object")

    # -- writers -------------------------------------------------------------

    # Tiny chunks, and chunks straddling S3's 5 MiB minimum multipart part size.
    @pytest.mark.parametrize("chunk_size", [32, 5 * MiB + 1])
    async def test_writer_appends_across_sessions(self, driver: StorageDriver,
                                                  chunk_size: int) -> None:
        chunks = list(numbered_chunks(3, chunk_size))
        writer = await driver.writer("/upload")
        for expected_size, chunk in enumerate(chunks, start=1):
            await writer.write(chunk)
            if expected_size < len(chunks):
                await writer.close()
                assert writer.size == expected_size * chunk_size
                writer = await driver.writer("/upload", append=True)
                assert writer.size == expected_size * chunk_size
        await writer.commit()
        assert await driver.get_content("/upload") == b"".join(chunks)
        await driver.delete("/upload")

    async def test_nothing_visible_before_commit(self, driver: StorageDriver) -> None:
        async def assert_invisible() -> None:
            await assert_missing(driver.stat, "/dir/upload", "/dir")
            await assert_missing(driver.get_content, "/dir/upload")
            await assert_missing(driver.list, "/dir")
            await assert_missing(lambda path: first_chunk(driver.read_stream(path)), "/dir/upload")
            assert await driver.list("/") == []

        writer = await driver.writer("/dir/upload")
        await assert_invisible()
        await writer.write(b"partial")
        await assert_invisible()
        await writer.close()
        await assert_invisible()
        writer = await driver.writer("/dir/upload", append=True)
        await writer.commit()
        assert await driver.list("/") == ["/dir"]
        assert await driver.list("/dir") == ["/dir/upload"]
        assert await driver.get_content("/dir/upload") == b"partial"
        await driver.delete("/dir")

    async def test_unfinished_write_keeps_old_content_visible(self, driver: StorageDriver) -> None:
        await driver.put_content("/object", b"old")
        writer = await driver.writer("/object")
        await writer.write(b"new content")
        assert await driver.get_content("/object") == b"old"
        assert (await driver.stat("/object")).size == 3
        await writer.commit()
        assert await driver.get_content("/object") == b"new content"
        await driver.delete("/object")

    async def test_writer_without_append_starts_over(self, driver: StorageDriver) -> None:
        await leave_unfinished(driver, "/upload", b"abandoned")
        writer = await driver.writer("/upload")
        assert writer.size == 0
        await writer.write(b"fresh")
        await writer.commit()
        assert await driver.get_content("/upload") == b"fresh"
        await driver.delete("/upload")

    async def test_append_needs_an_unfinished_write(self, driver: StorageDriver,
                                                    append_to: Appender) -> None:
        await assert_missing(append_to, "/upload")
        await driver.put_content("/upload", b"committed")
        await assert_missing(append_to, "/upload")
        await driver.delete("/upload")

    async def test_one_writer_at_a_time(self, driver: StorageDriver) -> None:
        """A second writer waits for the first, then continues where it left off."""
        writer = await driver.writer("/upload")
        await writer.write(b"abc")
        waiting = asyncio.ensure_future(driver.writer("/upload", append=True))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await writer.close()
        resumed = await asyncio.wait_for(waiting, 5)
        assert resumed.size == 3
        await resumed.cancel()

    async def test_a_writer_that_waited_for_a_commit_finds_nothing(
            self, driver: StorageDriver) -> None:
        writer = await driver.writer("/upload")
        await writer.write(b"abc")
        waiting = asyncio.ensure_future(driver.writer("/upload", append=True))
        await asyncio.sleep(0.1)
        await writer.commit()
        with pytest.raises(PathNotFound):
            await asyncio.wait_for(waiting, 5)
        assert await driver.get_content("/upload") == b"abc"
        await driver.delete("/upload")

    async def test_unfinished_size_does_not_wait_for_the_writer(
            self, driver: StorageDriver) -> None:
        with pytest.raises(PathNotFound):
            await driver.unfinished_size("/upload")
        writer = await driver.writer("/upload")
        await writer.write(b"abc")
        await writer.close()
        writer = await driver.writer("/upload", append=True)
        await writer.write(b"def")
        assert await asyncio.wait_for(driver.unfinished_size("/upload"), 1) in (3, 6)
        await writer.commit()
        with pytest.raises(PathNotFound):
            await driver.unfinished_size("/upload")
        await driver.delete("/upload")

    async def test_cancel_leaves_nothing(self, driver: StorageDriver, append_to: Appender) -> None:
        await leave_unfinished(driver, "/dir/upload", b"first session")
        writer = await driver.writer("/dir/upload", append=True)
        await writer.write(b"second session")
        await writer.cancel()
        await assert_missing(driver.stat, "/dir/upload")
        await assert_missing(append_to, "/dir/upload")
        assert await driver.list("/") == []

    async def test_cancel_keeps_committed_content(self, driver: StorageDriver) -> None:
        await driver.put_content("/object", b"committed")
        writer = await driver.writer("/object")
        await writer.write(b"discarded")
        await writer.cancel()
        assert await driver.get_content("/object") == b"committed"
        await driver.delete("/object")

    async def test_internal_names_never_collide_with_paths(self, driver: StorageDriver) -> None:
        """Names a driver might pick for its own files are ordinary paths to callers."""
        neighbours = ["/a.partial", "/a.tmp", "/.tmp-a", "/a_upload", "/.a"]
        for path in neighbours:
            await driver.put_content(path, path.encode())
        await leave_unfinished(driver, "/a", b"unfinished")
        assert await driver.list("/") == sorted(neighbours)
        await (await driver.writer("/a", append=True)).cancel()
        for path in neighbours:
            assert await driver.get_content(path) == path.encode()
            await driver.delete(path)

    async def test_empty_commit(self, driver: StorageDriver) -> None:
        writer = await driver.writer("/empty")
        await writer.commit()
        assert await driver.get_content("/empty") == b""
        await driver.delete("/empty")

    async def test_finished_writer_refuses_more(self, driver: StorageDriver) -> None:
        writer = await driver.writer("/object")
        await writer.commit()
        await writer.close()  # a no-op once finished
        for operation in (writer.write(b"late"), writer.commit(), writer.cancel()):
            with pytest.raises(StorageError):
                await operation
        writer = await driver.writer("/upload")
        await writer.close()
        with pytest.raises(StorageError):
            await writer.write(b"late")
        await (await driver.writer("/upload", append=True)).cancel()
        await driver.delete("/object")

    async def test_writer_as_context_manager_keeps_partial(self, driver: StorageDriver) -> None:
        async with await driver.writer("/upload") as writer:
            await writer.write(b"kept")
        writer = await driver.writer("/upload", append=True)
        assert writer.size == 4
        await writer.cancel()

    async def test_commit_after_delete(self, driver: StorageDriver) -> None:
        writer = await driver.writer("/upload")
        await writer.write(b"doomed")
        await driver.delete("/upload")
        await assert_missing(lambda _: writer.commit(), "/upload")
        await assert_missing(driver.get_content, "/upload")

    # -- list and stat -------------------------------------------------------

    async def test_list(self, driver: StorageDriver) -> None:
        children = [f"/root/dir/{name:x}" for name in random.Random(0).sample(range(1 << 20), 50)]
        for child in [*children, "/root/dir/sub/deeper", "/root/file"]:
            await driver.put_content(child, b"x")
        unfinished = await driver.writer("/root/dir/unfinished")
        await unfinished.write(b"not listed")
        assert await driver.list("/") == ["/root"]
        assert await driver.list("/root") == ["/root/dir", "/root/file"]
        assert await driver.list("/root/dir") == sorted([*children, "/root/dir/sub"])
        await assert_missing(driver.list, "/root/missing", "/root/file", "/root/dir/unfinished")
        await unfinished.cancel()
        await driver.delete("/root")

    async def test_stat(self, driver: StorageDriver) -> None:
        before = time.time()
        await driver.put_content("/dir/object", payload(4096))
        after = time.time()
        info = await driver.stat("/dir/object")
        assert (info.path, info.size, info.is_dir) == ("/dir/object", 4096, False)
        assert before - 2 <= info.modified <= after + 2
        info = await driver.stat("/dir")
        assert (info.path, info.size, info.is_dir) == ("/dir", 0, True)
        await assert_missing(driver.stat, "/missing", "/missing/object", "/dir/object/below")
        await driver.delete("/dir")

    # -- move ----------------------------------------------------------------

    async def test_move(self, driver: StorageDriver) -> None:
        await driver.put_content("/from/here/object", b"moved")
        await driver.move("/from/here/object", "/to/new/parents/object")
        assert await driver.get_content("/to/new/parents/object") == b"moved"
        assert await driver.list("/") == ["/to"]
        await driver.delete("/to")

    async def test_move_replaces_destination(self, driver: StorageDriver) -> None:
        await driver.put_content("/source", b"new")
        await driver.put_content("/dest", payload(MiB))
        await driver.move("/source", "/dest")
        assert await driver.get_content("/dest") == b"new"
        assert await driver.list("/") == ["/dest"]
        await driver.delete("/dest")

    async def test_move_missing_source(self, driver: StorageDriver) -> None:
        await driver.put_content("/dest", b"untouched")
        await assert_missing(lambda source: driver.move(source, "/dest"), "/missing", "/dest/below")
        await assert_missing(lambda source: driver.move(source, "/new/parent/dest"), "/missing")
        assert await driver.get_content("/dest") == b"untouched"
        assert await driver.list("/") == ["/dest"]
        await driver.delete("/dest")

    # -- delete --------------------------------------------------------------

    async def test_delete_file(self, driver: StorageDriver) -> None:
        await driver.put_content("/dir/gone", b"x")
        await driver.put_content("/dir/kept", b"y")
        await driver.delete("/dir/gone")
        await assert_missing(driver.get_content, "/dir/gone")
        assert await driver.list("/dir") == ["/dir/kept"]
        await driver.delete("/dir/kept")
        await assert_missing(driver.stat, "/dir")  # its last object gone, the directory is too
        assert await driver.list("/") == []

    async def test_delete_tree(self, driver: StorageDriver) -> None:
        for path in ("/tree/a", "/tree/b/c", "/tree/b/d/e", "/treetop"):
            await driver.put_content(path, b"x")
        await driver.delete("/tree")
        await assert_missing(driver.get_content, "/tree/a", "/tree/b/c", "/tree/b/d/e")
        assert await driver.list("/") == ["/treetop"]
        await driver.delete("/treetop")

    async def test_delete_only_deletes_subpaths(self, driver: StorageDriver) -> None:
        for path in ("/x/a", "/x/ab", "/x/a-b/c", "/x/a.b"):
            await driver.put_content(path, b"x")
        await driver.delete("/x/a")
        assert await driver.list("/x") == ["/x/a-b", "/x/a.b", "/x/ab"]
        await driver.delete("/x")

    async def test_delete_missing(self, driver: StorageDriver) -> None:
        await driver.put_content("/file", b"x")
        await assert_missing(driver.delete, "/missing", "/missing/below", "/file/below")
        await driver.delete("/file")

    async def test_delete_removes_unfinished_writes(self, driver: StorageDriver,
                                                    append_to: Appender) -> None:
        await leave_unfinished(driver, "/upload", b"unfinished")
        await driver.delete("/upload")
        await driver.put_content("/session/startedat", b"now")
        await leave_unfinished(driver, "/session/data", b"unfinished")
        await driver.delete("/session")
        await assert_missing(append_to, "/upload", "/session/data")
        assert await driver.list("/") == []

    async def test_concurrent_puts_and_deletes_share_directories(
            self, driver: StorageDriver) -> None:
        """Deleting the last object of a directory races with creating one in it."""
        async def churn(task: int) -> None:
            for _ in range(40):
                await driver.put_content(f"/repo/_uploads/shared/{task}", b"now")
                await driver.delete(f"/repo/_uploads/shared/{task}")

        await driver.put_content("/repo/kept", b"x")
        await asyncio.gather(*(churn(task) for task in range(8)))
        assert await driver.list("/repo") == ["/repo/kept"]
        await driver.delete("/repo")

    # -- direct access -------------------------------------------------------

    async def test_local_file(self, driver: StorageDriver) -> None:
        await driver.put_content("/object", b"local")
        name = driver.local_file("/object")
        if name is not None:
            with open(name, "rb") as f:
                assert f.read() == b"local"
        await driver.delete("/object")

    async def test_redirect_url(self, driver: StorageDriver) -> None:
        await driver.put_content("/object", b"redirected")
        url = await driver.redirect_url("/object")
        if url is not None:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert await response.read() == b"redirected"
        await driver.delete("/object")

