"""The referrers index: which manifests of a repository name a given subject.

Distribution has no such index; Dockyard keeps one under ``_referrers``
(a name distribution ignores).  Each entry's file holds the referrer's whole
descriptor as JSON rather than a bare digest, so listing the referrers of a
subject reads one small file per referrer instead of fetching and parsing
every referring manifest.  The subject itself need not exist: the spec lets
clients push referrers before (or without) their subject.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ocispec.digest import Digest, InvalidDigest
from ocispec.manifest import Descriptor

from ..storage.driver import PathNotFound, StorageDriver
from . import paths


class Referrers:
    def __init__(self, driver: StorageDriver, name: str) -> None:
        self.driver = driver
        self.name = name

    async def add(self, subject: Digest, referrer: Descriptor) -> None:
        path = paths.referrer_link(self.name, subject, referrer.digest)
        await self.driver.put_content(path, json.dumps(referrer.to_json()).encode())

    async def remove(self, subject: Digest, referrer: Digest) -> None:
        """Forget one referrer; an entry already gone is fine (deletes may be retried)."""
        try:
            await self.driver.delete(paths.referrer_link(self.name, subject, referrer))
        except PathNotFound:
            pass

    async def list(self, subject: Digest,
                   artifact_types: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """Descriptors of the referrers of ``subject`` sorted by digest, optionally of some types only."""
        referrers = await self._digests(subject)
        descriptors = await asyncio.gather(*(self._read(subject, r) for r in referrers))
        found = [d for d in descriptors
                 if d is not None and (artifact_types is None
                                       or d.get("artifactType") in artifact_types)]
        return sorted(found, key=lambda d: d["digest"])

    async def _digests(self, subject: Digest) -> list[Digest]:
        """The referrers indexed under ``subject`` (``<alg>/<hex>`` directories)."""
        algorithms = await self._children(paths.referrers_dir(self.name, subject))
        encoded = await asyncio.gather(*(self._children(alg) for alg in algorithms))
        found = []
        for directory in (d for group in encoded for d in group):
            algorithm, hex_ = directory.rsplit("/", 2)[1:]
            try:
                found.append(Digest.parse(f"{algorithm}:{hex_}"))
            except InvalidDigest:
                continue  # a storage driver's temporary name
        return found

    async def _children(self, directory: str) -> list[str]:
        try:
            return await self.driver.list(directory)
        except PathNotFound:
            return []

    async def _read(self, subject: Digest, referrer: Digest) -> dict[str, Any] | None:
        try:
            return json.loads(await self.driver.get_content(
                paths.referrer_link(self.name, subject, referrer)))
        except PathNotFound:
            return None  # removed while we listed
