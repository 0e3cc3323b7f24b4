"""``/v2/<name>/blobs/uploads/``: pushing blobs, monolithic, chunked or by mounting.

``POST`` starts a session (or does a whole upload with ``?digest=``, or mounts
with ``?mount=&from=``); ``PATCH`` appends a chunk; ``PUT ?digest=`` appends
the optional last chunk and finishes; ``GET`` tells how far the session got;
``DELETE`` cancels it.  Bodies are passed to the model as streams.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from ocispec.digest import Digest, InvalidDigest

from .. import errors
from ..model import Repository
from .common import CALLER, NAME, parse_digest, registry_of, repository_of

routes = web.RouteTableDef()

UPLOADS = f"{NAME}/blobs/uploads/"
SESSION = UPLOADS + "{upload_id}"

CHUNK_MIN_LENGTH = 1 << 20
"""Advertised as ``OCI-Chunk-Min-Length``: smaller chunks work but cost a request
each for little data.  Nothing is refused for being smaller."""

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)")


def _session_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    """Where a session is and how far it got.

    ``Range`` is inclusive, so an empty session says ``0-0`` as distribution
    does (the spec has no way to say "nothing yet").
    """
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(offset - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


def _created(name: str, digest: Digest) -> web.Response:
    return web.Response(status=201, headers={"Location": f"/v2/{name}/blobs/{digest}",
                                             "Docker-Content-Digest": str(digest)})


def _content_range(request: web.Request) -> tuple[int | None, int | None]:
    """(start, length) of the chunk as ``Content-Range`` declares it, or (None, None)."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None, None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None or int(match[2]) < int(match[1]):
        raise errors.RangeInvalid(detail={"Content-Range": header})
    start, length = int(match[1]), int(match[2]) - int(match[1]) + 1
    if request.content_length is not None and request.content_length != length:
        raise errors.SizeInvalid(detail={"Content-Range": header,
                                         "Content-Length": request.content_length})
    return start, length


@asynccontextmanager
async def _recoverable(repository: Repository, upload_id: str) -> AsyncIterator[None]:
    """Errors a client recovers from by resending a chunk tell where the session stands."""
    try:
        yield
    except (errors.RangeInvalid, errors.SizeInvalid) as err:
        offset = await repository.uploads.offset(upload_id)
        err.headers.update(_session_headers(repository.name, upload_id, offset))
        raise


async def may_mount_from(request: web.Request, source: str) -> bool:
    """Whether the client may read repository ``source`` to mount a blob from it.

    The one place the auth layer hooks into mounting: a refusal is no error,
    the client gets an upload session instead, as for a blob that is not there.
    """
    caller = request.get(CALLER)
    return caller is None or caller.may_pull(source)


async def _mount(request: web.Request, repository: Repository) -> Digest | None:
    """Mount ``?mount=`` from ``?from=``; None (fall back to an upload) when that cannot be done."""
    try:
        digest = Digest.parse(request.query["mount"])
        source = registry_of(request).repository(request.query["from"])
    except (KeyError, InvalidDigest, errors.NameInvalid):
        return None
    if not await may_mount_from(request, source.name):
        return None
    return digest if await repository.uploads.mount(digest, source.blobs) else None


@routes.post(UPLOADS)
async def start_upload(request: web.Request) -> web.Response:
    repository = repository_of(request)
    if "mount" in request.query and (mounted := await _mount(request, repository)):
        return _created(repository.name, mounted)
    digest = parse_digest(request.query["digest"]) if "digest" in request.query else None
    upload_id = await repository.uploads.start()
    if digest is not None:  # the whole blob in this one request
        await repository.uploads.finish(upload_id, digest, request.content.iter_any())
        return _created(repository.name, digest)
    headers = _session_headers(repository.name, upload_id, 0)
    headers["OCI-Chunk-Min-Length"] = str(CHUNK_MIN_LENGTH)
    return web.Response(status=202, headers=headers)


@routes.patch(SESSION)
async def upload_chunk(request: web.Request) -> web.Response:
    repository = repository_of(request)
    upload_id = request.match_info["upload_id"]
    async with _recoverable(repository, upload_id):
        start, length = _content_range(request)
        offset = await repository.uploads.append(upload_id, request.content.iter_any(),
                                                 start, length)
    return web.Response(status=202, headers=_session_headers(repository.name, upload_id, offset))


@routes.put(SESSION)
async def finish_upload(request: web.Request) -> web.Response:
    repository = repository_of(request)
    upload_id = request.match_info["upload_id"]
    if "digest" not in request.query:
        raise errors.DigestInvalid(message="digest parameter missing")
    digest = parse_digest(request.query["digest"])
    async with _recoverable(repository, upload_id):
        start, length = _content_range(request)
        await repository.uploads.finish(upload_id, digest, request.content.iter_any(),
                                        start, length)
    return _created(repository.name, digest)


@routes.get(SESSION)  # and HEAD
async def upload_status(request: web.Request) -> web.Response:
    repository = repository_of(request)
    upload_id = request.match_info["upload_id"]
    offset = await repository.uploads.offset(upload_id)
    return web.Response(status=204, headers=_session_headers(repository.name, upload_id, offset))


@routes.delete(SESSION)
async def cancel_upload(request: web.Request) -> web.Response:
    repository = repository_of(request)
    await repository.uploads.cancel(request.match_info["upload_id"])
    return web.Response(status=204)
