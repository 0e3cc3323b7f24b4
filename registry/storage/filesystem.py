"""The default storage driver: a directory tree on the local file system.

Every visible file appears whole: small objects are written to a temporary
name, fsynced and renamed; streamed writes go to ``<path>.partial`` and are
renamed onto ``<path>`` by ``commit``.  Blocking calls run in a thread pool so
the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from .driver import FileInfo, FileWriter, InvalidOffset, PathNotFound, StorageDriver, check_path

PARTIAL_SUFFIX = ".partial"
_TEMP_PREFIX = ".tmp-"


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(target: str, content: bytes) -> None:
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f"{_TEMP_PREFIX}{uuid.uuid4().hex}")
    try:
        with open(temp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        with _ignoring_missing():
            os.unlink(temp)
        raise
    _fsync_dir(directory)


class _ignoring_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:
        return isinstance(value, FileNotFoundError)


class _FileSystemWriter(FileWriter):
    def __init__(self, driver: "FileSystemDriver", path: str, handle, size: int) -> None:
        self._driver = driver
        self._path = path
        self._handle = handle
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    @property
    def _partial(self) -> str:
        return self._driver._local(self._path) + PARTIAL_SUFFIX

    async def write(self, data: bytes) -> None:
        await self._driver._run(self._handle.write, data)
        self._size += len(data)

    async def commit(self) -> None:
        def commit() -> None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            target = self._driver._local(self._path)
            os.replace(target + PARTIAL_SUFFIX, target)
            _fsync_dir(os.path.dirname(target))

        await self._driver._run(commit)

    async def cancel(self) -> None:
        def cancel() -> None:
            self._handle.close()
            with _ignoring_missing():
                os.unlink(self._partial)

        await self._driver._run(cancel)

    async def close(self) -> None:
        if not self._handle.closed:
            def close() -> None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()

            await self._driver._run(close)


class FileSystemDriver(StorageDriver):
    name = "filesystem"

    def __init__(self, root: str, *, threads: int = 16) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fs-driver")

    def _local(self, path: str) -> str:
        return self.root + check_path(path)

    def _run(self, func, *args):
        return asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args))

    async def get_content(self, path: str) -> bytes:
        local = self._local(path)

        def read() -> bytes:
            try:
                with open(local, "rb") as f:
                    return f.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise PathNotFound(path) from None

        return await self._run(read)

    async def put_content(self, path: str, content: bytes) -> None:
        await self._run(_write_atomically, self._local(path), content)

    async def read_stream(self, path: str, offset: int = 0,
                          chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        local = self._local(path)

        def open_at():
            try:
                f = open(local, "rb")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise PathNotFound(path) from None
            if offset < 0 or offset > os.fstat(f.fileno()).st_size:
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
        partial_name = self._local(path) + PARTIAL_SUFFIX

        def open_writer():
            os.makedirs(os.path.dirname(partial_name), exist_ok=True)
            if append:
                try:
                    handle = open(partial_name, "r+b")
                except FileNotFoundError:
                    raise PathNotFound(path) from None
                size = handle.seek(0, os.SEEK_END)
                return handle, size
            return open(partial_name, "wb"), 0

        handle, size = await self._run(open_writer)
        return _FileSystemWriter(self, path, handle, size)

    async def stat(self, path: str) -> FileInfo:
        local = self._local(path)

        def stat() -> FileInfo:
            try:
                st = os.stat(local)
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFound(path) from None
            is_dir = os.path.isdir(local)
            return FileInfo(path, 0 if is_dir else st.st_size, st.st_mtime, is_dir)

        return await self._run(stat)

    async def list(self, path: str) -> list[str]:
        local = self._local(path) if path != "/" else self.root
        prefix = "" if path == "/" else path

        def listdir() -> list[str]:
            try:
                names = os.listdir(local)
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFound(path) from None
            return sorted(f"{prefix}/{n}" for n in names
                          if not n.startswith(_TEMP_PREFIX) and not n.endswith(PARTIAL_SUFFIX))

        return await self._run(listdir)

    async def move(self, source: str, dest: str) -> None:
        src, dst = self._local(source), self._local(dest)

        def move() -> None:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                raise PathNotFound(source) from None
            except OSError as err:
                if err.errno != errno.EXDEV:
                    raise
                shutil.move(src, dst)
            _fsync_dir(os.path.dirname(dst))

        await self._run(move)

    async def delete(self, path: str) -> None:
        local = self._local(path)

        def delete() -> None:
            try:
                if os.path.isdir(local) and not os.path.islink(local):
                    # Rename first so readers never see a half-deleted tree.
                    doomed = f"{local}{_TEMP_PREFIX}{uuid.uuid4().hex}"
                    os.rename(local, doomed)
                    shutil.rmtree(doomed)
                else:
                    os.unlink(local)
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFound(path) from None
            with _ignoring_missing():
                os.unlink(local + PARTIAL_SUFFIX)

        await self._run(delete)

    def local_file(self, path: str) -> str | None:
        return self._local(path)

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
