"""Copying a running container's streams: its output to the log (and an attached client), the
client's input to it, until its init exits.

One thread and ``poll``: output is read as it comes and appended to the
json-file log, then written to the client if one is attached; input is
written without blocking, a chunk at a time, so a container that does not
read its stdin never stops its output being copied (which would deadlock
both).  The end is the init's exit, seen through a pidfd; output still in
the pipes is drained until EOF, which comes as soon as the PID namespace's
last process is gone.
"""

from __future__ import annotations

import errno
import os
import select
import time

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .logs import JsonLogWriter

_CHUNK = 65536
_DRAIN_SECONDS = 2.0


class Relay:
    def __init__(self, log: JsonLogWriter | None, pidfd: int) -> None:
        """``log`` None: output goes to the client only (exec's)."""
        self.log = log
        self.pidfd = pidfd
        self.outputs: dict[int, tuple[str, int | None]] = {}  # fd -> (stream, client fd)
        self.source: int | None = None  # the client's input
        self.sink: int | None = None    # the container's stdin (or pty master)
        self.close_sink = False
        self.pending = b""

    def output(self, fd: int, stream: str, client: int | None) -> None:
        """Copy the container's ``fd`` to the log as ``stream``, and to ``client`` if given."""
        self.outputs[fd] = (stream, client)

    def input(self, source: int, sink: int, close_sink_at_eof: bool) -> None:
        """Copy ``source`` to ``sink``; at EOF close ``sink`` (a pipe: the container sees EOF)."""
        os.set_blocking(sink, False)
        self.source, self.sink, self.close_sink = source, sink, close_sink_at_eof

    def run(self) -> None:
        """Relay until the init has exited and its output is drained."""
        poller = select.poll()
        masks: dict[int, int] = {}

        def want(fd: int, mask: int, on: bool) -> None:
            new = masks.get(fd, 0) | mask if on else masks.get(fd, 0) & ~mask
            if new:
                (poller.modify if fd in masks else poller.register)(fd, new)
                masks[fd] = new
            elif fd in masks:
                poller.unregister(fd)
                del masks[fd]

        for fd in self.outputs:
            want(fd, select.POLLIN, True)
        if self.source is not None:
            want(self.source, select.POLLIN, True)
        want(self.pidfd, select.POLLIN, True)
        deadline = None
        while deadline is None or (self.outputs and time.monotonic() < deadline):
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            for fd, events in poller.poll(timeout):
                if fd == self.pidfd:
                    deadline = time.monotonic() + _DRAIN_SECONDS
                    want(fd, select.POLLIN, False)
                    self._stop_input(want)
                    continue
                if fd in self.outputs and events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    if not self._copy_output(fd):
                        want(fd, select.POLLIN, False)
                        del self.outputs[fd]
                if fd == self.source and events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    self._read_input(want)
                if fd == self.sink and events & (select.POLLOUT | select.POLLERR):
                    self._write_input(want)

    def _copy_output(self, fd: int) -> bool:
        """One chunk from the container to the log and the client; False at EOF."""
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:  # a pty master is also the (non-blocking) input sink
            return True
        except OSError as err:
            if err.errno == errno.EIO:  # a pty master once every slave is closed
                return False
            raise
        if not data:
            return False
        stream, client = self.outputs[fd]
        if self.log is not None:
            self.log.write(stream, data)
        if client is not None:
            _write_all(client, data)
        return True

    def _read_input(self, want) -> None:
        assert self.source is not None
        try:
            data = os.read(self.source, _CHUNK)
        except OSError:
            data = b""
        if not data:
            self._stop_input(want)
            return
        self.pending = data
        want(self.source, select.POLLIN, False)  # no more until this chunk is written
        self._write_input(want)

    def _write_input(self, want) -> None:
        assert self.sink is not None
        try:
            written = os.write(self.sink, self.pending)
        except BlockingIOError:
            written = 0
        except OSError:  # the container closed its stdin: drop the rest
            self._stop_input(want)
            return
        self.pending = self.pending[written:]
        want(self.sink, select.POLLOUT, bool(self.pending))
        if not self.pending and self.source is not None:
            want(self.source, select.POLLIN, True)

    def _stop_input(self, want) -> None:
        if self.source is None:
            return
        want(self.source, select.POLLIN, False)
        if self.sink is not None:
            want(self.sink, select.POLLOUT, False)
            if self.close_sink:
                os.close(self.sink)
        self.source = self.sink = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])
        except BrokenPipeError:  # the client went away; the log still has everything
            return
