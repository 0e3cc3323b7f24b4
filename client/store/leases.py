"""Leases: what an operation in flight is about to reference, kept from the sweeper.

A pull writes blobs and unpacks layers before it tags the image, and a build
makes blobs no tag names yet; a ``prune`` or ``rmi`` in another process would
see them as garbage.  An operation therefore takes a lease and adds every
digest (blob or chain ID) *before* it checks whether the store already has it.
Adding and sweeping both hold the index lock, so a sweep either sees the
digest leased or finished before the check.

A lease is a file under ``leases/`` listing digests, ``flock``ed by its owner
for its lifetime: a lease file nobody holds belonged to a process that died,
and the sweeper deletes it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from types import TracebackType

from ocispec.digest import Digest, InvalidDigest

from client.fsutil import try_lock

from .index import Index


class Lease:
    """Protects digests from garbage collection until released (blocking API)."""

    def __init__(self, directory: Path, index: Index) -> None:
        self._index = index
        directory.mkdir(exist_ok=True)
        self._path = directory / uuid.uuid4().hex
        # Created and locked under the index lock: a sweeper never sees it unlocked.
        with index.lock():
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                               0o644)
            try_lock(self._fd)

    def add(self, *digests: Digest) -> None:
        with self._index.lock():
            os.write(self._fd, "".join(f"{d}\n" for d in digests).encode())

    def release(self) -> None:
        if self._fd >= 0:
            self._path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class AsyncLease:
    """The async face of a ``Lease``, as ``ImageStore.lease()`` hands it out."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease

    async def add(self, *digests: Digest) -> None:
        """Protect ``digests``; call before checking whether the store has them."""
        await asyncio.to_thread(self._lease.add, *digests)


def leased(directory: Path) -> set[Digest]:
    """Every digest held by a live lease; the caller holds the index lock.

    Lease files of dead owners are deleted on the way.
    """
    held: set[Digest] = set()
    if not directory.is_dir():
        return held
    for entry in os.scandir(directory):
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # released meanwhile
        try:
            if try_lock(fd):
                Path(entry.path).unlink(missing_ok=True)
                continue
            with os.fdopen(os.dup(fd), "r") as lines:
                for line in lines:
                    try:
                        held.add(Digest.parse(line.strip()))
                    except InvalidDigest:
                        continue  # a line cut short by the owner's death
        finally:
            os.close(fd)
    return held
