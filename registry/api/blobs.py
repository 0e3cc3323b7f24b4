"""``HEAD``/``GET``/``DELETE /v2/<name>/blobs/<digest>``: reading and unlinking blobs.

Blobs are sent without passing through Python where the driver allows it:
a redirect to the object store, else sendfile from a local file, else a
stream from the driver.  A blob's bytes never change, so its digest is its
ETag and caches may keep it for good.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from ocispec.digest import Digest

from .. import errors
from ..model.blobs import BlobStore
from . import sendfile
from .common import NAME, parse_digest, repository_of, require_delete_enabled

routes = web.RouteTableDef()

BLOB = f"{NAME}/blobs/{{digest}}"


def _unsatisfiable(size: int) -> web.HTTPRequestRangeNotSatisfiable:
    return web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})


def _byte_range(request: web.Request, size: int) -> tuple[int, int] | None:
    """The ``[start, stop)`` a ``Range`` header asks for, None for the whole blob."""
    try:
        requested = request.http_range
    except ValueError:
        raise _unsatisfiable(size) from None
    start, stop = requested.start, requested.stop
    if start is None:
        return None
    if start < 0:  # a suffix: the last -start bytes
        return max(size + start, 0), size
    if start >= size:
        raise _unsatisfiable(size)
    return start, size if stop is None else min(stop, size)


def _response(request: web.Request, size: int,
              headers: dict[str, str]) -> tuple[web.StreamResponse, int, int]:
    """The response head for the blob or the one byte range asked for, and ``[start, stop)``."""
    byte_range = _byte_range(request, size)
    start, stop = byte_range or (0, size)
    response = web.StreamResponse(status=200 if byte_range is None else 206, headers=headers)
    if byte_range is not None:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response, start, stop


async def _stream(request: web.Request, store: BlobStore, digest: Digest, size: int,
                  headers: dict[str, str]) -> web.StreamResponse:
    """Send the blob from the driver's stream, honouring a single byte range."""
    response, start, stop = _response(request, size, headers)
    response.content_length = stop - start
    await response.prepare(request)
    remaining = stop - start
    async for chunk in store.read_stream(digest, start):
        await response.write(chunk[:remaining])
        remaining -= len(chunk)
        if remaining <= 0:
            break
    await response.write_eof()
    return response


async def _send_local(request: web.Request, path: str, digest: Digest, size: int,
                      headers: dict[str, str]) -> web.StreamResponse:
    """Send the blob's local file with sendfile, honouring a single byte range."""
    loop = asyncio.get_running_loop()
    try:
        fd = await loop.run_in_executor(None, os.open, path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:  # deleted since it was found
        raise errors.BlobUnknown(detail={"digest": str(digest)}) from None
    try:
        response, start, stop = _response(request, size, headers)
        return await sendfile.send(request, response, fd, start, stop - start)
    finally:
        os.close(fd)  # a read-only descriptor: no I/O to wait for


@routes.get(BLOB)  # and HEAD
async def get_blob(request: web.Request) -> web.StreamResponse:
    repository = repository_of(request)
    digest = parse_digest(request.match_info["digest"])
    size = await repository.blobs.size(digest)
    headers = {
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Cache-Control": "max-age=31536000",
    }
    if request.method == "HEAD":
        return web.Response(headers={**headers, "Content-Length": str(size)})
    if any(tag.value in (str(digest), "*") for tag in request.if_none_match or ()):
        return web.Response(status=304, headers={"ETag": headers["ETag"]})
    store = repository.blobs.store
    if url := await store.redirect_url(digest):
        raise web.HTTPTemporaryRedirect(url, headers={"Docker-Content-Digest": str(digest)})
    if (local := store.local_file(digest)) and sendfile.available(request):
        return await _send_local(request, local, digest, size, headers)
    return await _stream(request, store, digest, size, headers)


@routes.delete(BLOB)
async def delete_blob(request: web.Request) -> web.Response:
    """Unlink the blob from this repository; its data stays for others until collected."""
    require_delete_enabled(request)
    repository = repository_of(request)
    await repository.blobs.unlink(parse_digest(request.match_info["digest"]))
    return web.Response(status=202)
