"""Operations on one remote repository: manifests, blobs, tags.

Blob downloads are a byte stream that survives dropped connections: the
stream picks up where it broke with a ``Range`` request, so a caller writing
and hashing the bytes sees one uninterrupted sequence and never restarts a
large layer from zero.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiohttp

from ocispec import mediatypes as mt
from ocispec.digest import Digest, InvalidDigest
from ocispec.manifest import Descriptor, InvalidManifest, Manifest, parse_manifest

from .errors import NotFoundError, RegistryError, TransportError
from .http import TRANSIENT_ERRORS, describe
from .upload import BlobSource, SentCallback, upload_blob

if TYPE_CHECKING:
    from .client import RegistryClient

log = logging.getLogger("dockyard.transport")

# Indexes first: a client that can pick a platform should be handed the list.
MANIFEST_ACCEPT = ", ".join([mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST,
                             mt.OCI_MANIFEST, mt.DOCKER_MANIFEST])
BLOB_CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest's bytes (the digest is over these, never re-serialised) and what they say."""

    data: bytes
    digest: Digest
    manifest: Manifest

    @property
    def media_type(self) -> str:
        return self.manifest.media_type

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.data))


class RemoteRepository:
    def __init__(self, client: "RegistryClient", registry: str, name: str) -> None:
        self.client = client
        self.registry = registry
        self.name = name
        self.pull_scopes = (f"repository:{name}:pull",)
        self.push_scopes = (f"repository:{name}:pull,push",)

    def __repr__(self) -> str:
        return f"RemoteRepository({self.registry}/{self.name})"

    async def get_manifest(self, reference: str, accept: str = MANIFEST_ACCEPT) -> FetchedManifest:
        """Fetch and check a manifest or index by tag or digest.

        The bytes must hash to the digest asked for (or announced in
        ``Docker-Content-Digest``): a registry cannot substitute content.
        """
        reply = await self.client.fetch(self.registry, "GET", self._path("manifests", reference),
                                        self.pull_scopes, headers={"Accept": accept})
        expected = _digest_or_none(reference) or _digest_or_none(
            reply.headers.get("Docker-Content-Digest", ""))
        algorithm = expected.algorithm if expected else "sha256"
        digest = Digest.of(reply.body, algorithm)
        if expected is not None and digest != expected:
            raise RegistryError(self.registry, reply.status, "DIGEST_INVALID",
                                f"manifest {self.name}@{reference} has digest {digest}, "
                                f"expected {expected}")
        try:
            manifest = parse_manifest(reply.body, reply.headers.get("Content-Type"))
        except InvalidManifest as err:
            raise RegistryError(self.registry, reply.status, "MANIFEST_INVALID",
                                f"manifest {self.name}@{reference}: {err}") from None
        return FetchedManifest(reply.body, digest, manifest)

    async def head_manifest(self, reference: str,
                            accept: str = MANIFEST_ACCEPT) -> Descriptor | None:
        """What a tag or digest points at, without the body; None when unknown."""
        try:
            reply = await self.client.fetch(self.registry, "HEAD",
                                            self._path("manifests", reference),
                                            self.pull_scopes, headers={"Accept": accept})
        except NotFoundError:
            return None
        digest = _digest_or_none(reply.headers.get("Docker-Content-Digest", "")) \
            or _digest_or_none(reference)
        media_type = reply.headers.get("Content-Type", "").split(";")[0].strip()
        if digest is None or media_type not in mt.MANIFESTS:
            # Some registries omit these on HEAD; the body tells for certain.
            return (await self.get_manifest(reference, accept)).descriptor
        return Descriptor(media_type, digest, int(reply.headers.get("Content-Length", 0)))

    async def put_manifest(self, reference: str, data: bytes, media_type: str) -> Digest:
        """Upload a manifest under a tag or its digest; returns its digest."""
        digest = Digest.of(data)
        reply = await self.client.fetch(self.registry, "PUT", self._path("manifests", reference),
                                        self.push_scopes, body=data, ok=(201, 200),
                                        headers={"Content-Type": media_type})
        announced = _digest_or_none(reply.headers.get("Docker-Content-Digest", ""))
        if announced is not None and announced.algorithm == "sha256" and announced != digest:
            raise RegistryError(self.registry, reply.status, "DIGEST_INVALID",
                                f"registry stored manifest as {announced}, expected {digest}")
        return digest

    async def blob_size(self, digest: Digest) -> int | None:
        """The blob's size when the repository has it (``HEAD``), else None."""
        try:
            reply = await self.client.fetch(self.registry, "HEAD", self._path("blobs", digest),
                                            self.pull_scopes)
        except NotFoundError:
            return None
        return int(reply.headers.get("Content-Length", 0))

    async def iter_blob(self, digest: Digest, offset: int = 0,
                        chunk_size: int = BLOB_CHUNK) -> AsyncIterator[bytes]:
        """The blob's bytes from ``offset`` on, resuming with ``Range`` after a dropped connection.

        Verifying the digest is the caller's job (it has the bytes as they pass).
        Close early with ``contextlib.aclosing``.
        """
        position, failures = offset, 0
        retry = self.client.retry
        while True:
            headers = {"Range": f"bytes={position}-"} if position else {}
            resp = await self.client.stream(self.registry, "GET", self._path("blobs", digest),
                                            self.pull_scopes, headers=headers, ok=(200, 206))
            started = position
            try:
                skip = _bytes_to_skip(resp, position)
                async for chunk in resp.content.iter_chunked(chunk_size):
                    if skip:
                        chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                        if not chunk:
                            continue
                    position += len(chunk)
                    yield chunk
                return
            except TRANSIENT_ERRORS as err:
                failures = 1 if position > started else failures + 1
                if failures >= retry.attempts:
                    raise TransportError(f"downloading {digest} from {self.registry}: "
                                         f"{describe(err)} at byte {position}") from err
                wait = retry.delay(failures)
                log.debug("blob %s broke at byte %d (%s); resuming in %.2fs",
                          digest, position, describe(err), wait)
                await asyncio.sleep(wait)
            finally:
                resp.release()

    async def read_range(self, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` of the blob: the ``RangeReader`` that uploads the blob
        into another registry straight from this one, never holding it whole."""
        remaining = end - start
        async with aclosing(self.iter_blob(digest, start)) as chunks:
            async for chunk in chunks:
                if len(chunk) >= remaining:
                    yield chunk[:remaining]
                    return
                remaining -= len(chunk)
                yield chunk
        if remaining:
            raise TransportError(f"blob {digest} from {self.registry} ended {remaining} bytes "
                                 f"short of byte {end}")

    async def upload_blob(self, digest: Digest, size: int, source: BlobSource, *,
                          mount_from: Iterable[str] = (), chunk_size: int = 16 << 20,
                          on_sent: SentCallback | None = None) -> Literal["mounted", "uploaded"]:
        """Put a blob in the repository: ``"mounted"`` from a sibling repository when one of
        ``mount_from`` has it, else ``"uploaded"`` (whole, or in ``chunk_size`` pieces).

        ``source`` is the blob's bytes, its file, or a ``RangeReader`` streaming it from
        elsewhere.  ``on_sent`` is told the size of each block sent (a retried block is
        told again).
        """
        return await upload_blob(self, digest, size, source, mount_from, chunk_size, on_sent)

    async def list_tags(self, page_size: int | None = None) -> list[str]:
        """Every tag of the repository, across pages."""
        return await self.client.paginate(self.registry, f"/v2/{self.name}/tags/list",
                                          self.pull_scopes, "tags", page_size)

    def _path(self, kind: str, reference: str | Digest) -> str:
        return f"/v2/{self.name}/{kind}/{reference}"


def _digest_or_none(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except InvalidDigest:
        return None


def _bytes_to_skip(resp: aiohttp.ClientResponse, position: int) -> int:
    """How much of the body precedes ``position``: all of it when a server ignored ``Range``."""
    if resp.status == 200:
        return position
    content_range = resp.headers.get("Content-Range", "")
    if not content_range.startswith(f"bytes {position}-"):
        raise TransportError(f"asked for bytes from {position}, got Content-Range "
                             f"{content_range!r} from {resp.url}")
    return 0
