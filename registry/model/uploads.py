"""Blob upload sessions: appended to in order, then verified and adopted as a blob.

A session is nothing but storage, in distribution's layout: the object
``_uploads/<id>/startedat`` says it exists and when it began, and the
driver's unfinished write at ``_uploads/<id>/data`` holds its bytes.  So a
session survives a restart and any worker process can continue it.

Hashing is the one thing worth remembering between requests (re-reading a
large upload to hash it costs as much as receiving it), so each process keeps
a running sha256 per session in ``_Sessions``.  It is only an optimisation:
the stored size is the truth, and a hash whose offset disagrees with it
(another process appended, the server restarted, a write failed) is dropped;
the finished upload is then hashed from storage instead.  Either way the
digest is verified before ``BlobStore.adopt`` makes the blob visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

from ocispec.digest import Digest

from .. import errors
from ..storage.driver import FileWriter, PathNotFound, StorageDriver
from . import paths
from .blobs import LinkedBlobs

log = logging.getLogger(__name__)

BATCH_SIZE = 1 << 20
"""Request bodies are written and hashed in batches of this size: large enough
that the thread hand-offs cost little, small enough that memory stays flat."""

_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RUNNING_HASH = "sha256"


@dataclass(slots=True)
class _Progress:
    """A running hash of a session's first ``offset`` bytes."""

    offset: int
    hasher: "hashlib._Hash"


class _Sessions:
    """What this process knows of upload sessions: a lock and a running hash for each.

    The lock keeps two requests of one process from writing a session at the
    same time.  Hashes are kept for the most recently used sessions only;
    abandoned ones fall out.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        return lock

    def begin(self, upload_id: str) -> None:
        self._progress[upload_id] = _Progress(0, hashlib.new(_RUNNING_HASH))
        while len(self._progress) > self._capacity:
            self._progress.popitem(last=False)

    def progress(self, upload_id: str, stored_size: int) -> _Progress | None:
        """The running hash if it covers exactly the ``stored_size`` bytes in storage."""
        progress = self._progress.get(upload_id)
        if progress is None:
            return None
        if progress.offset != stored_size:
            del self._progress[upload_id]
            return None
        self._progress.move_to_end(upload_id)
        return progress

    def forget(self, upload_id: str) -> None:
        self._progress.pop(upload_id, None)


# Model objects live for one request, so the sessions table hangs off the
# long-lived storage driver: one table per storage, as storage is the truth.
_SESSIONS: weakref.WeakKeyDictionary[StorageDriver, _Sessions] = weakref.WeakKeyDictionary()


def _sessions_of(driver: StorageDriver) -> _Sessions:
    sessions = _SESSIONS.get(driver)
    if sessions is None:
        sessions = _SESSIONS[driver] = _Sessions()
    return sessions


async def _batched(chunks: AsyncIterable[bytes], size: int = BATCH_SIZE) -> AsyncIterator[bytes]:
    """Regroup a body's chunks (a network read's worth each) into batches of about ``size``."""
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in chunks:
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= size:
            yield b"".join(pending)  # the one copy
            pending.clear()
            pending_size = 0
    if pending:
        yield b"".join(pending)


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Uploads:
    """One repository's upload sessions."""

    def __init__(self, driver: StorageDriver, blobs: LinkedBlobs) -> None:
        self.driver = driver
        self.blobs = blobs
        self.name = blobs.name
        self._sessions = _sessions_of(driver)

    def _data(self, upload_id: str) -> str:
        return paths.upload_data(self.name, upload_id)

    @staticmethod
    def _check_id(upload_id: str) -> None:
        """Refuse ids we never hand out before they become storage paths."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id})

    async def start(self) -> str:
        """Open a session and return its id.

        ``startedat`` comes first so that no unfinished data can exist
        without the object by which ``purge_stale`` finds it.
        """
        upload_id = str(uuid.uuid4())
        await self.driver.put_content(paths.upload_started_at(self.name, upload_id),
                                      _now_rfc3339().encode())
        await (await self.driver.writer(self._data(upload_id))).close()
        self._sessions.begin(upload_id)
        return upload_id

    async def offset(self, upload_id: str) -> int:
        """How many bytes the session holds; BLOB_UPLOAD_UNKNOWN if there is no such session.

        Answered at once, even while a chunk is being appended (the bytes
        stored so far): a client asks this to resume after a failed request.
        """
        self._check_id(upload_id)
        try:
            return await self.driver.unfinished_size(self._data(upload_id))
        except PathNotFound:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None

    @contextlib.asynccontextmanager
    async def _writing(self, upload_id: str) -> AsyncIterator[tuple[FileWriter, _Progress | None]]:
        """The session's writer (closed, keeping the data, on the way out) and its running hash."""
        self._check_id(upload_id)
        async with self._sessions.lock(upload_id):
            try:
                writer = await self.driver.writer(self._data(upload_id), append=True)
            except PathNotFound:
                raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None
            try:
                yield writer, self._sessions.progress(upload_id, writer.size)
            finally:
                await writer.close()

    async def _receive(self, upload_id: str, writer: FileWriter, progress: _Progress | None,
                       body: AsyncIterable[bytes], start: int | None, length: int | None) -> None:
        """Append ``body``; ``start`` and ``length`` are what the client said the chunk is.

        Hashing and writing run in threads, side by side, one batch at a time.
        """
        if start is not None and start != writer.size:
            raise errors.RangeInvalid(detail={"expected_start": writer.size, "start": start},
                                      message="chunk does not start where the upload ends")
        received = 0
        try:
            async for batch in _batched(body):
                if progress is None:
                    await writer.write(batch)
                else:
                    await asyncio.gather(asyncio.to_thread(progress.hasher.update, batch),
                                         writer.write(batch))
                    progress.offset += len(batch)
                received += len(batch)
        except BaseException:
            # The hash may now cover a batch the file lacks, or the reverse.
            self._sessions.forget(upload_id)
            raise
        if length is not None and received != length:
            raise errors.SizeInvalid(detail={"declared": length, "received": received})

    async def append(self, upload_id: str, body: AsyncIterable[bytes],
                     start: int | None = None, length: int | None = None) -> int:
        """Append a chunk; returns the session's new size.

        RANGE_INVALID when ``start`` is not where the session ends (an
        out-of-order or repeated chunk), leaving the session as it was.
        """
        async with self._writing(upload_id) as (writer, progress):
            await self._receive(upload_id, writer, progress, body, start, length)
            return writer.size

    async def finish(self, upload_id: str, digest: Digest, body: AsyncIterable[bytes],
                     start: int | None = None, length: int | None = None) -> None:
        """Append the last chunk, verify ``digest`` and make the blob visible in this repository.

        The session ends here whatever happens once its data is committed: on
        DIGEST_INVALID nothing of it is left behind.
        """
        async with self._writing(upload_id) as (writer, progress):
            await self._receive(upload_id, writer, progress, body, start, length)
            try:
                await writer.commit()
            except PathNotFound:  # cancelled meanwhile
                raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None
        self._sessions.forget(upload_id)
        try:
            if progress is not None and digest.algorithm == progress.hasher.name:
                actual = progress.hasher.hexdigest()
            else:
                actual = await self._hash_stored(self._data(upload_id), digest.algorithm)
            if actual != digest.hex:
                raise errors.DigestInvalid(detail={"digest": str(digest)})
            await self.blobs.store.adopt(self._data(upload_id), digest)
            await self.blobs.link(digest)
        finally:
            await _delete_if_present(self.driver, paths.upload_dir(self.name, upload_id))

    async def _hash_stored(self, path: str, algorithm: str) -> str:
        hasher = hashlib.new(algorithm)
        async for chunk in self.driver.read_stream(path, chunk_size=BATCH_SIZE):
            await asyncio.to_thread(hasher.update, chunk)
        return hasher.hexdigest()

    async def cancel(self, upload_id: str) -> None:
        """End the session and drop its data; BLOB_UPLOAD_UNKNOWN if there is no such session."""
        self._check_id(upload_id)
        self._sessions.forget(upload_id)
        try:
            await self.driver.delete(paths.upload_dir(self.name, upload_id))
        except PathNotFound:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None

    async def mount(self, digest: Digest, source: LinkedBlobs) -> bool:
        """Link ``digest`` from ``source`` into this repository; False if ``source`` lacks it."""
        if not await source.exists(digest):
            return False
        await self.blobs.link(digest)
        return True


async def _delete_if_present(driver: StorageDriver, path: str) -> None:
    with contextlib.suppress(PathNotFound):
        await driver.delete(path)


async def _children(driver: StorageDriver, directory: str) -> list[str]:
    try:
        return await driver.list(directory)
    except PathNotFound:  # never there, or deleted meanwhile
        return []


async def _sessions_under(driver: StorageDriver, directory: str) -> AsyncIterator[tuple[str, str]]:
    """(repository name, upload id) of every session in the repositories at or below ``directory``."""
    for child in await _children(driver, directory):
        base = child.rsplit("/", 1)[1]
        if base == "_uploads":
            name = directory.removeprefix(paths.REPOSITORIES + "/")
            for session in await _children(driver, child):
                yield name, session.rsplit("/", 1)[1]
        elif not base.startswith("_"):  # name components never start with "_"
            async for found in _sessions_under(driver, child):
                yield found


async def _started_at(driver: StorageDriver, name: str, upload_id: str) -> float:
    """When the session began; 0 (long ago) when that cannot be told."""
    try:
        text = await driver.get_content(paths.upload_started_at(name, upload_id))
        return datetime.fromisoformat(text.decode().strip()).timestamp()
    except (PathNotFound, UnicodeDecodeError, ValueError):
        return 0.0


async def purge_stale(driver: StorageDriver, older_than_seconds: float, *,
                      dry_run: bool = False) -> int:
    """Delete the upload sessions started more than ``older_than_seconds`` ago; returns how many.

    Clients abandon uploads and servers get killed mid-upload; like
    distribution's upload purging, this reclaims what they leave behind.
    With ``dry_run`` (distribution's ``dryrun``) it deletes nothing and logs
    each session it would delete instead.
    """
    cutoff = time.time() - older_than_seconds
    purged = 0
    async for name, upload_id in _sessions_under(driver, paths.REPOSITORIES):
        if await _started_at(driver, name, upload_id) < cutoff:
            if dry_run:
                log.info("upload purging (dry run): would delete session %s of %s",
                         upload_id, name)
            else:
                await _delete_if_present(driver, paths.upload_dir(name, upload_id))
            purged += 1
    return purged
