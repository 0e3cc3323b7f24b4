"""The local image store: an OCI image layout and unpacked layers under one root.

::

    <root>/store/    OCI image layout: oci-layout, index.json, blobs/sha256/...
                     plus ingest/ (partial downloads), leases/, index.lock
    <root>/layers/   unpacked layers, one per chain ID (client.layers)

Other tools read ``<root>/store`` as any OCI layout (``skopeo copy
oci:<root>/store:docker.io/library/busybox:latest ...``); the extra entries are
ignored by them.  Deleting follows reachability: ``rmi`` removes a tag, and
deletes only the blobs and layers that no remaining image (and no lease of an
operation in flight) reaches from index.json.

The async methods do their disk work in worker threads.  The blocking parts
(``blobs``, ``index``, ``layers``) are public for code that already runs in a
worker, such as ``save`` and ``load``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Collection
from concurrent.futures import Executor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocispec.digest import Digest
from ocispec.manifest import Descriptor, Manifest
from ocispec.reference import Reference

from client.fsutil import TEMP_PREFIX, remove_tree
from client.layers import LayerInfo, LayerStore, chain_ids

from .blobs import AsyncBlobWriter, BlobStore
from .errors import BlobNotFound, ImageConflict, ImageNotFound, StoreError
from .graph import Reachable, diff_ids, reachable, read_config, read_manifest
from .index import Index, keep_untagged, named, point, ref_name
from .leases import AsyncLease, Lease, leased

_HEX_PREFIX = re.compile(r"[0-9a-f]{1,64}")


@dataclass(frozen=True, slots=True)
class Image:
    """One entry of index.json, as ``images`` lists it."""

    ref_name: str | None  # the full reference; None for a dangling image
    descriptor: Descriptor  # of the manifest or index
    id: Digest  # Docker's image ID: the config digest (an index's own digest)
    created: str | None  # the config's RFC 3339 creation time
    size: int  # bytes of all its blobs in the store

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest


@dataclass(frozen=True, slots=True)
class Removal:
    """What ``remove`` or ``prune`` did, for Docker's "Untagged:"/"Deleted:" lines."""

    untagged: list[str]
    deleted: list[Digest]  # images (manifest digests) that left the store
    freed: int  # bytes of blobs and unpacked layers deleted


@dataclass(frozen=True, slots=True)
class DiskUsage:
    images: int
    dangling: int
    blob_bytes: int
    layer_bytes: int  # file content of the unpacked layers
    partial_bytes: int  # interrupted downloads waiting for a resume
    reclaimable_bytes: int  # what no tagged image needs


class ImageStore:
    def __init__(self, root: Path | str, layer_executor: Executor | None = None) -> None:
        """Blocking-free; call ``create`` (or use ``open``) before the first use."""
        self.root = Path(root)
        self.layout = self.root / "store"
        self.blobs = BlobStore(self.layout)
        self.index = Index(self.layout)
        self.layers = LayerStore(self.root / "layers", layer_executor)
        self._leases = self.layout / "leases"

    @classmethod
    async def open(cls, root: Path | str, layer_executor: Executor | None = None) -> "ImageStore":
        store = cls(root, layer_executor)
        await asyncio.to_thread(store.create)
        return store

    def create(self) -> None:
        """Lay out an empty store unless one is there."""
        self.layout.mkdir(parents=True, exist_ok=True)
        self.blobs.create()
        self.index.create()

    # -- blobs ---------------------------------------------------------------

    async def has_blob(self, digest: Digest) -> bool:
        return await asyncio.to_thread(self.blobs.has, digest)

    async def read_blob(self, digest: Digest) -> bytes:
        return await asyncio.to_thread(self.blobs.read, digest)

    async def put_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        return await asyncio.to_thread(self.blobs.put, data, expected)

    def ingest(self, expected: Digest | None = None, size: int | None = None) -> AsyncBlobWriter:
        """Stream a blob in, verified: ``async with store.ingest(digest, size) as w``.

        Inside, skip the work if ``w.complete``; resume from ``w.offset``.
        """
        return AsyncBlobWriter(self.blobs, expected, size)

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[AsyncLease]:
        """Protect what an operation writes until it is tagged (see ``leases``)."""
        lease = await asyncio.to_thread(Lease, self._leases, self.index)
        try:
            yield AsyncLease(lease)
        finally:
            await asyncio.to_thread(lease.release)

    # -- images --------------------------------------------------------------

    async def tag(self, reference: Reference, descriptor: Descriptor) -> None:
        """Point ``reference`` at a manifest or index already in the store."""
        await asyncio.to_thread(self._tag, str(reference), descriptor)

    async def untag(self, reference: Reference) -> Descriptor:
        """Remove a tag; an image left without one stays, dangling, until ``prune``."""
        return await asyncio.to_thread(self._untag, str(reference))

    async def resolve(self, reference: Reference) -> Descriptor:
        """The descriptor a tag (or a digest reference) points at."""
        return await asyncio.to_thread(self._resolve, reference)

    async def images(self) -> list[Image]:
        return await asyncio.to_thread(self._images)

    async def manifest(self, descriptor: Descriptor) -> Manifest:
        return await asyncio.to_thread(read_manifest, self.blobs, descriptor)

    async def config(self, descriptor: Descriptor) -> dict[str, Any]:
        """The image config of an image manifest."""
        return await asyncio.to_thread(self._config, descriptor)

    async def remove(self, target: Reference | str, force: bool = False) -> Removal:
        """``rmi``: untag a reference, or remove an image by ID or digest (prefix).

        An image goes when its last tag does, with the blobs and layers nothing
        else needs.  Removing by ID an image with several tags needs ``force``.
        """
        return await asyncio.to_thread(self._remove, target, force)

    async def prune(self, keep: Collection[Digest] = ()) -> Removal:
        """Remove dangling images, unreachable blobs and layers, and abandoned partial work.

        ``keep``: dangling images (manifest digests) that stay all the same, as
        the ones containers were made from must (their overlays stack its layers).
        """
        return await asyncio.to_thread(self._prune, frozenset(keep))

    async def disk_usage(self) -> DiskUsage:
        return await asyncio.to_thread(self._disk_usage)

    async def unpack(self, descriptor: Descriptor) -> list[LayerInfo]:
        """Unpack every layer of an image manifest (in parallel), bottom layer first."""
        manifest = await self.manifest(descriptor)
        ids = diff_ids(await self.config(descriptor))
        if len(ids) != len(manifest.layers):
            raise StoreError(f"image {descriptor.digest}: {len(manifest.layers)} layers "
                             f"but {len(ids)} diff IDs")
        for layer in manifest.layers:
            if not await self.has_blob(layer.digest):
                raise BlobNotFound(f"layer {layer.digest} is not in the local store")
        parents = [None, *chain_ids(ids)[:-1]]
        return list(await asyncio.gather(*(
            self.layers.unpack(self.blobs.path(layer.digest), diff_id, parent)
            for layer, diff_id, parent in zip(manifest.layers, ids, parents))))

    # -- blocking implementations --------------------------------------------

    def _tag(self, name: str, descriptor: Descriptor) -> None:
        if not self.blobs.has(descriptor.digest):
            raise BlobNotFound(f"manifest {descriptor.digest} is not in the local store")
        with self.index.update() as entries:
            point(entries, name, descriptor)

    def _untag(self, name: str) -> Descriptor:
        with self.index.update() as entries:
            removed = [e for e in entries if ref_name(e) == name]
            if not removed:
                raise ImageNotFound(f"no such image: {name}")
            entries[:] = [e for e in entries if ref_name(e) != name]
            keep_untagged(entries, removed)
        return named(removed[0], None)

    def _resolve(self, reference: Reference) -> Descriptor:
        return _find(self.index.read(), reference)

    def _config(self, descriptor: Descriptor) -> dict[str, Any]:
        return read_config(self.blobs, read_manifest(self.blobs, descriptor))

    def _identify(self, entry: Descriptor) -> tuple[Manifest | None, Digest]:
        """The entry's manifest (None if unreadable) and image ID.

        A damaged entry still gets an ID (its own digest), so that it can be removed.
        """
        try:
            manifest = read_manifest(self.blobs, entry)
        except StoreError:
            return None, entry.digest
        return manifest, manifest.config.digest if manifest.config else entry.digest

    def _images(self) -> list[Image]:
        images = []
        for entry in self.index.read():
            manifest, image_id = self._identify(entry)
            created = None
            if manifest is not None and manifest.config is not None:
                with suppress(StoreError):
                    created = read_config(self.blobs, manifest).get("created")
            size = self.blobs.total_size(reachable(self.blobs, [entry]).blobs)
            images.append(Image(ref_name(entry), entry, image_id, created, size))
        return images

    def _remove(self, target: Reference | str, force: bool) -> Removal:
        with self.index.lock():
            entries = self.index.read()
            if isinstance(target, Reference):
                name = str(target)
                gone = [e for e in entries if ref_name(e) == name]
                if not gone:
                    raise ImageNotFound(f"no such image: {target.familiar()}")
                untagged = [name]
            else:
                digest = self._match_id(entries, target)
                gone = [e for e in entries if e.digest == digest]
                untagged = [n for e in gone if (n := ref_name(e))]
                if len(untagged) > 1 and not force:
                    raise ImageConflict(f"unable to delete {target} (must be forced) - "
                                        "image is referenced in multiple repositories")
            remaining = [e for e in entries if e not in gone]
            still_there = {e.digest for e in remaining}
            deleted = list(dict.fromkeys(e.digest for e in gone if e.digest not in still_there))
            self.index.write(remaining)
            freed = self._sweep(reachable(self.blobs, [e for e in gone if e.digest in deleted]),
                                remaining)
        return Removal(untagged, deleted, freed)

    def _match_id(self, entries: list[Descriptor], text: str) -> Digest:
        prefix = text.removeprefix("sha256:")
        if not _HEX_PREFIX.fullmatch(prefix):
            raise ImageNotFound(f"no such image: {text}")
        matches = set()
        for entry in entries:
            if any(i.hex.startswith(prefix) for i in (entry.digest, self._identify(entry)[1])):
                matches.add(entry.digest)
        if not matches:
            raise ImageNotFound(f"no such image: {text}")
        if len(matches) > 1:
            raise ImageConflict(f"{text} matches {len(matches)} images: give more of the ID")
        return matches.pop()

    def _prune(self, keep: frozenset[Digest]) -> Removal:
        with self.index.lock():
            entries = self.index.read()
            remaining = [e for e in entries if ref_name(e) is not None or e.digest in keep]
            deleted = [e.digest for e in entries if e not in remaining]
            if deleted:
                self.index.write(remaining)
            everything = Reachable(set(self.blobs.digests()), set(self.layers.chain_ids()))
            freed = self._sweep(everything, remaining)
            for debris in self.layout.glob(f"{TEMP_PREFIX}*"):  # index writes cut short
                remove_tree(debris)
        for partial in self.blobs.abandoned_partials():
            freed += partial.stat().st_size
            partial.unlink(missing_ok=True)
        self.layers.remove_abandoned()
        return Removal([], deleted, freed)

    def _sweep(self, candidates: Reachable, keep_roots: list[Descriptor]) -> int:
        """Delete candidates nothing kept or leased needs; the caller holds the index lock."""
        keep = reachable(self.blobs, keep_roots)
        protected = leased(self._leases)
        freed = 0
        for digest in candidates.blobs - keep.blobs - protected:
            freed += self.blobs.delete(digest)
        for chain_id in candidates.layers - keep.layers - protected:
            if self.layers.has(chain_id):
                freed += self.layers.get(chain_id).size
                self.layers.remove(chain_id)
        return freed

    def _disk_usage(self) -> DiskUsage:
        entries = self.index.read()
        tagged = [e for e in entries if ref_name(e) is not None]
        used = reachable(self.blobs, tagged)
        blobs = set(self.blobs.digests())
        layers = [self.layers.get(c) for c in self.layers.chain_ids()]
        partial = sum(os.stat(p).st_size for p in self.blobs.ingest_dir.glob("*"))
        unused_layers = sum(layer.size for layer in layers if layer.chain_id not in used.layers)
        return DiskUsage(
            images=len({e.digest for e in entries}),
            dangling=len({e.digest for e in entries} - {e.digest for e in tagged}),
            blob_bytes=self.blobs.total_size(blobs),
            layer_bytes=sum(layer.size for layer in layers),
            partial_bytes=partial,
            reclaimable_bytes=self.blobs.total_size(blobs - used.blobs) + unused_layers + partial)


def _find(entries: list[Descriptor], reference: Reference) -> Descriptor:
    name = str(reference)
    for entry in entries:
        if ref_name(entry) == name or (reference.digest and entry.digest == reference.digest):
            return named(entry, None)
    raise ImageNotFound(f"no such image: {reference.familiar()}")

