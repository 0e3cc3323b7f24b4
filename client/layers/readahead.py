"""A layer's uncompressed tar, decompressed and hashed ahead of the unpacker in a thread.

Decompressing (ISA-L, zstd) and hashing (OpenSSL) are C code that releases
the GIL, while parsing tar headers and creating files is Python: a thread
that decompresses and hashes the next megabytes while the unpacker works on
the current ones puts a second core to use, and takes about a fifth of the
work off the unpacker's own thread.

The unpacker sees a file object that only reads forward (``read``, ``tell``,
``seek`` to a later position), which is all ``tarfile`` needs in mode ``r:``
as long as members are read in order.  That mode parses headers straight from
these chunks; mode ``r|`` would add its own Python-level buffer, copied on
every read.  ``copy_to`` writes a member's bytes to a file with no copy.
"""

from __future__ import annotations

import hashlib
import os
import queue
import tarfile
import threading
from typing import BinaryIO

CHUNK = 1 << 20
_DEPTH = 8  # chunks decompressed ahead at most: bounded memory


class ReadAhead:
    """Reads ``source`` to its end in a thread, hashing every byte; use as a context manager."""

    def __init__(self, source: BinaryIO) -> None:
        self.hasher = hashlib.sha256()
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(_DEPTH)
        self._stop = threading.Event()
        self._chunk = b""  # the chunk being consumed ...
        self._at = 0  # ... and how far
        self._position = 0  # in the stream, of self._chunk[self._at]
        self._eof = False
        self._thread = threading.Thread(target=self._produce, args=(source,),
                                        name="layer-read-ahead", daemon=True)
        self._thread.start()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread (after the read it may be in) and let it go."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)  # frees a producer blocked on a full queue
            except queue.Empty:
                pass
        self._thread.join()

    def _produce(self, source: BinaryIO) -> None:
        try:
            while not self._stop.is_set():
                data = source.read(CHUNK)
                self.hasher.update(data)
                self._queue.put(data)
                if not data:  # b"" tells the consumer the stream ended
                    return
        except BaseException as err:  # handed to the consumer, raised where it reads
            self._queue.put(err)

    def _next_chunk(self) -> bool:
        """Move on to the next chunk; False at the end of the stream."""
        if self._eof:
            return False
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        self._chunk, self._at = item, 0
        self._eof = not item
        return not self._eof

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if negative); fewer only at the end."""
        if 0 <= size <= len(self._chunk) - self._at:  # the common case: one slice
            data = self._chunk[self._at:self._at + size]
            self._at += size
            self._position += size
            return data
        parts = []
        while size != 0 and (self._at < len(self._chunk) or self._next_chunk()):
            end = len(self._chunk) if size < 0 else min(len(self._chunk), self._at + size)
            parts.append(self._chunk[self._at:end])
            self._position += end - self._at
            size -= end - self._at if size > 0 else 0
            self._at = end
        return b"".join(parts)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Skip forward to ``offset``; going back is a malformed archive's doing."""
        target = offset if whence == os.SEEK_SET else self._position + offset
        if whence not in (os.SEEK_SET, os.SEEK_CUR) or target < self._position:
            raise tarfile.ReadError("the archive asks to read backwards")
        while self._position < target:
            if self._at == len(self._chunk) and not self._next_chunk():
                break  # past the end: the next read says so
            step = min(target - self._position, len(self._chunk) - self._at)
            self._at += step
            self._position += step
        return self._position

    def copy_to(self, fd: int, size: int) -> None:
        """Write the next ``size`` bytes to the file ``fd``."""
        while size:
            if self._at == len(self._chunk) and not self._next_chunk():
                raise tarfile.ReadError("unexpected end of data")
            end = min(len(self._chunk), self._at + size)
            view = memoryview(self._chunk)[self._at:end]
            while view:
                view = view[os.write(fd, view):]
            size -= end - self._at
            self._position += end - self._at
            self._at = end

    def drain(self) -> str:
        """Read to the end of the stream; the hex SHA-256 of all of it."""
        while self._next_chunk():
            pass
        return self.hasher.hexdigest()
