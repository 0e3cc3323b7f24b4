"""A stage's file system as one read-only directory: its layers overlaid by the kernel.

COPY needs the image it writes into (do the destination's parents exist,
with which owner and mode; who is ``--chown=app``), ``COPY --from`` and
``RUN --mount=from=`` read another stage's or image's files. Reading the
unpacked layer directories one by one gets deletions wrong (whiteouts and
opaque directories hide what lies below them), and merging them into a copy
costs a full copy of the image. An overlay mount of the layers is the exact
merged view the container would see, for the price of one mount(2).

The view has its own throwaway upper directory (the container code mounts
overlays with one); nothing is ever written to it. Paths are looked up with
``secure_join``, so an image's absolute symlinks (``/lib -> /usr/lib``)
resolve inside the view, never on the host.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from runtime.mounts import secure_join

from ..containers.rootfs import mount_overlay, unmount


@contextlib.contextmanager
def merged(layers: Sequence[tuple[str, str]], scratch: Path) -> Iterator[Path]:
    """The layers (bottom first, as ``mount_overlay`` takes them) mounted as one tree."""
    work = Path(tempfile.mkdtemp(prefix="view-", dir=scratch))
    target = work / "merged"
    for directory in ("upper", "work", "merged"):
        (work / directory).mkdir()
    try:
        mount_overlay(layers, str(work / "upper"), str(work / "work"), str(target))
        try:
            yield target
        finally:
            unmount(str(target))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def resolve(root: Path, path: str) -> Path:
    """``path`` inside ``root`` with its parent directories' symlinks resolved within it;
    the last component is left as it is (as lstat would see it)."""
    parent, name = posixpath.split(posixpath.normpath("/" + path))
    return Path(secure_join(str(root), parent)) / name if name else root


def lstat(root: Path, path: str) -> os.stat_result | None:
    """What ``path`` is in the view; None when it does not exist (or is the root)."""
    if not path.strip("/"):
        return None
    try:
        return os.lstat(resolve(root, path))
    except (FileNotFoundError, NotADirectoryError):
        return None
