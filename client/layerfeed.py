"""A layer's bytes handed to its unpacker while they download, through a named pipe.

Unpacking reads a layer blob from a path, start to end, never seeking; a FIFO
at that path lets it read the bytes as they arrive instead of after the whole
blob is stored, so a layer is unpacked by the time its download ends.  It
stays safe because the unpacker checks the uncompressed stream against the
layer's diff ID (from the config, itself verified): a wrong byte fails the
unpack, and the download is verified against its digest as ever.

The write end is opened only once the unpacker has opened the read end (a
non-blocking open fails until then), and written through an asyncio pipe
transport, so the event loop never blocks on a slow reader.  If the unpacker
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
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, reader: asyncio.Future[object]) -> bool:
        """Wait for ``reader`` (the unpacking) to open the FIFO; False if it ended without."""
        loop = asyncio.get_running_loop()
        while not reader.done():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as err:
                if err.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                await asyncio.sleep(_POLL)
                continue
            with suppress(OSError):  # a smaller pipe only costs wake-ups
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0))
            transport.set_write_buffer_limits(high=PIPE_SIZE)
            self._writer = asyncio.StreamWriter(transport, protocol, None, loop)
            return True
        return False

    async def write(self, data: bytes) -> None:
        """Pass ``data`` on, waiting while the reader catches up; nothing once it stopped."""
        if self._writer is None:
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, RuntimeError):  # the reader closed its end
            self._writer = None

    async def close(self) -> None:
        """End the stream (the reader sees the end of the blob) and remove the FIFO."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                # Everything buffered goes out first: drained down to nothing, then closed.
                with suppress(ConnectionError, RuntimeError):  # unless the reader is gone
                    writer.transport.set_write_buffer_limits(high=0)
                    await writer.drain()
                writer.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
