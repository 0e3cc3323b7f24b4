"""Blob fetches from upstream: one per blob however many clients ask, streamed while stored.

The first request for a missing blob starts a download in a task of its own
(a client that hangs up does not stop it: others may be reading, and the
cache wants the blob anyway); requests that come while it runs join it.  The
bytes go through an upload session of the cached repository, so they are
hashed while written, verified against the digest and the upstream's length,
and only then adopted as the blob and linked: a broken or truncated transfer
leaves nothing behind (and a server killed meanwhile leaves an upload session
that upload purging removes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from ocispec.digest import Digest

from .. import errors
from ..model.uploads import Uploads
from .fanout import Broadcast
from .stats import Stats

log = logging.getLogger("registry.proxy")

READ_SIZE = 1 << 20


@dataclass
class Download:
    digest: Digest
    size: int | None
    broadcast: Broadcast


Opener = Callable[[], Awaitable[aiohttp.ClientResponse]]


class Downloads:
    """The downloads running in this process, by (cached repository, digest)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self._running: dict[tuple[str, Digest], asyncio.Future[Download]] = {}
        self._tasks: set[asyncio.Task] = set()

    async def join(self, uploads: Uploads, digest: Digest, open_blob: Opener) -> Download:
        """The running download of ``digest`` into ``uploads``' repository, started if need be.

        Raises what the upstream answered when it refuses (or cannot be reached).
        """
        key = (uploads.name, digest)
        started = self._running.get(key)
        if started is None:
            started = self._running[key] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._fetch(key, uploads, open_blob, started))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(started)

    async def _fetch(self, key: tuple[str, Digest], uploads: Uploads, open_blob: Opener,
                     started: asyncio.Future[Download]) -> None:
        try:
            try:
                response = await open_blob()
            except BaseException as err:
                started.set_exception(err)
                started.exception()  # retrieved: the requester may have gone
                return
            download = Download(key[1], response.content_length,
                                Broadcast(response.content_length))
            started.set_result(download)
            try:
                await self._store(uploads, download, response)
            finally:
                response.release()
        finally:
            del self._running[key]

    async def _store(self, uploads: Uploads, download: Download,
                     response: aiohttp.ClientResponse) -> None:
        began = time.monotonic()
        upload_id = None
        try:
            upload_id = await uploads.start()
            await uploads.finish(upload_id, download.digest, self._tee(response, download),
                                 length=download.size)
        except BaseException as err:
            if upload_id is not None:
                with contextlib.suppress(errors.BlobUploadUnknown):
                    await uploads.cancel(upload_id)
            log.warning("proxy: not cached: blob %s of %s: %s", download.digest, uploads.name,
                        _describe(err))
            download.broadcast.finish(_as_registry_error(err))
            if isinstance(err, asyncio.CancelledError):
                raise
            return
        download.broadcast.finish()
        log.info("proxy: cached blob %s of %s: %d bytes in %.2fs", download.digest,
                 uploads.name, download.size or 0, time.monotonic() - began)

    async def _tee(self, response: aiohttp.ClientResponse,
                   download: Download) -> AsyncIterator[bytes]:
        async for chunk in response.content.iter_chunked(READ_SIZE):
            self.stats.upstream_bytes += len(chunk)
            download.broadcast.publish(chunk)
            yield chunk

    async def close(self) -> None:
        """Stop the downloads still running (the server is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _describe(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _as_registry_error(err: BaseException) -> errors.RegistryError:
    if isinstance(err, errors.RegistryError):
        return err
    return errors.Unavailable(message=f"upstream transfer failed: {_describe(err)}")
