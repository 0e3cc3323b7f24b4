"""The storage-driver contract: a small file-system-like interface.

Shaped after the distribution registry's drivers so that object stores fit it
too: whole-object get/put, a streamed reader from an offset, a writer that
can be closed and reopened to append and is made visible only by ``commit``,
stat, list, move and recursive delete.  Drivers know nothing of HTTP and the
HTTP layer knows nothing of paths.  ``tests/registry/storage/driver_suite.py``
is the executable form of this contract: every driver must pass it.

Paths
    Keys such as ``/docker/registry/v2/blobs/...``: absolute, ``/``-separated
    segments of ``[A-Za-z0-9._-]`` other than ``.`` and ``..``, at most
    ``MAX_SEGMENT`` characters each and ``MAX_PATH`` in all.  ``/`` names the
    root and is accepted by ``list`` only.  Anything else raises InvalidPath
    before storage is touched, so a path can never escape the driver's root,
    and characters outside the set are free for drivers' internal names.

Objects and directories
    Objects live at paths; directories are implicit, as in object stores: a
    directory exists while at least one committed object lies beneath it.
    Unfinished writes do not create directories and deleting the last object
    below one makes it vanish.  The root always exists.

Visibility
    ``put_content``, ``FileWriter.commit`` and ``move`` make an object appear
    whole or not at all; readers see the old content or the new, never a mix.
    Unfinished writes are invisible to ``get_content``, ``read_stream``,
    ``stat`` and ``list``, and leave nothing behind once committed, cancelled
    or deleted.

Concurrency
    Every method may be called concurrently from many tasks; concurrent
    ``put_content`` calls on one path end with exactly one of the values.  A
    driver never blocks the event loop on I/O (a local file system's metadata
    lookups, served from the kernel's caches, may run inline).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

MAX_SEGMENT = 200
"""Well inside every file system's NAME_MAX (255), leaving drivers room for their own markers."""

MAX_PATH = 1024
"""S3's key limit; longer keys could be stored by some drivers only."""

_PATH = re.compile(rf"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._-]{{1,{MAX_SEGMENT}}})+")
"""Every segment from the character set, none of them ``.`` or ``..``."""


class StorageError(Exception):
    """Base class of every driver error."""


class PathNotFound(StorageError):
    """Nothing is at ``path`` (nothing committed; for writers and delete, nothing unfinished either)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


class InvalidPath(StorageError):
    """``path`` breaks the path grammar in the module docstring."""

    def __init__(self, path: str) -> None:
        super().__init__(f"invalid path: {path!r}")
        self.path = path


class InvalidOffset(StorageError):
    """A read was asked to start before the start or beyond the end of an object."""

    def __init__(self, path: str, offset: int) -> None:
        super().__init__(f"invalid offset {offset} for {path}")
        self.path = path
        self.offset = offset


def check_path(path: str) -> str:
    """Return ``path`` if it is a valid object path (not the root); raise InvalidPath otherwise."""
    if len(path) > MAX_PATH or _PATH.fullmatch(path) is None:
        raise InvalidPath(path)
    return path


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int  # 0 for a directory
    modified: float  # seconds since the epoch; not meaningful for a directory
    is_dir: bool


class FileWriter(ABC):
    """Streamed writes to one path; nothing is visible at the path before ``commit``.

    ``close`` keeps what was written so that ``StorageDriver.writer(path,
    append=True)`` can continue it later (an upload session spread over
    requests, or over a restart).  After ``commit``, ``cancel`` or ``close``
    the writer is finished: ``close`` again does nothing, anything else raises
    StorageError.  One ``write`` at a time.
    """

    @property
    @abstractmethod
    def size(self) -> int:
        """Bytes written so far, appended sessions included."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Append ``data``; it is not visible at the path until ``commit``."""

    @abstractmethod
    async def commit(self) -> None:
        """Make the content durable and visible at the path, replacing what was there.

        Raises PathNotFound if the unfinished write was deleted meanwhile.
        """

    @abstractmethod
    async def cancel(self) -> None:
        """Throw away everything written, previous sessions included; committed content stays."""

    @abstractmethod
    async def close(self) -> None:
        """Stop writing but keep the partial content, durably, for a later append."""

    async def __aenter__(self) -> "FileWriter":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class StorageDriver(ABC):
    name: str = "abstract"

    @abstractmethod
    async def get_content(self, path: str) -> bytes:
        """The whole (small) object at ``path``; PathNotFound for a directory or nothing."""

    @abstractmethod
    async def put_content(self, path: str, content: bytes) -> None:
        """Store ``content`` at ``path`` atomically and durably, creating parent directories."""

    @abstractmethod
    def read_stream(self, path: str, offset: int = 0,
                    chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Stream the object from ``offset`` in chunks of at most ``chunk_size`` bytes.

        Errors come on first iteration: PathNotFound, or InvalidOffset when
        ``offset`` is negative or beyond the end (at the end the stream is empty).
        """

    @abstractmethod
    async def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer for ``path``.

        Without ``append`` any unfinished write at ``path`` is discarded and
        the writer starts empty; with it the writer continues the unfinished
        (closed) write, and PathNotFound is raised when there is none, even if
        committed content exists at ``path``.  An unfinished write has one
        writer at a time, across processes too: this waits until the current
        one is finished, and raises PathNotFound if that one committed or cancelled.
        """

    async def unfinished_size(self, path: str) -> int:
        """Bytes of the unfinished write at ``path`` now, without waiting for its writer.

        PathNotFound when there is none.  A writer busy appending may add
        more; this is for reporting progress, never for deciding where to write.
        """
        writer = await self.writer(path, append=True)
        await writer.close()
        return writer.size

    @abstractmethod
    async def stat(self, path: str) -> FileInfo:
        """Size and kind of the object or directory at ``path``; PathNotFound if neither."""

    @abstractmethod
    async def list(self, path: str) -> list[str]:
        """Sorted full paths of the direct children of the directory ``path`` (``/`` for the root).

        PathNotFound if ``path`` is not a directory (missing, or an object).
        """

    @abstractmethod
    async def move(self, source: str, dest: str) -> None:
        """Move the object at ``source`` to ``dest``, replacing it and creating its parents.

        The destination appears complete or not at all; PathNotFound (and
        ``dest`` untouched) when there is no object at ``source``.
        """

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete the object or the whole tree at ``path``, unfinished writes included.

        PathNotFound when there was nothing, committed or unfinished, to delete.
        Deleting ``/a`` never touches ``/ab``.
        """

    def local_file(self, path: str) -> str | None:
        """A local file name for zero-copy sending, or None where there is none (object stores).

        Not checked for existence (this is a synchronous call): stat the path first.
        """
        return None

    async def redirect_url(self, path: str) -> str | None:
        """A URL clients may fetch the object from directly (pre-signed), or None."""
        return None

    async def close(self) -> None:
        """Release connections and threads once running operations have finished."""
