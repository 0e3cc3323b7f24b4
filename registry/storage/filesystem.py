"""The default storage driver: a directory tree on the local file system.

Committed objects live at ``<root><path>``, the distribution registry's own
layout, so its storage directories can be served as they are.  The driver's
own files carry ``INTERNAL_MARK`` in their names, which no valid path can:

- ``<root>/~staging/``: temporary files of ``put_content`` (written, fsynced,
  then renamed into place) and trees being deleted (renamed here first so a
  reader never sees half a tree);
- ``<root>/~uploads<path>~``: unfinished writes, kept apart from the visible
  tree so they create no directories in it; ``commit`` renames them into place.

Directories are pruned as soon as they become empty, so the tree behaves like
an object store's implicit directories.  Reads, writes, listings and renames
run in a thread pool so the event loop never waits on the disk.  A ``stat``
runs in the caller's thread: it is answered from the kernel's inode cache for
anything a request touched lately, and a thread hand-off costs more than the
whole manifest request otherwise does.  Small files read with ``get_content``
(the links every manifest request reads) are cached, checked by that ``stat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import stat as stat_mode
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, BinaryIO, TypeVar

from .contentcache import ContentCache
from .driver import (FileInfo, FileWriter, InvalidOffset, PathNotFound, StorageDriver,
                     StorageError, check_path)

INTERNAL_MARK = "~"
"""In every name the driver makes for itself; never in a valid path."""

STALE_AFTER = 3600.0
"""Seconds after which a staging entry is a killed process's leftover.  Fresh
entries may belong to another process serving the same root."""

_MISSING = (FileNotFoundError, NotADirectoryError)

LOCK_RETRY = 0.02
"""Seconds between attempts to take an unfinished write that another writer holds.  Polled,
not waited for in a thread: a wait that cannot be cancelled would hold a thread for as
long as a stalled client holds the lock."""

_T = TypeVar("_T")


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _creating_parents(target: str, create: Callable[[], _T], source: str | None = None) -> _T:
    """Run ``create`` (which makes ``target``), creating target's parent directories as needed.

    Retries because a concurrent delete may prune the parents between their
    creation and ``create``; stops when ``source`` (being renamed) is gone.
    """
    while True:
        try:
            return create()
        except FileNotFoundError:
            if source is not None and not os.path.lexists(source):
                raise
            with contextlib.suppress(FileNotFoundError):
                os.makedirs(os.path.dirname(target), exist_ok=True)


def _replace(source: str, target: str) -> None:
    """Durably rename ``source`` onto ``target`` (FileNotFoundError if ``source`` is gone)."""
    _creating_parents(target, partial(os.replace, source, target), source)
    _fsync_dir(os.path.dirname(target))


def _prune(directory: str, root: str) -> None:
    """Remove ``directory`` and its ancestors below ``root`` while they are empty."""
    while directory.startswith(root + os.sep):
        try:
            os.rmdir(directory)
        except OSError:  # not empty, or pruned already
            return
        directory = os.path.dirname(directory)


def _lock_current(handle: BinaryIO, name: str) -> bool:
    """Take the writer's lock on ``handle``, opened at ``name``, if that is still the file there.

    Worker processes share the storage, and two appending to one upload at
    once would interleave their bytes.  The lock (released when the handle
    closes, or its process dies) keeps one writer per unfinished write.
    False when another writer holds it, or when the file was committed
    (renamed) or cancelled (deleted) meanwhile: the caller reopens and tries
    again, so a writer never appends to what is no longer the unfinished write.
    """
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        return os.stat(name).st_ino == os.fstat(handle.fileno()).st_ino
    except _MISSING:
        return False


def _flush_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


class _FileSystemWriter(FileWriter):
    def __init__(self, driver: FileSystemDriver, path: str, handle: BinaryIO, size: int) -> None:
        self._driver = driver
        self._path = path
        self._handle = handle
        self._size = size
        self._finished = False

    @property
    def size(self) -> int:
        return self._size

    def _finish(self) -> None:
        if self._finished:
            raise StorageError(f"writer for {self._path} is finished")
        self._finished = True

    async def write(self, data: bytes) -> None:
        if self._finished:
            raise StorageError(f"writer for {self._path} is finished")
        await self._driver._run(self._handle.write, data)
        self._size += len(data)

    async def commit(self) -> None:
        self._finish()
        upload, target = self._driver._upload(self._path), self._driver._local(self._path)

        def commit() -> None:
            try:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                _replace(upload, target)
            except FileNotFoundError:
                raise PathNotFound(self._path) from None
            finally:
                self._handle.close()
            _prune(os.path.dirname(upload), self._driver.root)

        await self._driver._run(commit)

    async def cancel(self) -> None:
        self._finish()
        upload = self._driver._upload(self._path)

        def cancel() -> None:
            self._handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(upload)
            _prune(os.path.dirname(upload), self._driver.root)

        await self._driver._run(cancel)

    async def close(self) -> None:
        if not self._finished:
            self._finished = True
            await self._driver._run(_flush_and_close, self._handle)


class FileSystemDriver(StorageDriver):
    name = "filesystem"

    def __init__(self, root: str, *, threads: int = 16) -> None:
        self.root = os.path.abspath(root)
        self._staging = os.path.join(self.root, INTERNAL_MARK + "staging")
        self._uploads = os.path.join(self.root, INTERNAL_MARK + "uploads")
        os.makedirs(self._staging, exist_ok=True)
        self._sweep_staging()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fs-driver")
        self._contents = ContentCache()

    def _local(self, path: str) -> str:
        return self.root + check_path(path)

    def _upload(self, path: str) -> str:
        """Where the unfinished write to ``path`` lives."""
        return self._uploads + check_path(path) + INTERNAL_MARK

    def _staging_name(self) -> str:
        return os.path.join(self._staging, uuid.uuid4().hex)

    def _run(self, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args))

    def _sweep_staging(self) -> None:
        """Remove what killed processes left in staging: temporary files and half-deleted trees."""
        cutoff = time.time() - STALE_AFTER
        for entry in os.scandir(self._staging):
            with contextlib.suppress(FileNotFoundError):  # another process swept it
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)

    def _remove(self, name: str) -> bool:
        """Remove the file or tree ``name``; False if there was none."""
        try:
            os.unlink(name)
        except IsADirectoryError:
            doomed = self._staging_name()
            try:
                os.rename(name, doomed)
            except _MISSING:
                return False
            # The tree is already invisible; an error here only leaves garbage for the sweep.
            shutil.rmtree(doomed, ignore_errors=True)
        except _MISSING:
            return False
        return True

    def _is_visible_dir(self, local: str) -> bool:
        """Whether ``local`` holds something visible; an empty directory is a crash's leftover."""
        with contextlib.suppress(*_MISSING), os.scandir(local) as entries:
            return any(INTERNAL_MARK not in entry.name for entry in entries)
        return False

    def _stat_now(self, local: str, path: str) -> os.stat_result:
        """``stat`` in the calling (event loop) thread: see the module docstring."""
        try:
            return os.stat(local)
        except _MISSING:
            raise PathNotFound(path) from None

    async def get_content(self, path: str) -> bytes:
        local = self._local(path)
        st = self._stat_now(local, path)
        if stat_mode.S_ISDIR(st.st_mode):
            raise PathNotFound(path)
        cached = self._contents.get(local, st)
        if cached is not None:
            return cached

        def read() -> tuple[os.stat_result, bytes]:
            try:
                with open(local, "rb") as f:
                    return os.fstat(f.fileno()), f.read()
            except (*_MISSING, IsADirectoryError):
                raise PathNotFound(path) from None

        st, data = await self._run(read)
        self._contents.put(local, st, data)
        return data

    async def put_content(self, path: str, content: bytes) -> None:
        local = self._local(path)

        def write() -> None:
            temp = self._staging_name()
            try:
                with open(temp, "wb") as f:
                    f.write(content)
                    f.flush()
                    os.fsync(f.fileno())
                _replace(temp, local)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
                raise

        await self._run(write)

    async def read_stream(self, path: str, offset: int = 0,
                          chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        local = self._local(path)

        def open_at() -> BinaryIO:
            try:
                f = open(local, "rb")
            except (*_MISSING, IsADirectoryError):
                raise PathNotFound(path) from None
            if not 0 <= offset <= os.fstat(f.fileno()).st_size:
                f.close()
                raise InvalidOffset(path, offset)
            f.seek(offset)
            return f

        f = await self._run(open_at)
        try:
            while chunk := await self._run(f.read, chunk_size):
                yield chunk
        finally:
            f.close()

    async def writer(self, path: str, append: bool = False) -> FileWriter:
        upload = self._upload(path)

        def open_locked() -> tuple[BinaryIO, int] | None:
            """The unfinished write, locked and ready to append; None while another has it."""
            try:
                handle = (open(upload, "r+b") if append else
                          _creating_parents(upload, partial(open, upload, "ab")))
            except _MISSING:
                raise PathNotFound(path) from None
            if not _lock_current(handle, upload):
                handle.close()
                return None
            if not append:
                handle.truncate(0)
            return handle, handle.seek(0, os.SEEK_END)

        while (opened := await self._run(open_locked)) is None:
            await asyncio.sleep(LOCK_RETRY)
        return _FileSystemWriter(self, path, *opened)

    async def unfinished_size(self, path: str) -> int:
        try:
            return os.stat(self._upload(path)).st_size  # a metadata lookup: inline, as stat
        except _MISSING:
            raise PathNotFound(path) from None

    async def stat(self, path: str) -> FileInfo:
        local = self._local(path)
        st = self._stat_now(local, path)
        if not stat_mode.S_ISDIR(st.st_mode):
            return FileInfo(path, st.st_size, st.st_mtime, False)
        if not await self._run(self._is_visible_dir, local):
            raise PathNotFound(path)
        return FileInfo(path, 0, st.st_mtime, True)

    async def list(self, path: str) -> list[str]:
        local, prefix = (self.root, "") if path == "/" else (self._local(path), path)

        def listdir() -> list[str]:
            try:
                names = [n for n in os.listdir(local) if INTERNAL_MARK not in n]
            except _MISSING:
                raise PathNotFound(path) from None
            if not names and path != "/":
                raise PathNotFound(path)
            return sorted(f"{prefix}/{n}" for n in names)

        return await self._run(listdir)

    async def move(self, source: str, dest: str) -> None:
        src, dst = self._local(source), self._local(dest)

        def move() -> None:
            try:
                _replace(src, dst)
            except _MISSING:
                if os.path.lexists(src):
                    raise
                raise PathNotFound(source) from None
            _prune(os.path.dirname(src), self.root)

        await self._run(move)

    async def delete(self, path: str) -> None:
        local, upload = self._local(path), self._upload(path)
        # The unfinished writes beneath a directory live under this name.
        uploads_beneath = upload.removesuffix(INTERNAL_MARK)

        def delete() -> None:
            found = [self._remove(name) for name in (local, upload, uploads_beneath)]
            if not any(found):
                raise PathNotFound(path)
            _prune(os.path.dirname(local), self.root)
            _prune(os.path.dirname(upload), self.root)

        await self._run(delete)

    def local_file(self, path: str) -> str | None:
        return self._local(path)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown)
