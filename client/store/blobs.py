"""Content-addressed blobs of the OCI layout, and how new ones get in.

``blobs/<algorithm>/<hex>`` only ever holds verified content: a blob is written
under ``ingest/``, hashed as it arrives, checked against the digest and size it
was announced with, fsynced and renamed into place.  A download with a known
digest keeps its bytes in ``ingest/<algorithm>-<hex>.partial`` so that a retry
resumes where it stopped (an HTTP ``Range`` from ``offset``); its writer holds
an ``flock`` on that file, which both stops two processes writing one blob and
tells ``prune`` which partial files are abandoned.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

from ocispec.digest import Digest, InvalidDigest

from client.fsutil import fsync_dir, is_abandoned

from .errors import BlobNotFound, DigestMismatch

PARTIAL_SUFFIX = ".partial"
_READ_SIZE = 1 << 20
# Bytes gathered before one trip to a worker thread: fewer, larger writes and hash updates.
_FLUSH_SIZE = 1 << 20

T = TypeVar("T")


class BlobStore:
    """``blobs/`` and ``ingest/`` of one OCI layout."""

    def __init__(self, layout: Path) -> None:
        self.root = layout / "blobs"
        self.ingest_dir = layout / "ingest"

    def create(self) -> None:
        (self.root / "sha256").mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(exist_ok=True)

    def path(self, digest: Digest) -> Path:
        return self.root / digest.algorithm / digest.hex

    def has(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is not in the local store") from None

    def open(self, digest: Digest) -> BinaryIO:
        """The blob's content, for streaming (say, to a registry)."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is not in the local store") from None

    def read(self, digest: Digest) -> bytes:
        """A small blob (manifest, config) whole."""
        with self.open(digest) as f:
            return f.read()

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store a small blob held in memory; verified against ``expected`` when given."""
        with self.writer(expected, len(data)) as writer:
            if not writer.complete:
                writer.write(data)
        return writer.digest

    def writer(self, expected: Digest | None = None, size: int | None = None) -> "BlobWriter":
        """A writer for a new blob; ``expected`` and ``size`` are verified on commit."""
        return BlobWriter(self, expected, size)

    def delete(self, digest: Digest) -> int:
        """Remove a blob; returns the bytes freed (0 when it was not there)."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def total_size(self, digests: Iterable[Digest]) -> int:
        """Bytes taken by those of ``digests`` that are stored."""
        total = 0
        for digest in digests:
            try:
                total += self.path(digest).stat().st_size
            except FileNotFoundError:
                continue
        return total

    def digests(self) -> Iterator[Digest]:
        """Every stored blob (files that are not digests are not ours and are skipped)."""
        if not self.root.is_dir():
            return
        for algorithm in os.scandir(self.root):
            for entry in os.scandir(algorithm.path):
                try:
                    yield Digest.parse(f"{algorithm.name}:{entry.name}")
                except InvalidDigest:
                    continue

    def abandoned_partials(self) -> list[Path]:
        """Partial files no writer holds: interrupted downloads left for a resume."""
        if not self.ingest_dir.is_dir():
            return []
        return [Path(e.path) for e in os.scandir(self.ingest_dir) if is_abandoned(Path(e.path))]


class BlobWriter:
    """Writes one blob (blocking); a context manager that commits on a clean exit.

    ``complete`` is true when the store already had the blob: nothing need be
    written.  ``offset`` is how much of it a previous, interrupted attempt left;
    write from there on, or call ``reset`` if the source cannot resume.  On an
    error the partial file stays for a resume, unless the content was wrong.
    """

    def __init__(self, store: BlobStore, expected: Digest | None, size: int | None) -> None:
        self._store = store
        self._expected = expected
        self._size = size
        self._hasher = hashlib.new(expected.algorithm if expected else "sha256")
        name = f"{expected.algorithm}-{expected.hex}" if expected else f"tmp-{uuid.uuid4().hex}"
        self._partial = store.ingest_dir / (name + PARTIAL_SUFFIX)
        self._fd = self._lock_partial()
        self.complete = bool(expected and store.has(expected))
        self.offset = 0
        if self.complete:
            self._discard()
            self._close()
        else:
            self.offset = self._hash_existing()

    def _lock_partial(self) -> int:
        """Open and lock the partial file, waiting while another process writes it.

        The file we locked may have been renamed into place or deleted by its
        previous owner meanwhile; then the lock guards nothing and we start over.
        """
        while True:
            fd = os.open(self._partial, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self._partial).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    @property
    def digest(self) -> Digest:
        """The blob's digest: the expected one, or (without one) what was written."""
        return self._expected or Digest(self._hasher.name, self._hasher.hexdigest())

    def _hash_existing(self) -> int:
        offset = 0
        while chunk := os.pread(self._fd, _READ_SIZE, offset):
            self._hasher.update(chunk)
            offset += len(chunk)
        if self._size is not None and offset > self._size:
            self.reset()
            return 0
        return offset

    def reset(self) -> None:
        """Start again from byte 0 (the source ignored a range request)."""
        os.ftruncate(self._fd, 0)
        self._hasher = hashlib.new(self._hasher.name)
        self.offset = 0

    def write(self, data: bytes) -> None:
        if self._size is not None and self.offset + len(data) > self._size:
            self._fail(f"blob {self.digest}: more than the announced {self._size} bytes")
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, self.offset)
            self.offset += written
            view = view[written:]
        self._hasher.update(data)

    def commit(self) -> Digest:
        """Verify, make durable and publish the blob; raises DigestMismatch otherwise."""
        if self.complete:
            return self.digest
        if self._size is not None and self.offset != self._size:
            self._fail(f"blob {self.digest}: got {self.offset} of {self._size} bytes")
        actual = Digest(self._hasher.name, self._hasher.hexdigest())
        if self._expected and actual != self._expected:
            self._fail(f"blob {self._expected}: content has digest {actual}")
        os.fsync(self._fd)
        target = self._store.path(actual)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self._partial, target)
        fsync_dir(target.parent)
        self._expected = actual
        self.complete = True
        self._close()
        return actual

    def abort(self) -> None:
        """Stop writing; a partial download of a known digest is kept for a resume."""
        if self._expected is None:
            self._discard()
        self._close()

    def _fail(self, message: str) -> None:
        self._discard()
        self._close()
        raise DigestMismatch(message)

    def _discard(self) -> None:
        self._partial.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


class AsyncBlobWriter:
    """The async face of ``BlobWriter``: ``async with store.ingest(digest, size) as w``.

    Chunks are gathered up to a megabyte and written and hashed in a worker
    thread, so the event loop never waits on the disk or on SHA-256; it goes
    on receiving the next megabyte meanwhile (one hand-off in flight at most,
    which keeps the order) and never copies the chunks itself.
    """

    def __init__(self, store: BlobStore, expected: Digest | None, size: int | None) -> None:
        self._open = lambda: store.writer(expected, size)
        self._writer: BlobWriter | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0  # bytes in self._chunks
        self._in_flight = 0  # bytes handed to the worker, not yet written
        self._pending: asyncio.Future[Any] | None = None

    @property
    def complete(self) -> bool:
        """The store already has the blob: skip the download."""
        return self._sync.complete

    @property
    def offset(self) -> int:
        """Where to resume: bytes already written (including buffered ones)."""
        return self._sync.offset + self._in_flight + self._buffered

    @property
    def digest(self) -> Digest:
        return self._sync.digest

    @property
    def _sync(self) -> BlobWriter:
        assert self._writer is not None, "use the writer inside 'async with'"
        return self._writer

    async def write(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH_SIZE:
            await self._hand_off()

    async def reset(self) -> None:
        await self._settle()
        self._chunks, self._buffered = [], 0
        await self._run(self._sync.reset)

    async def _settle(self) -> None:
        """Wait for the hand-off in flight; its error, if any, is raised here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            try:
                await asyncio.shield(pending)
            finally:
                self._in_flight = 0

    async def _hand_off(self) -> None:
        """Start writing the buffered chunks in the worker thread, once the last hand-off is done."""
        await self._settle()
        if self._chunks:
            chunks, self._chunks = self._chunks, []
            self._in_flight, self._buffered = self._buffered, 0
            self._pending = asyncio.get_running_loop().run_in_executor(
                None, lambda: self._sync.write(b"".join(chunks)))

    async def _flush(self) -> None:
        await self._hand_off()
        await self._settle()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        # Shielded: a cancelled caller must not leave a write running while the
        # writer is aborted, so the worker's job is always waited for.
        self._pending = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        return await asyncio.shield(self._pending)

    async def __aenter__(self) -> "AsyncBlobWriter":
        self._writer = await asyncio.to_thread(self._open)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._pending is not None and not self._pending.done():
            await asyncio.wait([self._pending])
        if kind is None:
            await self._flush()
            await self._run(self._sync.commit)
            return
        try:
            if not isinstance(value, DigestMismatch):  # what did arrive is kept for a resume
                await self._flush()
        finally:
            await asyncio.to_thread(self._sync.abort)
