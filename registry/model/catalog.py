"""The catalog: every repository in storage, found by walking the repositories tree."""

from __future__ import annotations

import asyncio

from ..storage.driver import PathNotFound, StorageDriver
from . import paths

# A directory is a repository when it holds one of these (names may nest:
# ``library`` and ``library/ubuntu`` can both be repositories).
_REPOSITORY_MARKERS = ("_manifests", "_layers")


class Catalog:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    async def repositories(self) -> list[str]:
        """All repository names, sorted.

        The one place the catalog is listed, so that an access-control layer
        can wrap it and drop the names a user may not see before paginating.
        """
        names: list[str] = []
        await self._walk(paths.REPOSITORIES, "", names)
        return sorted(names)

    async def _walk(self, directory: str, name: str, found: list[str]) -> None:
        try:
            children = await self.driver.list(directory)
        except PathNotFound:
            return  # nothing pushed yet, or a file rather than a directory
        basenames = [child.rsplit("/", 1)[1] for child in children]
        if name and any(marker in basenames for marker in _REPOSITORY_MARKERS):
            found.append(name)
        await asyncio.gather(*(
            self._walk(child, f"{name}/{base}" if name else base, found)
            for child, base in zip(children, basenames) if not base.startswith("_")))
