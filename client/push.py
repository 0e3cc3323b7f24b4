"""Pushing an image from the local store to a registry.

Blobs go first and the manifest last, so a registry never holds a manifest
whose blobs are missing; a multi-platform index pushes each platform's
manifest (by digest) before the index itself.  For each blob: nothing when
the repository has it already (``HEAD``), a cross-repository mount when the
blob is known to be in another repository of the same registry (from
``BlobSources``), an upload otherwise (the transport decides between one
request and chunks).  A few blobs move at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ocispec.digest import Digest
from ocispec.manifest import Descriptor
from ocispec.reference import Reference

from .blobsources import BlobSources
from .errors import DockyardError
from .localimages import short_id
from .progress import Display
from .store import BlobNotFound, ImageStore
from .transport import RegistryClient, RemoteRepository

CONCURRENCY = 5  # Docker's default max-concurrent-uploads


@dataclass(frozen=True)
class PushResult:
    digest: Digest
    size: int  # of the manifest (or index) pushed


class Pusher:
    def __init__(self, store: ImageStore, client: RegistryClient, display: Display, *,
                 concurrency: int = CONCURRENCY) -> None:
        self._store = store
        self._client = client
        self._display = display
        self._sources = BlobSources(store.root)
        self._slots = asyncio.Semaphore(concurrency)

    async def push(self, reference: Reference, entry: Descriptor) -> PushResult:
        """Push the image ``entry`` of the store as ``reference`` (by its tag, else its digest)."""
        repo = self._client.repository(reference.registry, reference.repository)
        blobs = await self._tree(repo, entry)
        data = await self._store.read_blob(entry.digest)
        digest = await repo.put_manifest(reference.tag or str(entry.digest), data,
                                         entry.media_type)
        await asyncio.to_thread(self._sources.record, repo.registry, repo.name, blobs)
        return PushResult(digest, len(data))

    async def _tree(self, repo: RemoteRepository, entry: Descriptor) -> list[Digest]:
        """Push what ``entry`` references (not ``entry`` itself); the blobs pushed."""
        manifest = await self._store.manifest(entry)
        if not manifest.is_index:
            assert manifest.config is not None
            layers = [layer for layer in manifest.layers if not layer.is_foreign]
            await asyncio.gather(self._blob(repo, manifest.config, None),
                                 *(self._blob(repo, layer, short_id(layer.digest))
                                   for layer in layers))
            return [manifest.config.digest, *(layer.digest for layer in layers)]
        pushed = []
        for child in manifest.children:
            if await self._store.has_blob(child.digest):
                pushed += await self._tree(repo, child)
                data = await self._store.read_blob(child.digest)
                await repo.put_manifest(str(child.digest), data, child.media_type)
            elif await repo.head_manifest(str(child.digest)) is None:
                raise DockyardError(f"cannot push the index {entry.digest}: its manifest "
                                    f"{child.digest} is neither here nor in {repo.name}")
        return pushed

    async def _blob(self, repo: RemoteRepository, blob: Descriptor, item: str | None) -> None:
        """Make the repository hold ``blob``; ``item`` names it on the display."""
        show = self._display.status if item else _unshown
        show(item, "Preparing")
        async with self._slots:
            if await repo.blob_size(blob.digest) is not None:
                show(item, "Layer already exists")
                return
            if not await self._store.has_blob(blob.digest):
                raise BlobNotFound(f"blob {blob.digest} is in neither the local store "
                                   f"nor {repo.name}")
            sources = [r for r in await asyncio.to_thread(
                self._sources.repositories, repo.registry, blob.digest) if r != repo.name]
            show(item, "Pushing", total=blob.size)
            how = await repo.upload_blob(
                blob.digest, blob.size, self._store.blobs.path(blob.digest),
                mount_from=sources,
                on_sent=(lambda n: self._display.advance(item, n)) if item else None)
        show(item, f"Mounted from {sources[0]}" if how == "mounted" else "Pushed")


def _unshown(*args: object, **kwargs: object) -> None:
    """The display of blobs Docker does not show (the config)."""
