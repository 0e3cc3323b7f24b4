"""``dockyard build --output``: where the built image goes besides the store.

* ``type=oci,dest=FILE``: the image as an OCI archive (``docker save``'s OCI form);
* ``type=local,dest=DIR``: the image's files, as BuildKit's local exporter
  writes them (build artifacts out of a ``FROM scratch`` stage, typically);
* ``type=tar,dest=FILE``: the same files as one tar, ``-`` for stdout.

The files are read through the image's merged view (``rootview``), so a
later step's deletions are honoured; devices and sockets are left out of a
local export, as they cannot be made without privileges there anyway.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ocispec.manifest import Descriptor
from ocispec.reference import Reference

from ..errors import DockyardError
from ..store import ImageStore
from . import rootview

TYPES = ("oci", "local", "tar")


@dataclass(frozen=True)
class Output:
    type: str
    dest: str

    @classmethod
    def parse(cls, spec: str) -> "Output":
        """``type=TYPE,dest=PATH`` (``dest`` alone means ``local``, as in buildx)."""
        fields = dict(item.partition("=")[::2] for item in spec.split(","))
        kind = fields.get("type") or "local"
        if kind not in TYPES or not fields.get("dest"):
            raise DockyardError(f"unsupported --output {spec!r}: expected type=oci|local|tar,"
                                "dest=PATH")
        return cls(kind, fields["dest"])


async def export(store: ImageStore, output: Output, tags: list[Reference],
                 descriptor: Descriptor) -> None:
    if output.type == "oci":
        from ..store.archive import save

        images = [(tag, descriptor) for tag in tags] or [(None, descriptor)]
        with open(output.dest, "wb") as out:
            await save(store, images, out, format="oci")
        return
    infos = await store.unpack(descriptor)
    layers = [(str(info.path), info.overlay_xattrs) for info in infos]
    scratch = Path(tempfile.mkdtemp(prefix="export-", dir=store.root / "build-cache"))
    try:
        with rootview.merged(layers, scratch) as root:
            if output.type == "local":
                await asyncio.to_thread(_copy_tree, root, Path(output.dest))
            else:
                await asyncio.to_thread(_write_tar, root, output.dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _copy_tree(root: Path, dest: Path) -> None:
    """The files below ``root`` into ``dest`` (made if missing), modes and times kept."""
    dest.mkdir(parents=True, exist_ok=True)
    directories = []
    for directory, names, files in os.walk(root):
        target = dest / os.path.relpath(directory, root)
        for name in sorted(names + files):
            source, copy = Path(directory, name), target / name
            st = os.lstat(source)
            if stat.S_ISDIR(st.st_mode):
                copy.mkdir(exist_ok=True)
                directories.append((source, copy))
            elif stat.S_ISLNK(st.st_mode):
                copy.unlink(missing_ok=True)
                os.symlink(os.readlink(source), copy)
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(source, copy)
    for source, copy in reversed(directories):  # once their entries no longer change
        shutil.copystat(source, copy)


def _write_tar(root: Path, dest: str) -> None:
    out = sys.stdout.buffer if dest == "-" else open(dest, "wb")
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(os.listdir(root)):
                tar.add(root / name, arcname=name)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
