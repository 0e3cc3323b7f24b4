"""Small file-system primitives the store is built on.

Everything that another process (or a later run after a SIGKILL) may read is
published with a rename, so a reader sees the old file or the new one, never a
half-written one.  Cooperating dockyard processes serialise read-modify-write
cycles with ``flock`` locks, and mark work in progress (partial downloads,
layers being unpacked) by holding a lock on it: a lock the kernel drops when
its owner dies is how a later prune tells abandoned work from live work.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, data: bytes, mode: int = 0o666) -> None:
    """Replace ``target`` with ``data`` so that readers never see a partial file.

    ``mode`` (less the umask) applies from the file's creation, so a secret
    written with ``0o600`` is never readable by others, not even as a temp file.
    """
    temp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
    try:
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode),
                  "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created if needed) for the block."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when someone holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_abandoned(path: Path) -> bool:
    """True when nobody holds the lock that marks ``path`` as work in progress.

    Files and directories alike can be ``flock``ed; the probe's lock is dropped
    again when its descriptor closes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        return try_lock(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a file or a directory tree; missing is fine (a concurrent remover won).

    Unpacked layers hold read-only directories, which stop a non-root owner from
    deleting their entries: those are made writable first.
    """
    try:
        if not path.is_dir() or path.is_symlink():
            path.unlink()
            return
        if os.geteuid() != 0:
            _make_dirs_writable(path)
        shutil.rmtree(path)
    except FileNotFoundError:
        pass


def _make_dirs_writable(top: Path) -> None:
    os.chmod(top, 0o700)
    for directory, dirs, _ in os.walk(top):
        for name in dirs:
            child = os.path.join(directory, name)
            if stat.S_ISDIR(os.lstat(child).st_mode):  # never chmod through a symlink
                os.chmod(child, 0o700)

