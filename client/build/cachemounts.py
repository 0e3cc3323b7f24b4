"""``RUN --mount=type=cache``: a directory kept across builds, shared as ``sharing=`` says.

Stages build concurrently, and so may builds, so two steps can want one
cache at once. As in BuildKit:

* ``shared`` (the default): both use it at the same time;
* ``locked``: the second waits until the first is done (apt's caches want this);
* ``private``: the second gets a directory of its own (``ID#1``, ``ID#2``, ...),
  kept for later steps like the first.

A step holds its directory with an ``flock`` while it runs; locks belong to
open files, so they also keep apart the stages of one build.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import DockyardError
from ..fsutil import try_lock
from .cache import BuildCache

SHARING = ("shared", "locked", "private")
_POLL = 0.05


@contextlib.asynccontextmanager
async def cache_directory(cache: BuildCache, mount_id: str,
                          sharing: str) -> AsyncIterator[Path]:
    """The directory the step mounts, held as ``sharing`` says while the block runs."""
    if sharing not in SHARING:
        raise DockyardError(f"--mount=type=cache: invalid sharing {sharing!r}: "
                            "expected shared, locked or private")
    if sharing == "shared":
        yield cache.mount_dir(mount_id)
        return
    number = 0
    while True:
        path = cache.mount_dir(mount_id if number == 0 else f"{mount_id}#{number}")
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if try_lock(fd):
            break
        os.close(fd)
        if sharing == "private":
            number += 1
        else:
            await asyncio.sleep(_POLL)
    try:
        yield path
    finally:
        os.close(fd)
