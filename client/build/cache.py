"""The build cache: a step's result found again by what it depends on.

A step's key is a hash of its parent's key (which chains back to the base
image's digest), the instruction after substitution, the build args it
used, and for COPY/ADD the content hash of its sources. A hit gives the
layer the step made before; it counts only while that blob is still in the
store, so pruning images can never make the cache lie. Entries are small
JSON files under ``build-cache/steps``, written atomically, removed by
``dockyard builder prune`` with the cache mounts and the remembered hashes
of context files (``filehashes``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ocispec.digest import Digest
from ocispec.manifest import Descriptor

from ..fsutil import write_atomic
from .filehashes import FileHashes

_FILE_HASHES = "file-hashes.json"


def step_key(parent: str, *parts: object) -> str:
    """The key of a step below ``parent``; ``parts`` are what the step depends on."""
    text = json.dumps([parent, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CachedLayer:
    layer: Descriptor | None   # None: the step changed no file
    diff_id: Digest | None
    created: str | None = None  # when the step ran (the history's time for it)


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.steps = root / "steps"

    def get(self, key: str) -> CachedLayer | None:
        try:
            entry = json.loads((self.steps / key[:2] / key).read_text())
        except (OSError, ValueError):
            return None
        if entry.get("layer") is None:
            return CachedLayer(None, None, entry.get("created"))
        return CachedLayer(Descriptor.from_json(entry["layer"], "cache entry"),
                           Digest.parse(entry["diffID"]), entry.get("created"))

    def put(self, key: str, result: CachedLayer) -> None:
        entry = {"layer": result.layer.to_json() if result.layer else None,
                 "diffID": str(result.diff_id) if result.diff_id else None,
                 "created": result.created}
        directory = self.steps / key[:2]
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / key, json.dumps(entry).encode())

    def file_hashes(self, context: Path) -> FileHashes:
        """The context file hashes remembered for builds of ``context``."""
        return FileHashes(self.root / _FILE_HASHES, context)

    def mount_dir(self, mount_id: str) -> Path:
        """The persistent directory behind ``RUN --mount=type=cache`` with this id."""
        path = self.root / "mounts" / hashlib.sha256(mount_id.encode()).hexdigest()[:32]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def prune(self) -> int:
        """Remove every entry and cache mount; returns the bytes freed."""
        freed = 0
        for directory in (self.steps, self.root / "mounts"):
            for dirpath, _, files in os.walk(directory):
                freed += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
            shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            freed += os.lstat(self.root / _FILE_HASHES).st_size
            os.unlink(self.root / _FILE_HASHES)
        return freed
