"""The storage-driver contract: a small file-system-like interface.

Shaped after the distribution registry's drivers so that object stores fit it
too: whole-object get/put, a streamed reader from an offset, a writer that
can be closed and reopened to append and is made visible only by ``commit``,
stat, list, move and recursive delete.  Paths are ``/``-separated keys such
as ``/docker/registry/v2/blobs/...``; drivers know nothing of HTTP and the
HTTP layer knows nothing of paths.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

_PATH = re.compile(r"(?:/[A-Za-z0-9._-]+)+")


class StorageError(Exception):
    """Base class of every driver error."""


class PathNotFound(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


class InvalidPath(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"invalid path: {path!r}")
        self.path = path


class InvalidOffset(StorageError):
    def __init__(self, path: str, offset: int) -> None:
        super().__init__(f"invalid offset {offset} for {path}")
        self.path = path
        self.offset = offset


def check_path(path: str) -> str:
    """Refuse anything but an absolute key of safe segments (no ``..``, no empties)."""
    if not _PATH.fullmatch(path) or "/../" in path + "/" or "/./" in path + "/":
        raise InvalidPath(path)
    return path


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    modified: float  # seconds since the epoch
    is_dir: bool


class FileWriter(ABC):
    """Streamed writes to one path; nothing is visible at the path before ``commit``.

    ``close`` keeps what was written so that ``StorageDriver.writer(path,
    append=True)`` can continue it later (an upload session spread over
    requests, or over a restart).
    """

    @property
    @abstractmethod
    def size(self) -> int:
        """Bytes written so far, appended sessions included."""

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> None:
        """Make the content durable and visible at the path."""

    @abstractmethod
    async def cancel(self) -> None:
        """Throw away everything written, previous sessions included."""

    @abstractmethod
    async def close(self) -> None:
        """Stop writing but keep the partial content for a later append."""

    async def __aenter__(self) -> "FileWriter":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class StorageDriver(ABC):
    name: str = "abstract"

    @abstractmethod
    async def get_content(self, path: str) -> bytes:
        """The whole (small) object at ``path``."""

    @abstractmethod
    async def put_content(self, path: str, content: bytes) -> None:
        """Store ``content`` at ``path`` atomically: readers see the old or the new, never a mix."""

    @abstractmethod
    def read_stream(self, path: str, offset: int = 0,
                    chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Stream the object from ``offset``; raises PathNotFound / InvalidOffset on first use."""

    @abstractmethod
    async def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer for ``path``; with ``append`` it continues an unfinished (closed) write."""

    @abstractmethod
    async def stat(self, path: str) -> FileInfo: ...

    @abstractmethod
    async def list(self, path: str) -> list[str]:
        """Full paths of the direct children of the directory ``path``."""

    @abstractmethod
    async def move(self, source: str, dest: str) -> None:
        """Move an object, replacing ``dest``; the destination appears complete or not at all."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete the object or the whole tree under ``path``."""

    def local_file(self, path: str) -> str | None:
        """A local file name for zero-copy sending, or None where there is none (object stores)."""
        return None

    async def redirect_url(self, path: str) -> str | None:
        """A URL clients may fetch the object from directly (pre-signed), or None."""
        return None

    async def close(self) -> None:
        """Release connections and threads."""
