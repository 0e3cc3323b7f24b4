"""Pulling an image into the local store so that it is ready to run.

The tag is resolved first (one manifest GET); a multi-platform index is
narrowed to the platform wanted (the host's by default), unless every
platform is asked for.  Then the configs come down, which name each layer's
diff ID and so its chain ID: a layer whose blob is stored and whose chain is
unpacked "Already exists".  The other layers download in parallel (a few at
a time), each streamed into the store while its digest is computed and
committed only if it matches; a download cut short leaves its bytes in the
store's ingest area, and the next attempt resumes from there with ``Range``.
Each layer is unpacked as soon as its blob is in, while the others are
still downloading: a layer's directory depends on the layers below only
through its chain ID, which the config gives, so layers unpack independently
and in any order.  Large pulls unpack in worker processes, which keeps the
event loop (downloading, hashing) and the unpackers on separate cores.

Everything written is covered by a lease until the tag names it, so a
concurrent ``rmi`` or ``prune`` cannot take it away half-way.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

from ocispec import mediatypes as mt
from ocispec.digest import Digest
from ocispec.manifest import Descriptor, Manifest
from ocispec.reference import Reference

from .blobsources import BlobSources
from .errors import DockyardError
from .layerfeed import LayerFeed
from .layers import LayerStore, chain_id, chain_ids
from .layers.store import unpack_pool
from .localimages import short_id, with_repo_digest
from .platforms import Platform, choose, host_platform, matches
from .progress import Display
from .store import ImageNotFound, ImageStore
from .store.graph import diff_ids
from .store.leases import AsyncLease
from .transport import FetchedManifest, RegistryClient, RemoteRepository

# Parallel blob downloads per pull; podman uses 6, Docker 3.
CONCURRENCY = 6
# Unpacking fewer compressed bytes than this is quicker in a thread than a pool's start-up.
POOL_THRESHOLD = 32 << 20
CONFIG_TYPES = frozenset({mt.OCI_CONFIG, mt.DOCKER_CONFIG})
LAYER_TYPES = frozenset({mt.OCI_LAYER, mt.OCI_LAYER_GZIP, mt.OCI_LAYER_ZSTD,
                         mt.DOCKER_LAYER_GZIP}) | mt.FOREIGN_LAYERS


@dataclass(frozen=True)
class PullResult:
    reference: Reference
    digest: Digest  # the registry's name for what was pulled (an index's digest if it was one)
    image: Descriptor  # what the reference names in the store now
    downloaded: bool  # something new came down, or the tag moved


@dataclass(frozen=True)
class _Layer:
    """One layer to fetch, and where it unpacks (None: only stored, not unpacked)."""

    descriptor: Descriptor
    diff_id: Digest | None = None
    parent: Digest | None = None  # chain ID of the layer below

    @property
    def chain_id(self) -> Digest | None:
        return chain_id(self.parent, self.diff_id) if self.diff_id else None


class Puller:
    """Pulls images from registries into one store; ``pull`` may be called many times."""

    def __init__(self, store: ImageStore, client: RegistryClient, display: Display, *,
                 platform: Platform | None = None, all_platforms: bool = False,
                 concurrency: int = CONCURRENCY) -> None:
        """``platform`` None means the host's (and no warning when an image is for another)."""
        self._store = store
        self._client = client
        self._display = display
        self._platform = platform
        self._all_platforms = all_platforms
        self._slots = asyncio.Semaphore(concurrency)
        self._sources = BlobSources(store.root)

    async def pull(self, reference: Reference) -> PullResult:
        repo = self._client.pull_repository(reference.registry, reference.repository)
        self._display.message(f"{reference.tag or reference.digest}: "
                              f"Pulling from {reference.repository}")
        top = await repo.get_manifest(reference.reference)
        images = await self._images(repo, top)
        before = await self._current(reference)
        async with self._store.lease() as lease:
            await lease.add(top.digest, *(image.digest for image, _ in images))
            run = _Run(self._store, repo, lease, self._display, self._slots)
            layers = [layer for image, unpack in images
                      for layer in await run.plan(image.manifest, unpack, self._platform)]
            downloaded = await run.fetch(layers)
            for image, _ in images:
                await self._store.put_blob(image.data, image.digest)
            if top.manifest.is_index and self._all_platforms:
                await self._store.put_blob(top.data, top.digest)
                entry = top.descriptor
            else:
                entry = images[0][0].descriptor
            await self._store.tag(reference, with_repo_digest(entry, top.digest))
        blobs = [d.digest for image, _ in images if image.manifest.config
                 for d in (image.manifest.config, *image.manifest.layers)]
        await asyncio.to_thread(self._sources.record, repo.registry, repo.name, blobs)
        moved = before is None or before.digest != entry.digest
        return PullResult(reference, top.digest, entry, downloaded or moved)

    async def _images(self, repo: RemoteRepository, top: FetchedManifest
                      ) -> list[tuple[FetchedManifest, bool]]:
        """The image manifests to fetch, each with whether to unpack it."""
        if not top.manifest.is_index:
            return [(top, True)]
        wanted = self._platform or host_platform()
        if not self._all_platforms:
            chosen = choose(top.manifest.children, wanted)
            return [(await repo.get_manifest(str(chosen.digest)), True)]
        children = await asyncio.gather(*(repo.get_manifest(str(child.digest))
                                          for child in top.manifest.children))
        runnable = [c for c in top.manifest.children if matches(wanted, Platform.of(c.platform))]
        host = choose(runnable, wanted).digest if runnable else None
        return [(child, child.digest == host) for child in children]

    async def _current(self, reference: Reference) -> Descriptor | None:
        try:
            return await self._store.resolve(reference)
        except ImageNotFound:
            return None


class _Run:
    """The state of one pull: its repository, its lease, the layers' progress."""

    def __init__(self, store: ImageStore, repo: RemoteRepository, lease: AsyncLease,
                 display: Display, slots: asyncio.Semaphore) -> None:
        self._store = store
        self._repo = repo
        self._lease = lease
        self._display = display
        self._slots = slots
        self._downloaded = False
        self._workers = asyncio.Semaphore()  # set for each fetch

    async def plan(self, manifest: Manifest, unpack: bool,
                   platform: Platform | None) -> list[_Layer]:
        """Fetch the config of ``manifest`` and say what each of its layers needs."""
        if manifest.is_index:  # an index inside an index: its children are not pulled
            return []
        assert manifest.config is not None
        await self._lease.add(manifest.config.digest, *(d.digest for d in manifest.layers))
        await self._download(manifest.config, None)
        if not unpack:
            return [_Layer(layer) for layer in manifest.layers]
        if manifest.config.media_type not in CONFIG_TYPES:
            raise DockyardError(f"not a container image: its config is "
                                f"{manifest.config.media_type!r}")
        config = json.loads(await self._store.read_blob(manifest.config.digest))
        _check_platform(config, platform)
        ids = diff_ids(config)
        if len(ids) != len(manifest.layers):
            raise DockyardError(f"image config lists {len(ids)} diff IDs for "
                                f"{len(manifest.layers)} layers")
        chain = chain_ids(ids)
        await self._lease.add(*chain)
        return [_Layer(layer, diff_id, parent)
                for layer, diff_id, parent in zip(manifest.layers, ids, [None, *chain[:-1]])]

    async def fetch(self, layers: list[_Layer]) -> bool:
        """Download and unpack ``layers``; True when any bytes came down."""
        for layer in layers:
            self._display.status(short_id(layer.descriptor.digest), "Pulling fs layer")
        pending = [layer for layer in layers if layer.diff_id is not None
                   and not self._store.layers.has(layer.chain_id)]
        async with _layer_store(self._store, pending) as (unpacker, workers):
            # One unpacking per worker at most: a job handed to the executor starts at
            # once, so an unpacker reading a download as it arrives is never queued.
            self._workers = asyncio.Semaphore(workers)
            await asyncio.gather(*(self._layer(layer, unpacker) for layer in layers))
        return self._downloaded

    async def _layer(self, layer: _Layer, unpacker: LayerStore) -> None:
        item = short_id(layer.descriptor.digest)
        if layer.chain_id is None or self._store.layers.has(layer.chain_id):
            if await self._store.has_blob(layer.descriptor.digest):
                self._display.status(item, "Already exists")
            else:
                await self._download(layer.descriptor, item)
            return
        if layer.descriptor.media_type not in LAYER_TYPES:
            raise DockyardError(f"layer {layer.descriptor.digest}: unsupported media type "
                                f"{layer.descriptor.media_type!r}")
        stored = await self._store.has_blob(layer.descriptor.digest)
        if stored or self._workers.locked():  # no await from here to taking a worker
            await self._download(layer.descriptor, item)
            async with self._workers:
                self._display.status(item, "Extracting")
                await unpacker.unpack(self._store.blobs.path(layer.descriptor.digest),
                                      layer.diff_id, layer.parent)
        else:
            async with self._workers:
                await self._stream(layer, item, unpacker)
        self._display.status(item, "Pull complete")

    async def _stream(self, layer: _Layer, item: str, unpacker: LayerStore) -> None:
        """Download ``layer`` and unpack it as it arrives (see ``client.layerfeed``)."""
        assert layer.diff_id is not None
        feed = LayerFeed()
        unpacking = asyncio.ensure_future(unpacker.unpack(feed.path, layer.diff_id,
                                                          layer.parent))
        fed = False
        try:
            if await feed.connect(unpacking):
                fed = await self._download(layer.descriptor, item, feed)
            else:  # the layer was unpacked meanwhile: nothing read the feed
                await self._download(layer.descriptor, item)
        finally:
            feed.close()
            if not fed:  # the unpacker saw less than the whole blob, or nothing
                await asyncio.gather(unpacking, return_exceptions=True)
        self._display.status(item, "Extracting")
        if fed:
            await unpacking
        elif not self._store.layers.has(layer.chain_id):
            await unpacker.unpack(self._store.blobs.path(layer.descriptor.digest),
                                  layer.diff_id, layer.parent)

    async def _download(self, blob: Descriptor, item: str | None,
                        feed: LayerFeed | None = None) -> bool:
        """Bring ``blob`` into the store unless it is there; ``item`` names it on the display.

        True when every byte of the blob also went to ``feed``.
        """
        if await self._store.has_blob(blob.digest):
            return False
        if item and self._slots.locked():
            self._display.status(item, "Waiting")
        async with self._slots, self._store.ingest(blob.digest, blob.size) as writer:
            if writer.complete:  # another pull brought it in meanwhile
                return False
            if item:
                self._display.status(item, "Downloading", total=blob.size,
                                     completed=writer.offset)
            self._downloaded = True
            if writer.offset:  # resumed: the feed would miss the start
                feed = None
            async with aclosing(self._repo.iter_blob(blob.digest, writer.offset)) as chunks:
                async for chunk in chunks:
                    await writer.write(chunk)
                    if feed is not None:
                        await feed.write(chunk)
                    if item:
                        self._display.advance(item, len(chunk))
            if item:
                self._display.status(item, "Verifying Checksum")
        if item:
            self._display.status(item, "Download complete")
        return feed is not None


@asynccontextmanager
async def _layer_store(store: ImageStore, pending: list[_Layer]
                       ) -> AsyncIterator[tuple[LayerStore, int]]:
    """Where ``pending`` layers unpack, and how many at once: worker processes when there
    is much to unpack, else threads."""
    workers = max(1, min(os.cpu_count() or 1, len(pending)))
    if sum(layer.descriptor.size for layer in pending) < POOL_THRESHOLD:
        yield store.layers, workers
        return
    pool: ProcessPoolExecutor = unpack_pool(workers)
    try:
        yield LayerStore(store.layers.root, pool), workers
    finally:
        await asyncio.to_thread(pool.shutdown)


def _check_platform(config: dict[str, object], wanted: Platform | None) -> None:
    """Warn, as Docker does, when an image asked for by platform is for another one."""
    offered = Platform.of(config)
    if wanted is not None and offered is not None and not matches(wanted, offered):
        print(f"WARNING: The requested image's platform ({offered}) does not match the "
              f"requested platform ({wanted})", file=sys.stderr)
