"""Zero-copy sending of part of a file as a response body, without blocking the event loop.

uvloop has no ``loop.sendfile``, so aiohttp's ``FileResponse`` falls back to
reading chunks in a thread and writing them through the transport: every
byte crosses Python twice, and blob downloads were slower than
distribution's.  Here aiohttp writes the response head as usual; once the
transport's buffer is empty, a pool thread runs ``os.sendfile`` on a
duplicate of the connection's socket, waiting with ``poll`` whenever the
socket is full.  The event loop goes on serving meanwhile (disk reads happen
in the thread), and afterwards aiohttp finishes the response as if it had
written the body itself, so the connection stays usable for keep-alive.

Not for TLS connections (the kernel would send plain text): ``available``
says when it can be used.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
import threading
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

THREADS = 64
"""Transfers running at once per process; more wait their turn.  A pool of its
own, so slow downloads never starve the storage driver's threads."""

POLL_INTERVAL_MS = 100
"""How often a thread waiting for a full socket checks whether it was told to stop."""

MAX_CALL = 1 << 30
"""Bytes per ``os.sendfile`` call (the kernel caps a call near 2 GiB anyway)."""

_DISCONNECTED = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN)
_POLL_FAILED = select.POLLERR | select.POLLHUP | select.POLLNVAL

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    """The sending threads, made on first use (so after the worker processes have forked)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="sendfile")
    return _pool


def available(request: web.Request) -> bool:
    """Whether the request's connection is a plain socket that ``send`` can write to."""
    transport = request.transport
    return (transport is not None and not transport.is_closing()
            and transport.get_extra_info("ssl_object") is None
            and transport.get_extra_info("socket") is not None)


def _send(sock: int, source: int, offset: int, count: int, stop: threading.Event) -> None:
    """Send ``count`` bytes of ``source`` from ``offset`` to the non-blocking socket ``sock``.

    Runs in a pool thread and closes both descriptors (duplicates made for it).
    """
    try:
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        while count > 0:
            if stop.is_set():
                raise ConnectionResetError("sending stopped")
            try:
                sent = os.sendfile(sock, source, offset, min(count, MAX_CALL))
            except BlockingIOError:
                for _, events in poller.poll(POLL_INTERVAL_MS):
                    if events & _POLL_FAILED:
                        raise ConnectionResetError("connection lost") from None
                continue
            except OSError as err:
                if err.errno in _DISCONNECTED:
                    raise ConnectionResetError(err.errno, os.strerror(err.errno)) from None
                raise
            if sent == 0:  # the file ended early: only closing the connection can tell the client
                raise ConnectionResetError(f"file ended {count} bytes short")
            offset += sent
            count -= sent
    finally:
        os.close(sock)
        os.close(source)


def _ignore_outcome(sending: asyncio.Future[None]) -> None:
    """Retrieve a cancelled request's outcome (a lost connection), so that asyncio logs none."""
    if not sending.cancelled():
        sending.exception()


async def _flushed(transport: asyncio.Transport) -> None:
    """Wait until the transport has handed everything it holds (the head) to the kernel."""
    while transport.get_write_buffer_size():
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        await asyncio.sleep(0.001)


async def send(request: web.Request, response: web.StreamResponse, fd: int,
               offset: int, count: int) -> web.StreamResponse:
    """Send ``response``'s head, then ``count`` bytes of the open file ``fd`` from ``offset``.

    ``response`` must carry its status and headers (Content-Length is set
    here); the caller keeps ``fd`` and closes it.  ConnectionResetError when
    the client goes away mid-transfer; the response is then unusable and
    aiohttp closes the connection.
    """
    response.content_length = count
    writer = await response.prepare(request)
    if request.method == "HEAD" or count == 0:
        await response.write_eof()
        return response
    writer.send_headers()
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("connection lost")
    await _flushed(transport)
    sock = os.dup(transport.get_extra_info("socket").fileno())
    try:
        source = os.dup(fd)
    except BaseException:
        os.close(sock)
        raise
    stop = threading.Event()
    sending = asyncio.get_running_loop().run_in_executor(
        _executor(), _send, sock, source, offset, count, stop)
    try:
        await asyncio.shield(sending)
    except asyncio.CancelledError:
        stop.set()  # the thread ends within POLL_INTERVAL_MS and closes its descriptors
        sending.add_done_callback(_ignore_outcome)
        raise
    writer.output_size += count  # the body went around the writer; the access log counts it
    await response.write_eof()
    return response
