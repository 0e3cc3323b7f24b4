"""Blob upload as the distribution spec describes it.

Order of preference: a cross-repository mount (no bytes move), then one
``PUT`` for blobs up to the chunk size, else ``PATCH`` chunks with
``Content-Range`` and a closing ``PUT``. A chunk the registry did not take
(416, after a reset) is resumed from the offset the registry reports for
the upload session rather than from zero.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from yarl import URL

from ocispec.digest import Digest

from .errors import RegistryError
from .http import Body

if TYPE_CHECKING:
    from .http import Reply
    from .repository import RemoteRepository

# A chunk the registry refused may be retried this many times after asking where it stands.
_RESUMES = 3
_READ_BLOCK = 1 << 20
_RANGE = re.compile(r"^(?:bytes=)?0-(\d+)$")
_OCTETS = "application/octet-stream"


# Told the byte count of each piece of a blob as it goes out (for a progress display).
SentCallback = Callable[[int], None]
# The bytes from ``start`` to ``end`` of a blob kept elsewhere (another registry), read afresh
# on each call: a retried request sends its body again.
RangeReader = Callable[[int, int], AsyncIterator[bytes]]
BlobSource = bytes | Path | RangeReader


async def upload_blob(repo: "RemoteRepository", digest: Digest, size: int, source: BlobSource,
                      mount_from: Iterable[str], chunk_size: int,
                      on_sent: SentCallback | None = None) -> Literal["mounted", "uploaded"]:
    location = None
    for other in mount_from:
        reply = await _start(repo, f"?mount={digest}&from={other}",
                             repo.push_scopes + (f"repository:{other}:pull",))
        if reply.status == 201:
            return "mounted"
        location = reply.headers["Location"]
        break  # the registry opened an upload session instead; use it
    if location is None:
        location = (await _start(repo, "", repo.push_scopes)).headers["Location"]
    if size > chunk_size:
        location = await _send_chunks(repo, location, size, source, chunk_size, on_sent)
        final_body: Body = b""
    else:
        final_body = _slice(source, 0, size, on_sent)
    reply = await repo.client.fetch(
        repo.registry, "PUT", str(URL(location).update_query(digest=str(digest))),
        repo.push_scopes, body=final_body, ok=(201,),
        headers={"Content-Type": _OCTETS,
                 "Content-Length": str(0 if size > chunk_size else size)})
    announced = reply.headers.get("Docker-Content-Digest")
    if announced and announced != str(digest):
        raise RegistryError(repo.registry, reply.status, "DIGEST_INVALID",
                            f"registry stored {announced}, expected {digest}")
    return "uploaded"


async def _start(repo: "RemoteRepository", query: str, scopes: tuple[str, ...]) -> "Reply":
    reply = await repo.client.fetch(repo.registry, "POST",
                                    f"/v2/{repo.name}/blobs/uploads/{query}",
                                    scopes, ok=(201, 202), headers={"Content-Length": "0"})
    if reply.status == 202 and "Location" not in reply.headers:
        raise RegistryError(repo.registry, 202, "", "upload started without a Location")
    return reply


async def _send_chunks(repo: "RemoteRepository", location: str, size: int,
                       source: BlobSource, chunk_size: int,
                       on_sent: SentCallback | None) -> str:
    offset, resumes = 0, 0
    while offset < size:
        end = min(offset + chunk_size, size)
        try:
            reply = await repo.client.fetch(
                repo.registry, "PATCH", location, repo.push_scopes,
                body=_slice(source, offset, end, on_sent), ok=(202,),
                headers={"Content-Type": _OCTETS, "Content-Length": str(end - offset),
                         "Content-Range": f"{offset}-{end - 1}"})
        except RegistryError as err:
            if err.status != 416 or resumes >= _RESUMES:
                raise
            resumes += 1
            location, offset = await _status(repo, location)
            continue
        location = reply.headers.get("Location", location)
        offset = _end_of_range(reply.headers.get("Range")) or end
    return location


async def _status(repo: "RemoteRepository", location: str) -> tuple[str, int]:
    """Where the upload session stands: its location and how many bytes it holds."""
    reply = await repo.client.fetch(repo.registry, "GET", location, repo.push_scopes,
                                    ok=(204,))
    return reply.headers.get("Location", location), _end_of_range(reply.headers.get("Range"))


def _end_of_range(header: str | None) -> int:
    """Bytes held according to an inclusive ``Range: 0-<last>`` (``0-0`` is said for empty)."""
    match = _RANGE.match(header or "")
    last = int(match.group(1)) if match else 0
    return last + 1 if last else 0


def _slice(source: BlobSource, start: int, end: int, on_sent: SentCallback | None) -> Body:
    if isinstance(source, bytes) and on_sent is None:
        return source[start:end]
    return lambda: _read(source, start, end, on_sent)


async def _read(source: BlobSource, start: int, end: int,
                on_sent: SentCallback | None) -> AsyncIterator[bytes]:
    """The bytes from ``start`` to ``end`` in blocks, each reported once the sender wants more."""
    if isinstance(source, bytes):
        blocks: AsyncIterator[bytes] = _split(source[start:end])
    elif isinstance(source, Path):
        blocks = _read_file(source, start, end)
    else:
        blocks = source(start, end)
    async for block in blocks:
        yield block
        if on_sent is not None:
            on_sent(len(block))


async def _split(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), _READ_BLOCK):
        yield data[offset:offset + _READ_BLOCK]


async def _read_file(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining:
            block = await asyncio.to_thread(f.read, min(_READ_BLOCK, remaining))
            if not block:
                raise OSError(f"{path} ended {remaining} bytes early")
            remaining -= len(block)
            yield block
