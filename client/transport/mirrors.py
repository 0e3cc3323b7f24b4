"""Pulling through mirrors: read from the configured mirrors first, the registry itself last.

As Docker does with ``registry-mirrors``: every read a pull makes (manifests,
blobs, tag lists) goes to the first mirror that can answer it; a mirror that
cannot be reached, refuses, or lacks the content (404) hands over to the next
one and finally to the registry the reference names.  Content is addressed by
digest and verified by the puller, so it does not matter which of them served
a blob.  A mirror that cannot be reached, keeps failing or rate-limits is not
tried again by the same client.  Writes never go to a mirror: pushes use
``RemoteRepository`` of the registry itself, which is also what this class
inherits for them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, TypeVar

from ocispec.digest import Digest
from ocispec.manifest import Descriptor

from .errors import RegistryError, TransportError
from .repository import BLOB_CHUNK, MANIFEST_ACCEPT, FetchedManifest, RemoteRepository

if TYPE_CHECKING:
    from ..config import Mirror
    from .client import RegistryClient

log = logging.getLogger("dockyard.transport")
T = TypeVar("T")
# What makes a pull turn to the next source: unreachable, refused, unknown, wrong content.
FALLBACK_ERRORS = (TransportError, RegistryError)


class Mirrors:
    """The mirrors of each registry, and the ones found unreachable (skipped from then on)."""

    def __init__(self, table: Mapping[str, Sequence["Mirror"]] | None = None) -> None:
        self._table = {registry: tuple(mirrors) for registry, mirrors in (table or {}).items()}
        self._down: set[str] = set()

    def plain_http_hosts(self) -> list[str]:
        """Hosts of mirrors configured with ``http://``: reached over plain HTTP only."""
        return [m.host for mirrors in self._table.values() for m in mirrors if m.plain_http]

    def of(self, registry: str) -> tuple["Mirror", ...]:
        """The mirrors configured for ``registry``, in the order to try them."""
        return self._table.get(registry, ())

    def is_up(self, mirror: "Mirror") -> bool:
        return mirror.host not in self._down

    def mark_down(self, mirror: "Mirror") -> None:
        self._down.add(mirror.host)


class MirroredRepository(RemoteRepository):
    """A repository whose reads try ``mirrors`` before the registry; writes go to the registry."""

    def __init__(self, client: "RegistryClient", registry: str, name: str,
                 mirrors: Iterable["Mirror"]) -> None:
        super().__init__(client, registry, name)
        self._mirrors = [(m, RemoteRepository(client, m.host, m.repository(name)))
                         for m in mirrors]
        self._origin = RemoteRepository(client, registry, name)

    def __repr__(self) -> str:
        return f"MirroredRepository({self.registry}/{self.name})"

    async def get_manifest(self, reference: str, accept: str = MANIFEST_ACCEPT) -> FetchedManifest:
        return await self._first(lambda repo: repo.get_manifest(reference, accept))

    async def head_manifest(self, reference: str,
                            accept: str = MANIFEST_ACCEPT) -> Descriptor | None:
        return await self._first(lambda repo: repo.head_manifest(reference, accept))

    async def blob_size(self, digest: Digest) -> int | None:
        return await self._first(lambda repo: repo.blob_size(digest))

    async def list_tags(self, page_size: int | None = None) -> list[str]:
        return await self._first(lambda repo: repo.list_tags(page_size))

    async def iter_blob(self, digest: Digest, offset: int = 0,
                        chunk_size: int = BLOB_CHUNK) -> AsyncIterator[bytes]:
        """The blob from the first source that has it; a source failing part-way hands
        over to the next from the byte it reached."""
        position = offset
        for mirror, repo in self._live():
            try:
                async with aclosing(repo.iter_blob(digest, position, chunk_size)) as chunks:
                    async for chunk in chunks:
                        position += len(chunk)
                        yield chunk
                return
            except FALLBACK_ERRORS as err:
                self._fall_back(mirror, repo, err)
        async with aclosing(self._origin.iter_blob(digest, position, chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _first(self, call: Callable[[RemoteRepository], Awaitable[T]]) -> T:
        """``call`` on each mirror until one answers (None counts as "not here"), else on
        the registry itself, whose answer or error is final."""
        for mirror, repo in self._live():
            try:
                answer = await call(repo)
            except FALLBACK_ERRORS as err:
                self._fall_back(mirror, repo, err)
                continue
            if answer is not None:
                return answer
            log.debug("mirror %s: %s has nothing to offer; next source", mirror.url, repo.name)
        return await call(self._origin)

    def _live(self) -> list[tuple["Mirror", RemoteRepository]]:
        return [(m, repo) for m, repo in self._mirrors if self.client.mirrors.is_up(m)]

    def _fall_back(self, mirror: "Mirror", repo: RemoteRepository, err: Exception) -> None:
        """Go on to the next source; a mirror that is unreachable, failing (5xx) or
        rate-limiting (429) after the retries is not asked again (404s, 401s are per item)."""
        if isinstance(err, TransportError) or (
                isinstance(err, RegistryError) and (err.status >= 500 or err.status == 429)):
            self.client.mirrors.mark_down(mirror)
        log.debug("mirror %s (%s): %s; next source", mirror.url, repo.name, err)
