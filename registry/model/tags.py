"""Tags: names pointing at manifest digests, kept in distribution's layout.

A tag is ``_manifests/tags/<tag>/current/link`` (what it points at now) plus
``index/<alg>/<hex>/link`` for everything it ever pointed at.  The current
link is read from storage on every resolve: several worker processes share
the storage, so a tag moved by one must be seen at once by the others.
"""

from __future__ import annotations

import asyncio
import contextlib

from ocispec.digest import Digest, InvalidDigest

from .. import errors
from ..storage.driver import PathNotFound, StorageDriver
from . import paths


class Tags:
    def __init__(self, driver: StorageDriver, name: str) -> None:
        self.driver = driver
        self.name = name

    async def resolve(self, tag: str) -> Digest:
        """The digest ``tag`` points at; MANIFEST_UNKNOWN when there is no such tag."""
        try:
            link = await self.driver.get_content(paths.tag_current_link(self.name, tag))
            return Digest.parse(link.decode().strip())
        except (PathNotFound, InvalidDigest, UnicodeDecodeError):
            raise errors.ManifestUnknown(detail={"tag": tag}) from None

    async def tag(self, tag: str, digest: Digest) -> None:
        """Point ``tag`` at ``digest``; the history entry is written first, as distribution does."""
        content = str(digest).encode()
        await self.driver.put_content(paths.tag_index_link(self.name, tag, digest), content)
        await self.driver.put_content(paths.tag_current_link(self.name, tag), content)

    async def untag(self, tag: str) -> None:
        """Remove the tag only (the manifest stays); MANIFEST_UNKNOWN when it does not exist."""
        try:
            await self.driver.delete(paths.tag_dir(self.name, tag))
        except PathNotFound:
            raise errors.ManifestUnknown(detail={"tag": tag}) from None

    async def all(self) -> list[str]:
        """Every tag, sorted; NAME_UNKNOWN when there is no such repository.

        A repository without tags (never tagged, or all untagged: drivers may
        drop empty directories, as object stores do) has an empty list.
        """
        try:
            children = await self.driver.list(paths.tags_dir(self.name))
        except PathNotFound:
            try:
                await self.driver.stat(paths.repository(self.name))
            except PathNotFound:
                raise errors.NameUnknown(detail={"name": self.name}) from None
            return []
        return sorted(child.rsplit("/", 1)[1] for child in children)

    async def untag_digest(self, digest: Digest) -> None:
        """Remove every tag pointing at ``digest``: its manifest is being deleted."""
        try:
            tags = await self.all()
        except errors.NameUnknown:
            return
        targets = await asyncio.gather(*(self._target(tag) for tag in tags))

        async def forget(tag: str) -> None:
            with contextlib.suppress(errors.ManifestUnknown):  # a concurrent delete won
                await self.untag(tag)

        await asyncio.gather(*(forget(tag) for tag, target in zip(tags, targets)
                               if target == digest))

    async def _target(self, tag: str) -> Digest | None:
        try:
            return await self.resolve(tag)
        except errors.ManifestUnknown:
            return None  # removed meanwhile, or half written
