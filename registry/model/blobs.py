"""Content-addressed blobs: stored once, linked into each repository that may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ocispec.digest import Digest

from .. import errors
from ..storage.driver import PathNotFound, StorageDriver
from . import paths


class BlobStore:
    """The registry-wide blob store; it knows nothing of repositories."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    async def size(self, digest: Digest) -> int:
        try:
            return (await self.driver.stat(paths.blob_data(digest))).size
        except PathNotFound:
            raise errors.BlobUnknown(detail={"digest": str(digest)}) from None

    async def exists(self, digest: Digest) -> bool:
        try:
            await self.driver.stat(paths.blob_data(digest))
            return True
        except PathNotFound:
            return False

    async def get(self, digest: Digest) -> bytes:
        try:
            return await self.driver.get_content(paths.blob_data(digest))
        except PathNotFound:
            raise errors.BlobUnknown(detail={"digest": str(digest)}) from None

    async def put(self, data: bytes, algorithm: str = "sha256") -> Digest:
        """Store small content (a manifest) whole; the digest is computed here."""
        digest = Digest.of(data, algorithm)
        if not await self.exists(digest):
            await self.driver.put_content(paths.blob_data(digest), data)
        return digest

    async def adopt(self, source: str, digest: Digest) -> None:
        """Make the verified file at ``source`` the blob ``digest`` (the end of an upload)."""
        if await self.exists(digest):
            await self.driver.delete(source)
        else:
            await self.driver.move(source, paths.blob_data(digest))

    def read_stream(self, digest: Digest, offset: int = 0) -> AsyncIterator[bytes]:
        return self.driver.read_stream(paths.blob_data(digest), offset)

    def local_file(self, digest: Digest) -> str | None:
        return self.driver.local_file(paths.blob_data(digest))

    async def redirect_url(self, digest: Digest) -> str | None:
        return await self.driver.redirect_url(paths.blob_data(digest))


class LinkedBlobs:
    """One repository's view of the blob store: only linked blobs are visible."""

    def __init__(self, store: BlobStore, name: str) -> None:
        self.store = store
        self.driver = store.driver
        self.name = name

    async def is_linked(self, digest: Digest) -> bool:
        try:
            await self.driver.stat(paths.layer_link(self.name, digest))
            return True
        except PathNotFound:
            return False

    async def size(self, digest: Digest) -> int:
        """Size of a blob this repository may read; BlobUnknown otherwise."""
        if not await self.is_linked(digest):
            raise errors.BlobUnknown(detail={"digest": str(digest)})
        return await self.store.size(digest)

    async def exists(self, digest: Digest) -> bool:
        return await self.is_linked(digest) and await self.store.exists(digest)

    async def link(self, digest: Digest) -> None:
        await self.driver.put_content(paths.layer_link(self.name, digest), str(digest).encode())

    async def unlink(self, digest: Digest) -> None:
        """Delete the blob from this repository (the data stays for others; GC reclaims it)."""
        try:
            await self.driver.delete(paths.layer_link(self.name, digest).rsplit("/", 1)[0])
        except PathNotFound:
            raise errors.BlobUnknown(detail={"digest": str(digest)}) from None
