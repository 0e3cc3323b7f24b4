"""The builder's scratch directories: one per build, locked while it runs, swept after a crash.

A build keeps everything temporary under ``build-cache/tmp/build-*``: step
overlays and their upper directories, merged views, pinned network
namespaces. It holds a lock on its directory while it runs and removes it
at the end, however the build ends, short of being killed outright. A
SIGKILL (or a power cut) leaves the directory, its mounts, the step's
container and its network records; so every build first sweeps the
directories nobody holds the lock of: it deletes the containers and
releases the networks their steps recorded (``record_step``), unmounts what
is mounted below them, deepest first, and removes them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..containers.rootfs import unmount
from ..fsutil import is_abandoned, remove_tree, try_lock

_PREFIX = "build-"
_FRESH = ".new-"   # made, not yet locked and named
_FRESH_GRACE = 60  # seconds
_STEP = "step.json"
RUNTIME_ROOT = "/run/dockyard-runtime"


class Scratch:
    """A build's locked scratch directory (``async with Scratch(tmp, root) as path``);
    the blocking work (the sweep, the removal) runs in a thread."""

    def __init__(self, parent: Path, root: Path) -> None:
        """``parent`` holds the scratch directories, ``root`` is dockyard's root."""
        self.parent = parent
        self.root = root
        self.path: Path | None = None
        self.fd = -1

    async def __aenter__(self) -> Path:
        return await asyncio.to_thread(self._enter)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._exit)

    def _enter(self) -> Path:
        self.parent.mkdir(parents=True, exist_ok=True)
        sweep(self.parent, self.root)
        fresh = Path(tempfile.mkdtemp(prefix=_FRESH, dir=self.parent))
        self.fd = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try_lock(self.fd)  # a fresh name: nobody else can hold it
        self.path = self.parent / (_PREFIX + fresh.name.removeprefix(_FRESH))
        os.rename(fresh, self.path)  # only now can a sweep see it, locked
        return self.path

    def _exit(self) -> None:
        assert self.path is not None
        remove_tree(self.path)
        os.close(self.fd)


def record_step(scratch: Path, container_id: str, network_id: str | None) -> None:
    """Note a step's container and network in its scratch directory, for ``sweep``."""
    (scratch / _STEP).write_text(json.dumps({"container": container_id,
                                             "network": network_id}))


def sweep(parent: Path, root: Path) -> None:
    """Clean up after builds that were killed (see the module docstring)."""
    for entry in sorted(parent.iterdir()):
        if _abandoned(entry):
            for step in entry.glob(f"*/{_STEP}"):
                _release(json.loads(step.read_text()), root)
            _unmount_below(entry)
            remove_tree(entry)


def _abandoned(entry: Path) -> bool:
    """A build's directory that no build holds; one just made gets a minute to be locked."""
    try:
        if entry.name.startswith(_FRESH):
            return time.time() - entry.stat().st_mtime > _FRESH_GRACE and is_abandoned(entry)
    except FileNotFoundError:
        return False  # locked and renamed meanwhile
    return entry.name.startswith(_PREFIX) and is_abandoned(entry)


def _release(step: dict, root: Path) -> None:
    subprocess.run([sys.executable, "-m", "runtime", "--root", RUNTIME_ROOT, "delete",
                    "--force", step["container"]], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if step.get("network"):
        from runtime.network import Networks
        Networks(root).forget(step["network"])


def _unmount_below(path: Path) -> None:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        unmount(point.replace("\\040", " "))
