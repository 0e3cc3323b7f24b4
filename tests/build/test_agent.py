"""The SSH agent relay of RUN --mount=type=ssh, over real Unix sockets."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest

from client.build.agent import agent_proxy


@pytest.mark.parametrize("depth", ["", "d" * 60 + "/" + "e" * 60])  # a path bind(2) refuses
async def test_relays_each_connection_to_the_agent(tmp_path, depth):
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(b"agent:" + data)
            await writer.drain()
        writer.close()

    agent = await asyncio.start_unix_server(echo, str(tmp_path / "agent.sock"))
    (tmp_path / depth).mkdir(parents=True, exist_ok=True)
    directory = os.open(tmp_path / depth, os.O_PATH | os.O_DIRECTORY)
    address = f"/proc/self/fd/{directory}/relay.sock"  # connect(2) has bind(2)'s limit
    relay = tmp_path / depth / "relay.sock"
    try:
        async with agent_proxy(str(tmp_path / "agent.sock"), relay, os.getuid(), os.getgid(),
                               0o600):
            st = os.stat(relay)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
            for message in (b"first", b"second"):
                reader, writer = await asyncio.open_unix_connection(address)
                writer.write(message)
                assert await reader.readexactly(6 + len(message)) == b"agent:" + message
                writer.close()
            _, held = await asyncio.open_unix_connection(address)  # open at the end
        assert not relay.exists()
        held.close()
    finally:
        agent.close()
        os.close(directory)
