"""A layer's bytes handed to its unpacker while they download, through a named pipe.

Unpacking reads a layer blob from a path, start to end, never seeking; a FIFO
at that path lets it read the bytes as they arrive instead of after the whole
blob is stored, so a layer is unpacked by the time its download ends.  It
stays safe because the unpacker checks the uncompressed stream against the
layer's diff ID (from the config, itself verified): a wrong byte fails the
unpack, and the download is verified against its digest as ever.

The write end is opened only once the unpacker has opened the read end (a
non-blocking open fails until then) and stays non-blocking: a full pipe is
waited for with the event loop's ``add_writer``, so the loop never blocks on a
slow reader.  (Not ``connect_write_pipe``: uvloop closes such a pipe's fd
twice, and the second close can hit a descriptor another thread just opened.)  If the unpacker
stops reading (it refused the layer), the feed goes quiet and the download
carries on into the store; the unpacker's own error says what was wrong.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path

# A bigger pipe means fewer wake-ups of the reader (Linux's default is 64 KiB).
PIPE_SIZE = 1 << 20
_POLL = 0.002  # seconds between tries to open the write end


class LayerFeed:
    """A FIFO to give an unpacker as its blob path; ``write`` what downloads, then ``close``."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="dockyard-feed-"))
        self.path = self._dir / "layer"
        os.mkfifo(self.path, 0o600)
        self._fd = -1  # the write end, non-blocking, once the reader is there

    async def connect(self, reader: asyncio.Future[object]) -> bool:
        """Wait for ``reader`` (the unpacking) to open the FIFO; False if it ended without."""
        while not reader.done():
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as err:
                if err.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                await asyncio.sleep(_POLL)
                continue
            with suppress(OSError):  # a smaller pipe only costs wake-ups
                fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            return True
        return False

    async def write(self, data: bytes) -> None:
        """Pass ``data`` on, waiting while the reader catches up; nothing once it stopped."""
        view = memoryview(data)
        while view and self._fd >= 0:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:  # the pipe is full: wait until the reader takes some
                await self._writable()
            except BrokenPipeError:  # the reader closed its end: its error says why
                self._close_fd()

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(self._fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_writer(self._fd)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        """End the stream (the reader sees the end of the blob) and remove the FIFO."""
        self._close_fd()
        shutil.rmtree(self._dir, ignore_errors=True)
