"""Unpacked layers, one directory per chain ID, ready to be stacked by overlayfs.

Layout under ``<root>/layers``::

    <chain-id hex>/diff/        the layer's files (an overlay lower directory)
    <chain-id hex>/layer.json   chainID, diffID, parent chainID, size, overlay xattr namespace
    .tmp-<hex>-<random>/        a layer being unpacked (locked by its unpacker)

A layer is keyed by its chain ID (image spec: the diff IDs of the layer and all
below it), so two images share a directory exactly when they share the stack
below it.  It is unpacked into a temporary directory and renamed into place only
once complete and verified, so a crash or a hostile archive leaves no partial
layer; a temporary directory nobody holds a lock on is debris for ``prune``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ocispec.digest import Digest, chain_id

from client.fsutil import TEMP_PREFIX, fsync_dir, is_abandoned, remove_tree, try_lock, write_atomic

from .topdir import mark_top_directory
from .unpack import LayerError, overlay_namespace, unpack_file

_METADATA = "layer.json"
_DIFF = "diff"


@dataclass(frozen=True, slots=True)
class LayerInfo:
    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    size: int  # bytes of file content
    overlay_xattrs: str  # "trusted" (unpacked as root) or "user" (mount with userxattr)
    path: Path  # the directory to use as an overlay lower layer

    def to_json(self) -> dict[str, object]:
        return {"chainID": str(self.chain_id), "diffID": str(self.diff_id),
                "parent": str(self.parent) if self.parent else None, "size": self.size,
                "overlayXattrs": self.overlay_xattrs}


class LayerStore:
    """The ``layers/`` directory: look up, unpack, remove."""

    def __init__(self, root: Path, executor: Executor | None = None) -> None:
        """``executor`` runs unpacking (default: the event loop's thread pool)."""
        self.root = Path(root)
        self._executor = executor
        self._inflight: dict[Digest, asyncio.Future[LayerInfo]] = {}

    def path(self, chain_id: Digest) -> Path:
        """The unpacked files of a layer (whether or not it exists)."""
        return self.root / chain_id.hex / _DIFF

    def has(self, chain_id: Digest) -> bool:
        return (self.root / chain_id.hex / _METADATA).is_file()

    def get(self, chain_id: Digest) -> LayerInfo:
        try:
            doc = json.loads((self.root / chain_id.hex / _METADATA).read_bytes())
        except FileNotFoundError:
            raise LayerError(f"layer {chain_id} is not unpacked") from None
        return LayerInfo(Digest.parse(doc["chainID"]), Digest.parse(doc["diffID"]),
                         Digest.parse(doc["parent"]) if doc["parent"] else None, doc["size"],
                         doc["overlayXattrs"], self.path(chain_id))

    def chain_ids(self) -> list[Digest]:
        """Every unpacked layer."""
        if not self.root.is_dir():
            return []
        return [Digest("sha256", entry.name) for entry in os.scandir(self.root)
                if not entry.name.startswith(".") and (Path(entry.path) / _METADATA).is_file()]

    def remove(self, chain_id: Digest) -> None:
        """Delete a layer; it disappears at once (renamed aside), then its files go."""
        aside = self.root / f"{TEMP_PREFIX}{chain_id.hex}-{uuid.uuid4().hex[:8]}-removed"
        try:
            os.rename(self.root / chain_id.hex, aside)
        except FileNotFoundError:
            return
        remove_tree(aside)

    def remove_abandoned(self) -> None:
        """Delete temporary directories left by killed unpackers and removers."""
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.name.startswith(TEMP_PREFIX) and is_abandoned(Path(entry.path)):
                remove_tree(Path(entry.path))

    async def unpack(self, blob: Path, diff_id: Digest, parent: Digest | None) -> LayerInfo:
        """Unpack the layer blob at ``blob`` unless its chain is already unpacked.

        ``parent`` is the chain ID of the layer below (None for the first).  The
        work runs in the executor; concurrent calls for one layer share it.
        """
        key = chain_id(parent, diff_id)
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(
                self._executor, unpack_layer, self.root, blob, diff_id, parent)
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(pending)


def unpack_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Worker processes for ``LayerStore(executor=...)``, started now.

    Unpacking is CPU-bound Python (tar parsing, hashing, decompression): in
    threads it competes for the GIL with the event loop and with other layers.
    Processes use every core: on a 2-core machine two gzip layers (a 53 MB
    root file system, 80 MB of random data) unpack in 0.28 s instead of 0.41 s
    in threads and 0.49 s one after the other.  The workers fork from a server
    that has already imported the unpacker, yet the pool needs about 0.15 s to
    start: create it when a pull starts, so that this hides behind the first
    downloads, and shut it down when done.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    count = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(count, mp_context=context)
    for _ in range(count):  # starts every worker (one per submit) without waiting for them
        pool.submit(int)
    return pool


def unpack_layer(root: Path, blob: Path, diff_id: Digest, parent: Digest | None) -> LayerInfo:
    """Unpack and verify one layer into ``root/<chain-id>`` unless it is there; blocking.

    A module-level function of plain arguments, so that it can run in a worker
    process as well as a thread.
    """
    def unpack(diff: Path, privileged: bool) -> int:
        try:
            unpacked = unpack_file(blob, diff, privileged)
        except LayerError as err:
            raise LayerError(f"layer {diff_id}: {err}") from None
        if unpacked.diff_id != diff_id:
            raise LayerError(f"layer {diff_id}: content does not match its diff ID "
                             f"(got {unpacked.diff_id})")
        return unpacked.size

    return _install(root, diff_id, parent, unpack)


def adopt_layer(root: Path, directory: Path, diff_id: Digest, parent: Digest | None,
                size: int) -> LayerInfo:
    """Move ``directory`` in as the unpacked layer ``diff_id`` (it must hold exactly what
    unpacking that layer gives, on the same file system); blocking.

    For builders, which made the files a layer blob was written from: moving
    them in costs a rename where unpacking the blob again would cost a
    decompression and a copy. ``size`` is the bytes of file content. If the
    layer is there already, ``directory`` is left as it was.
    """
    def move(diff: Path, privileged: bool) -> int:
        os.rename(directory, diff)  # onto the empty directory made for it
        return size

    return _install(root, diff_id, parent, move)


def _install(root: Path, diff_id: Digest, parent: Digest | None,
             fill: Callable[[Path, bool], int]) -> LayerInfo:
    """Make ``root/<chain-id>`` unless it is there: ``fill(diff, privileged)`` puts the
    files in a temporary directory's ``diff`` and returns their size, then it is renamed
    into place."""
    store = LayerStore(root)
    key = chain_id(parent, diff_id)
    if store.has(key):
        return store.get(key)
    final = root / key.hex
    root.mkdir(parents=True, exist_ok=True)
    mark_top_directory(root)  # each layer's files in uncrowded block groups (see topdir)
    temp = root / f"{TEMP_PREFIX}{key.hex}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    lock = os.open(temp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try_lock(lock)  # a fresh name: nobody else can hold it
        (temp / _DIFF).mkdir()
        privileged = os.geteuid() == 0
        size = fill(temp / _DIFF, privileged)
        info = LayerInfo(key, diff_id, parent, size, overlay_namespace(privileged),
                         store.path(key))
        write_atomic(temp / _METADATA, json.dumps(info.to_json()).encode())
        try:
            os.rename(temp, final)
        except OSError:
            if not store.has(key):  # not a concurrent unpacker that won the race
                raise
            remove_tree(temp)
            return store.get(key)
        fsync_dir(root)
        return info
    except BaseException:
        remove_tree(temp)
        raise
    finally:
        os.close(lock)
