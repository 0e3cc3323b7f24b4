"""Copying images from one registry to another, moving only what the destination lacks.

Per tag: a ``HEAD`` at both ends first, and nothing more when the
destination's tag already names the source's digest (Docker Hub does not
count ``HEAD`` against its pull limit, so an unchanged mirror costs two cheap
requests per tag).  Otherwise the manifest comes down by digest and what it
references goes up before it: every platform of an index (each child
manifest skipped when the destination has it by digest), and each blob
skipped when the destination has it (``HEAD``), mounted when it is known to be
in another repository of the destination registry, else streamed from the
source's ``GET`` straight into the destination's upload, never held whole.
The destination verifies each blob's digest as it commits it.  Work is shared
across tags and repositories of one run: a blob or manifest is copied once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from functools import partial

from ocispec.digest import Digest
from ocispec.manifest import Descriptor, Manifest

from ..errors import DockyardError
from ..localimages import short_id
from ..progress import Display
from ..transport import RegistryClient, RemoteRepository
from .plan import SyncJob
from .report import SyncReport

# Blobs larger than this go up in chunks, each a ranged GET from the source.
UPLOAD_CHUNK = 64 << 20
_Key = tuple[str, str, Digest]  # destination registry, repository, digest


class Copier:
    """Runs sync jobs with one client; at most ``concurrency`` blobs and tags move at once."""

    def __init__(self, client: RegistryClient, display: Display, report: SyncReport,
                 concurrency: int) -> None:
        self._client = client
        self._display = display
        self._report = report
        self._blob_slots = asyncio.Semaphore(concurrency)
        self._tag_slots = asyncio.Semaphore(concurrency)
        self._work: dict[_Key, asyncio.Future[None]] = {}
        # (destination registry, digest) -> repositories there known to hold the blob
        self._holders: defaultdict[tuple[str, Digest], list[str]] = defaultdict(list)

    async def run(self, job: SyncJob) -> None:
        """Copy what ``job`` names; failures are reported (per tag), not raised."""
        src = self._client.repository(job.source.registry, job.source.repository)
        dst = self._client.repository(job.destination.registry, job.destination.repository)
        if job.patterns is None:
            pairs = [(job.source.reference, job.destination.tag or job.source.reference)]
        else:
            try:
                tags = job.select(await src.list_tags())
            except DockyardError as err:
                self._report.fail(job.describe(), err)
                return
            if not tags:
                self._display.message(f"{job.describe()}: no tag matches "
                                      f"{' '.join(job.patterns) or '*'}")
            pairs = [(tag, tag) for tag in tags]
        await asyncio.gather(*(self._tag(src, dst, ref, dst_ref) for ref, dst_ref in pairs))

    async def _tag(self, src: RemoteRepository, dst: RemoteRepository, ref: str,
                   dst_ref: str) -> None:
        label = f"{_named(src, ref)} -> {_named(dst, dst_ref)}"
        async with self._tag_slots:
            try:
                wanted = await src.head_manifest(ref)
                if wanted is None:
                    raise DockyardError("manifest unknown at the source")
                present = await dst.head_manifest(dst_ref)
                if present is not None and present.digest == wanted.digest:
                    self._report.tags_current += 1
                    self._display.message(f"{label}: up to date ({wanted.digest})")
                    return
                top = await src.get_manifest(str(wanted.digest))
                await self._references(src, dst, top.manifest)
                await dst.put_manifest(dst_ref, top.data, top.media_type)
            except DockyardError as err:
                self._report.fail(label, err)
                return
        self._report.tags_copied += 1
        self._report.manifests_copied += 1
        self._display.message(f"{label}: copied {top.digest}")

    async def _references(self, src: RemoteRepository, dst: RemoteRepository,
                          manifest: Manifest) -> None:
        """Make ``dst`` hold what ``manifest`` references: platforms' manifests or blobs."""
        if manifest.is_index:
            copies = [self._once(dst, child.digest, partial(self._copy_manifest, src, dst, child))
                      for child in manifest.children]
        else:
            copies = [self._once(dst, blob.digest, partial(self._copy_blob, src, dst, blob))
                      for blob in (manifest.config, *manifest.layers)
                      if blob is not None and not blob.is_foreign]
        # Every copy runs to its end before the first failure is raised: none is left
        # running unwatched, to fail later with nobody to report it.
        for outcome in await asyncio.gather(*copies, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _once(self, dst: RemoteRepository, digest: Digest,
                    copy: Callable[[], Awaitable[None]]) -> None:
        """Run ``copy`` for ``digest`` into ``dst`` once per run; later callers wait for it."""
        key = (dst.registry, dst.name, digest)
        if key not in self._work:
            self._work[key] = asyncio.ensure_future(copy())
        await self._work[key]

    async def _copy_manifest(self, src: RemoteRepository, dst: RemoteRepository,
                             descriptor: Descriptor) -> None:
        if await dst.head_manifest(str(descriptor.digest)) is not None:
            self._report.manifests_skipped += 1
            return
        fetched = await src.get_manifest(str(descriptor.digest))
        await self._references(src, dst, fetched.manifest)
        await dst.put_manifest(str(descriptor.digest), fetched.data, fetched.media_type)
        self._report.manifests_copied += 1

    async def _copy_blob(self, src: RemoteRepository, dst: RemoteRepository,
                         blob: Descriptor) -> None:
        item = short_id(blob.digest)
        async with self._blob_slots:
            if await dst.blob_size(blob.digest) is not None:
                self._report.blobs_skipped += 1
                self._display.status(item, "Already exists")
                self._holders[dst.registry, blob.digest].append(dst.name)
                return
            mount_from = self._mount_sources(src, dst, blob.digest)
            self._display.status(item, "Pushing", total=blob.size)
            how = await dst.upload_blob(
                blob.digest, blob.size, partial(src.read_range, blob.digest),
                mount_from=mount_from, chunk_size=UPLOAD_CHUNK,
                on_sent=lambda n: self._display.advance(item, n))
        self._holders[dst.registry, blob.digest].append(dst.name)
        if how == "mounted":
            self._report.blobs_mounted += 1
            self._display.status(item, f"Mounted from {mount_from[0]}")
        else:
            self._report.blobs_copied += 1
            self._report.bytes_copied += blob.size
            self._display.status(item, "Pushed")

    def _mount_sources(self, src: RemoteRepository, dst: RemoteRepository,
                       digest: Digest) -> list[str]:
        """Repositories of the destination registry that hold ``digest``: the source itself
        when both are in one registry, then those this run put it in."""
        same_registry = [src.name] if src.registry == dst.registry else []
        known = self._holders.get((dst.registry, digest), [])
        return [name for name in (*same_registry, *known) if name != dst.name]


def _named(repo: RemoteRepository, reference: str) -> str:
    """``registry/name:tag`` or ``registry/name@digest``."""
    separator = "@" if ":" in reference else ":"
    return f"{repo.registry}/{repo.name}{separator}{reference}"
