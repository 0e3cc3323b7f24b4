"""Eviction: cached manifests and blobs unused for ``ttl`` are removed; pushed content never is.

When an item was last used is the modification time of its link in the
cached repository (revision link for a manifest, layer link for a blob):
fetching writes it and cache hits rewrite it now and then (``Usage``), so
nothing beyond distribution's layout is stored.  Eviction walks only the
repositories of the mirror, removes what is older than ``ttl`` (a
manifest's tags go with it), and deletes a blob's data only when no
repository at all, cached or pushed, links it any longer.  A blob linked
by a concurrent pull in the moment between that check and the deletion
would be lost to that repository; the next pull of it fetches it again.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from ocispec.digest import Digest, InvalidDigest

from .. import errors
from ..model import Repository, paths
from ..storage.driver import PathNotFound, StorageDriver

if TYPE_CHECKING:
    from .registry import Mirror, ProxyRegistry

MAX_TOUCH_INTERVAL = 3600.0
_MEMORY = 100_000
"""Links whose last rewrite this process remembers; beyond that it starts afresh."""


class Usage:
    """When this process last rewrote each link, so that hits rewrite one rarely."""

    def __init__(self, ttl: float) -> None:
        self.interval = min(ttl / 8, MAX_TOUCH_INTERVAL)
        self.enabled = ttl > 0
        self._touched: dict[str, float] = {}

    def due(self, link: str) -> bool:
        if not self.enabled:
            return False
        now = time.monotonic()
        last = self._touched.get(link)
        if last is not None and now - last < self.interval:
            return False
        self.note(link)
        return True

    def note(self, link: str) -> None:
        """``link`` was just written (fetched content): no rewrite is due for a while."""
        if len(self._touched) >= _MEMORY:
            self._touched.clear()
        self._touched[link] = time.monotonic()


async def _linked(driver: StorageDriver, directory: str) -> dict[Digest, float]:
    """The digests linked under ``directory`` (``.../<alg>``) and when each link was written."""
    found: dict[Digest, float] = {}
    for algorithm_dir in await _children(driver, directory):
        algorithm = algorithm_dir.rsplit("/", 1)[1]
        for entry in await _children(driver, algorithm_dir):
            try:
                digest = Digest.parse(f"{algorithm}:{entry.rsplit('/', 1)[1]}")
                found[digest] = (await driver.stat(f"{entry}/link")).modified
            except (InvalidDigest, PathNotFound):
                continue
    return found


async def _children(driver: StorageDriver, directory: str) -> list[str]:
    try:
        return await driver.list(directory)
    except PathNotFound:
        return []


async def evict_unused(registry: "ProxyRegistry", mirror: "Mirror") -> int:
    """Evict ``mirror``'s manifests and blobs unused for its ttl; how many items went."""
    driver = registry.driver
    cutoff = time.time() - mirror.config.ttl
    names = await registry.catalog.repositories()
    evicted = 0
    unlinked: set[Digest] = set()
    for name in (n for n in names if registry.mirror_of(n) is mirror):
        repository = Repository(registry, name)
        revisions = await _linked(driver, f"{paths.manifests_dir(name)}/revisions")
        for digest, used in revisions.items():
            if used < cutoff:
                with contextlib.suppress(errors.ManifestUnknown):
                    await repository.manifests.delete(digest)
                    evicted += 1
        kept = {digest for digest, used in revisions.items() if used >= cutoff}
        for digest, used in (await _linked(driver, paths.layers_dir(name))).items():
            if used < cutoff and digest not in kept:
                with contextlib.suppress(errors.BlobUnknown):
                    await repository.blobs.unlink(digest)
                    evicted += 1
                    unlinked.add(digest)
    if unlinked:
        still_linked: set[Digest] = set()
        for name in names:
            still_linked.update(await _linked(driver, paths.layers_dir(name)))
        for digest in unlinked - still_linked:
            with contextlib.suppress(PathNotFound):
                await driver.delete(paths.blob_dir(digest))
    return evicted
