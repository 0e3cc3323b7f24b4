"""Manifests of one repository: push, fetch and delete, by tag or by digest.

A manifest's bytes are kept exactly as pushed, as a blob in the shared blob
store, linked into the repository by a revision link (distribution's layout;
it is linked under ``_layers`` too, as distribution has done since 2.1, so it
can be fetched through the blobs endpoint).  Its media type is not stored
beside it: it is read back from the JSON, as distribution does, which keeps
storage compatible both ways.

Fetching is the hot path of a registry.  Content by digest never changes, so
it is served from a process-wide LRU cache; what may change (a tag's target,
whether a revision is linked in this repository) costs one small read per
request, because several worker processes share the storage.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from ocispec.digest import Digest
from ocispec.manifest import Descriptor, InvalidManifest, Manifest, parse_manifest, \
    stored_media_type

from .. import errors
from ..storage.driver import PathNotFound
from . import paths
from .blobs import LinkedBlobs
from .referrers import Referrers
from .tags import Tags

# A tag or a digest, already validated against the spec's grammar.
Reference = str | Digest


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    data: bytes
    media_type: str


class ManifestCache:
    """A bounded LRU of manifest content by digest, shared by every repository.

    Safe across repositories and processes because content by digest is
    immutable; whether a repository may read it is checked on every request.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Digest, StoredManifest] = OrderedDict()
        self._size = 0

    def get(self, digest: Digest) -> StoredManifest | None:
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries.move_to_end(digest)
        return entry

    def put(self, entry: StoredManifest) -> None:
        if entry.digest in self._entries or len(entry.data) > self.max_bytes:
            return
        self._entries[entry.digest] = entry
        self._size += len(entry.data)
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.data)


class Manifests:
    def __init__(self, blobs: LinkedBlobs, tags: Tags, referrers: Referrers,
                 cache: ManifestCache, name: str) -> None:
        self.blobs = blobs
        self.store = blobs.store
        self.driver = blobs.driver
        self.tags = tags
        self.referrers = referrers
        self.cache = cache
        self.name = name

    async def get(self, reference: Reference) -> StoredManifest:
        """The manifest a tag points at, or a digest names; MANIFEST_UNKNOWN otherwise."""
        if isinstance(reference, Digest):
            digest = reference
            if not await self.exists(digest):
                raise errors.ManifestUnknown(detail={"digest": str(digest)})
        else:
            # A tag is written after its revision and removed before it, so a
            # tag that resolves needs no second read to prove the revision.
            digest = await self.tags.resolve(reference)
        return await self._content(digest)

    async def exists(self, digest: Digest) -> bool:
        """Whether ``digest`` is a manifest of this repository."""
        try:
            await self.driver.stat(paths.revision_link(self.name, digest))
            return True
        except PathNotFound:
            return False

    async def put(self, reference: Reference, data: bytes,
                  content_type: str | None) -> tuple[Digest, Manifest]:
        """Validate and store ``data`` as sent; tag it when ``reference`` is a tag.

        Returns the digest and the parsed manifest (the caller reports its subject).
        """
        try:
            manifest = parse_manifest(data, content_type)
        except InvalidManifest as err:
            raise errors.ManifestInvalid(detail=str(err)) from None
        algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
        digest = Digest.of(data, algorithm)
        if isinstance(reference, Digest) and digest != reference:
            raise errors.DigestInvalid(detail={"digest": str(reference), "actual": str(digest)},
                                       message="manifest digest does not match the reference")
        await self._require_references(manifest)
        await self.store.put(data, algorithm)
        await self.blobs.link(digest)
        # Revision before referrer entry and tag: whatever a crash leaves
        # visible points at a manifest that exists; a retried push completes it.
        await self.driver.put_content(paths.revision_link(self.name, digest), str(digest).encode())
        if manifest.subject is not None:
            await self.referrers.add(manifest.subject.digest, Descriptor(
                manifest.media_type, digest, len(data), manifest.effective_artifact_type,
                manifest.annotations or None))
        if not isinstance(reference, Digest):
            await self.tags.tag(reference, digest)
        self.cache.put(StoredManifest(digest, data, manifest.media_type))
        return digest, manifest

    async def delete(self, digest: Digest) -> None:
        """Delete the manifest: its tags, its referrers entry, then its revision link.

        The blob stays in the store (other repositories may link it; garbage
        collection reclaims it), as distribution does.
        """
        if not await self.exists(digest):
            raise errors.ManifestUnknown(detail={"digest": str(digest)})
        await self.tags.untag_digest(digest)
        subject = await self._subject_of(digest)
        if subject is not None:
            await self.referrers.remove(subject, digest)
        try:
            await self.driver.delete(paths.revision_link(self.name, digest).rsplit("/", 1)[0])
        except PathNotFound:
            raise errors.ManifestUnknown(detail={"digest": str(digest)}) from None

    async def _content(self, digest: Digest) -> StoredManifest:
        return self.cache.get(digest) or await self._load(digest)

    async def _load(self, digest: Digest) -> StoredManifest:
        try:
            data = await self.store.get(digest)
        except errors.BlobUnknown:
            raise errors.ManifestUnknown(detail={"digest": str(digest)}) from None
        entry = StoredManifest(digest, data, stored_media_type(data))
        self.cache.put(entry)
        return entry

    async def _require_references(self, manifest: Manifest) -> None:
        """MANIFEST_BLOB_UNKNOWN unless every blob and child manifest is in this repository.

        The subject is not checked: referrers may be pushed before their subject.
        """
        blobs = [d for d in (manifest.config, *manifest.layers) if d and not d.is_foreign]
        found = await asyncio.gather(*(self.blobs.exists(d.digest) for d in blobs),
                                     *(self.exists(child.digest) for child in manifest.children))
        missing = [str(d.digest) for d, ok in zip((*blobs, *manifest.children), found) if not ok]
        if missing:
            raise errors.ManifestBlobUnknown(detail={"digest": missing[0], "missing": missing})

    async def _subject_of(self, digest: Digest) -> Digest | None:
        stored = await self._content(digest)
        try:
            subject = parse_manifest(stored.data, stored.media_type).subject
        except InvalidManifest:
            return None  # content from laxer days (schema 1): it can have no subject
        return subject.digest if subject else None
