"""A cached repository: the model's repository interface, answered from cache or upstream.

The HTTP handlers call ``blobs``, ``manifests``, ``tags``, ``uploads`` and
``referrers`` exactly as on an ordinary repository.  Here:

- a manifest by digest is immutable: once cached it is served forever;
- a manifest by tag is served from the cache for ``tagttl`` after the tag was
  last checked, then revalidated with a ``HEAD`` (Docker Hub does not count
  it as a pull) and fetched again only when the digest changed;
- when the upstream fails or rate-limits, whatever is cached is served and
  the response says so (``Warning: 110`` and ``Dockyard-Proxy-Stale``); only
  what is not cached fails, with the upstream's error;
- a missing blob is fetched once (``downloads``) and streamed to the client
  while it is stored;
- pushes are refused (``UNSUPPORTED``); DELETE only evicts from the cache.

Every cache hit refreshes the item's link in storage now and then (its
modification time is when it was last used), which is what eviction reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NoReturn

from ocispec.digest import Digest
from ocispec.manifest import InvalidManifest, parse_manifest

from .. import errors
from ..model import Repository, paths
from ..model.manifests import Reference, StoredManifest
from .downloads import Download
from .fanout import FellBehind
from .stale import mark_stale

if TYPE_CHECKING:
    from .registry import Mirror

log = logging.getLogger("registry.proxy")

# Upstream answers after which cached content is served rather than the error.
STALE_STATUSES = (429, 500, 502, 503, 504)


def _servable_stale(err: errors.RegistryError) -> bool:
    upstream = getattr(err, "upstream_status", err.status)
    return upstream in STALE_STATUSES


class ProxyRepository:
    """Repository ``name`` (local, normalised) mirroring ``remote`` on ``mirror``'s upstream."""

    def __init__(self, local: Repository, mirror: "Mirror", remote: str) -> None:
        self.name = local.name
        self.registry = local.registry
        self.mirror = mirror
        self.remote = remote
        self.local = local
        self.blobs = CachedBlobs(self)
        self.manifests = CachedManifests(self)
        self.tags = CachedTags(self)
        self.uploads = RefusedUploads(self)
        self.referrers = local.referrers

    async def touch(self, link: str, digest: Digest) -> None:
        """Note that the item at ``link`` was used (rewritten now and then, not every time)."""
        if self.mirror.usage.due(link):
            try:
                await self.local.blobs.driver.put_content(link, str(digest).encode())
            except OSError:
                log.warning("proxy: cannot record the use of %s", link, exc_info=True)


class CachedManifests:
    def __init__(self, repository: ProxyRepository) -> None:
        self.repository = repository
        self.mirror = repository.mirror
        self.local = repository.local.manifests

    async def get(self, reference: Reference) -> StoredManifest:
        if isinstance(reference, Digest):
            return await self._by_digest(reference)
        stored, stale = await self.mirror.single_flight(("tag", self.repository.name, reference),
                                                        lambda: self._by_tag(reference))
        if stale is not None:
            mark_stale(stale)
        return stored

    async def exists(self, digest: Digest) -> bool:
        return await self.local.exists(digest)

    async def put(self, reference: Reference, data: bytes, content_type: str | None):
        raise self.repository.uploads.refusal()

    async def delete(self, digest: Digest) -> None:
        """Evict the manifest (and the tags on it) from the cache; upstream is not touched."""
        await self.local.delete(digest)

    async def _by_digest(self, digest: Digest) -> StoredManifest:
        if await self.local.exists(digest):
            self.mirror.hit("manifest", self.repository.name, digest)
            await self.repository.touch(paths.revision_link(self.repository.name, digest), digest)
            return await self.local.get(digest)
        return await self.mirror.single_flight(("digest", self.repository.name, digest),
                                               lambda: self._fetch(str(digest)))

    async def _by_tag(self, tag: str) -> tuple[StoredManifest, str | None]:
        """The manifest, and why it is a stale copy when it is one."""
        name = self.repository.name
        try:
            cached = await self.local.tags.resolve(tag)
        except errors.ManifestUnknown:
            cached = None
        if cached is not None and self.mirror.fresh(name, tag):
            self.mirror.hit("manifest", name, tag)
            return await self._cached(cached), None
        try:
            if cached is not None:
                self.mirror.stats.revalidations += 1
                current = await self.mirror.upstream.head_manifest(self.repository.remote, tag)
                if current == cached:
                    self.mirror.checked(name, tag)
                    self.mirror.hit("manifest", name, tag)
                    return await self._cached(cached), None
            return await self._fetch(tag), None
        except errors.RegistryError as err:
            if cached is None or not _servable_stale(err):
                raise
            return await self._cached(cached), self.mirror.stale(name, tag, err)

    async def _cached(self, digest: Digest) -> StoredManifest:
        await self.repository.touch(paths.revision_link(self.repository.name, digest), digest)
        return await self.local.get(digest)

    async def _fetch(self, reference: str) -> StoredManifest:
        """Fetch from upstream and store: blob, links, and the tag when ``reference`` is one."""
        name = self.repository.name
        self.mirror.miss("manifest", name, reference)
        fetched = await self.mirror.upstream.get_manifest(self.repository.remote, reference)
        try:
            media_type = parse_manifest(fetched.data, fetched.media_type or None).media_type
        except InvalidManifest as err:
            raise errors.ManifestInvalid(detail=str(err),
                                         message="upstream sent an invalid manifest") from None
        blobs = self.repository.local.blobs
        self.mirror.usage.note(paths.revision_link(name, fetched.digest))
        await blobs.store.put(fetched.data, fetched.digest.algorithm)
        await blobs.link(fetched.digest)
        await blobs.driver.put_content(paths.revision_link(name, fetched.digest),
                                       str(fetched.digest).encode())
        if ":" not in reference:
            await self.local.tags.tag(reference, fetched.digest)
            self.mirror.checked(name, reference)
        stored = StoredManifest(fetched.digest, fetched.data, media_type)
        self.local.cache.put(stored)
        return stored


class CachedTags:
    """Tags as the upstream lists them (the cached ones when it cannot be asked)."""

    def __init__(self, repository: ProxyRepository) -> None:
        self.repository = repository
        self.local = repository.local.tags

    async def all(self) -> list[str]:
        try:
            return sorted(set(await self.repository.mirror.upstream.tags(self.repository.remote)))
        except errors.RegistryError as err:
            if not _servable_stale(err):
                raise
            mark_stale(self.repository.mirror.stale(self.repository.name, "tags", err))
            return await self.local.all()

    async def untag(self, tag: str) -> None:
        """Evict the tag from the cache: the next pull by it asks upstream."""
        await self.local.untag(tag)
        self.repository.mirror.forget(self.repository.name, tag)


class CachedBlobs:
    """Blobs: the cached ones linked as usual, missing ones fetched (once) from upstream.

    A per-request object: ``size`` decides where the bytes come from, and
    ``store`` (what the handler sends from) follows that decision.  ``size``
    is all a HEAD asks, but for a blob not cached it starts the download too
    (the handler does not say which method it serves): a client that asks
    about a blob is about to fetch it.
    """

    def __init__(self, repository: ProxyRepository) -> None:
        self.repository = repository
        self.local = repository.local.blobs
        self.name = self.local.name
        self.driver = self.local.driver
        self.store = _BlobSource(self)
        self.download: Download | None = None

    async def size(self, digest: Digest) -> int:
        mirror = self.repository.mirror
        try:
            size = await self.local.size(digest)
        except errors.BlobUnknown:
            pass
        else:
            mirror.hit("blob", self.name, digest)
            await self.repository.touch(paths.layer_link(self.name, digest), digest)
            return size
        mirror.miss("blob", self.name, digest)
        mirror.usage.note(paths.layer_link(self.name, digest))  # the download writes it
        download = await mirror.downloads.join(
            self.repository.local.uploads, digest,
            lambda: mirror.upstream.open_blob(self.repository.remote, digest))
        if download.size is None:  # no length given: serve it once it is stored
            await asyncio.shield(download.broadcast.outcome)
            return await self.local.store.size(digest)
        self.download = download
        return download.size

    async def exists(self, digest: Digest) -> bool:
        """Cached only: a mount from this repository takes what the cache holds."""
        return await self.local.exists(digest)

    async def is_linked(self, digest: Digest) -> bool:
        return await self.local.is_linked(digest)

    async def link(self, digest: Digest) -> None:
        await self.local.link(digest)

    async def unlink(self, digest: Digest) -> None:
        """Evict the blob from this repository's cache (its data stays while others link it)."""
        await self.local.unlink(digest)


class _BlobSource:
    """What the blob handler sends from: the running download, else the stored blob."""

    def __init__(self, blobs: CachedBlobs) -> None:
        self.blobs = blobs
        self.stored = blobs.local.store

    async def redirect_url(self, digest: Digest) -> str | None:
        return None if self.blobs.download else await self.stored.redirect_url(digest)

    def local_file(self, digest: Digest) -> str | None:
        return None if self.blobs.download else self.stored.local_file(digest)

    async def read_stream(self, digest: Digest, offset: int = 0) -> AsyncIterator[bytes]:
        download = self.blobs.download
        if download is not None:
            try:
                async for chunk in download.broadcast.read(offset):
                    offset += len(chunk)
                    yield chunk
                return
            except FellBehind:
                log.debug("proxy: a reader of %s fell behind at %d: it continues from storage "
                          "once the blob is stored", digest, offset)
                await asyncio.shield(download.broadcast.outcome)  # stored, or its error
            except errors.RegistryError as err:
                # The response is under way: only hanging up tells the client (aiohttp does).
                raise ConnectionResetError(f"upstream transfer of {digest} failed: "
                                           f"{err.message}") from err
        async for chunk in self.stored.read_stream(digest, offset):
            yield chunk


class RefusedUploads:
    """A cached repository takes no pushes: its content is the upstream's."""

    def __init__(self, repository: ProxyRepository) -> None:
        self.repository = repository

    def refusal(self) -> errors.RegistryError:
        repository = self.repository
        return errors.Unsupported(
            detail={"name": repository.name, "upstream": repository.mirror.upstream.url},
            message=f"{repository.name} is a pull-through cache of "
                    f"{repository.mirror.upstream.url}/{repository.remote}: push is not "
                    f"allowed; push to a repository outside the mirrored namespace")

    async def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise self.refusal()

    start = append = finish = offset = cancel = mount = _refuse

