"""SSH agent forwarding for ``RUN --mount=type=ssh``: a socket of the step's own, relayed.

An agent's socket belongs to whoever runs the agent, mode 0600: mounted as
it is, a step under another USER could not use it. So each ssh mount gets a
socket in the step's private directory with the mount's uid, gid and mode
(root and 0600 unless given, as in BuildKit), and every connection to it is
relayed to the agent, byte for byte, for as long as the step runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

_CHUNK = 65536


@contextlib.asynccontextmanager
async def agent_proxy(agent: str, path: Path, uid: int, gid: int,
                      mode: int) -> AsyncIterator[None]:
    """A socket at ``path`` relaying to the agent socket ``agent`` while the block runs."""
    relays: set[asyncio.Task] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relays.add(asyncio.current_task())
        try:
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(agent)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer),
                             return_exceptions=True)

    with _bindable(path) as address:
        server = await asyncio.start_unix_server(accept, address)
    try:
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        yield
    finally:
        server.close()
        for relay in relays:
            relay.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _bindable(path: Path) -> Iterator[str]:
    """``path`` as bind(2) can take it: a socket's path is limited to 107 bytes, and a
    step's directory under a long store root can be deeper than that, so the
    directory is reached through a descriptor's /proc link while the block runs."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
