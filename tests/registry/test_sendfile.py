"""Blob bodies sent by ``registry.api.sendfile``: whole, ranged, on a kept-alive connection,
to a client that leaves mid-transfer, and the sending thread told to stop."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time

import pytest

from ocispec.digest import Digest
from registry.api import sendfile

from .images import add_blob

# Several times a loopback socket's buffers: the sender must wait for the socket many times.
DATA = random.Random(7).randbytes(24 << 20)
DIGEST = Digest.of(DATA)
PATH = f"/v2/library/big/blobs/{DIGEST}"


@pytest.fixture
async def stored(registry_model):
    await add_blob(registry_model, "library/big", DATA)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body, read off a raw connection."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


async def test_whole_blob(client, stored):
    response = await client.get(PATH)
    assert response.status == 200
    assert response.content_length == len(DATA)
    assert await response.read() == DATA


@pytest.mark.parametrize("header, start, stop", [
    ("bytes=5000000-", 5000000, len(DATA)),
    ("bytes=123-9999999", 123, 10000000),
    ("bytes=-1048577", len(DATA) - 1048577, len(DATA)),
])
async def test_range(client, stored, header, start, stop):
    response = await client.get(PATH, headers={"Range": header})
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert await response.read() == DATA[start:stop]


async def test_connection_is_kept_alive_after_a_blob(client, stored):
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        for path, expected in ((PATH, DATA), (PATH, DATA), ("/v2/", b"{}")):
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, body = await _read_response(reader)
            assert status == 200
            assert headers.get("connection", "keep-alive").lower() != "close"
            assert body == expected
    finally:
        writer.close()


async def test_client_leaving_mid_transfer(client, stored):
    assert (await client.get("/v2/")).status == 200  # the test client's kept-alive connection
    before = _open_fds()
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(f"GET {PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await reader.readexactly(1 << 20)
        writer.transport.abort()  # a reset, mid-body
    # The server goes on serving, and its sending threads let go of every descriptor.
    response = await client.get(PATH, headers={"Range": "bytes=0-99"})
    assert await response.read() == DATA[:100]
    for _ in range(100):
        if _open_fds() <= before:
            break
        await asyncio.sleep(0.05)
    assert _open_fds() <= before


def test_a_stopped_sender_gives_up_on_a_full_socket(tmp_path):
    """What a cancelled request does: the thread ends soon, closing its descriptors."""
    path = tmp_path / "data"
    path.write_bytes(DATA)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    source = os.open(path, os.O_RDONLY)
    stop = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            sendfile._send(os.dup(ours.fileno()), os.dup(source), 0, len(DATA), stop)
        except BaseException as err:
            outcome.append(err)

    try:
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.2)  # nobody reads: the socket is full and the sender waits
        assert thread.is_alive()
        stop.set()
        thread.join(timeout=2)
        assert not thread.is_alive()
        assert isinstance(outcome[0], ConnectionResetError)
    finally:
        os.close(source)
        ours.close()
        theirs.close()
