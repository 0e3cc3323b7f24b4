"""One build step's file system changes as a reproducible, compressed layer blob.

The input is a directory in overlayfs "upper" form: what a RUN container's
upper directory holds after the step, or what COPY staged. Deletions are
0/0 character devices and replaced directories carry the opaque xattr; in
the layer they become ``.wh.NAME`` files and ``.wh..wh..opq`` entries, as the
OCI image spec says.

Reproducible means the same tree gives the same bytes, so the same digest,
on every build: entries sorted by name, numeric owners without user/group
names, whole-second mtimes clamped to ``SOURCE_DATE_EPOCH`` when it is set,
no gzip timestamp or file name. The tar is streamed through a hash (the
diff ID) and the compressor straight into the blob store: no layer is held
in memory or written twice.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isal import igzip

from ocispec import mediatypes
from ocispec.digest import Digest

from ..layers.compression import zstd
from ..store.blobs import BlobStore

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_SKIPPED_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
COMPRESSIONS = ("gzip", "zstd")


@dataclass(frozen=True)
class LayerBlob:
    digest: Digest       # of the compressed blob
    diff_id: Digest      # of the uncompressed tar
    size: int
    media_type: str      # OCI media type; ``docker_media_type`` for schema 2
    content: int = 0     # bytes of file content in the tree it was written from


def docker_media_type(media_type: str) -> str:
    """A layer's schema 2 media type (an uncompressed base layer keeps the ``.tar`` type
    moby and containerd use); Docker images have no zstd layers."""
    if media_type == mediatypes.OCI_LAYER:
        return "application/vnd.docker.image.rootfs.diff.tar"
    if media_type != mediatypes.OCI_LAYER_GZIP:
        raise ValueError("Docker schema 2 images carry gzip layers only: build with "
                         "--compress gzip for --format docker")
    return mediatypes.DOCKER_LAYER_GZIP


def is_empty(directory: Path) -> bool:
    """Whether a step changed nothing: Docker records such steps without a layer."""
    with os.scandir(directory) as entries:
        return next(entries, None) is None


class _Sink:
    """The tar's file object: hashes what it gets and hands it on, compressed."""

    def __init__(self, writer: BinaryIO) -> None:
        self.hash = hashlib.sha256()
        self.writer = writer

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.writer.write(data)
        return len(data)


class _BlobFile:
    """Adapts a store BlobWriter to the file interface compressors write to."""

    def __init__(self, writer) -> None:  # a client.store.blobs.BlobWriter
        self.writer = writer
        self.size = 0

    def write(self, data: bytes) -> int:
        self.writer.write(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def write_layer(source: Path, blobs: BlobStore, compression: str = "gzip",
                epoch: int | None = None, scrub: bool = False) -> LayerBlob:
    """Write ``source`` (upper-dir form) as a layer blob into ``blobs``; ``scrub`` removes
    overlayfs's private attributes from an upper directory on the way (see ``_xattrs``)."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}: expected gzip or zstd")
    with blobs.writer() as writer:
        out = _BlobFile(writer)
        if compression == "gzip":
            compressor: BinaryIO = igzip.GzipFile(fileobj=out, mode="wb", mtime=0)  # type: ignore[assignment]
            media_type = mediatypes.OCI_LAYER_GZIP
        else:
            compressor = zstd.ZstdFile(out, "wb")  # type: ignore[assignment]
            media_type = mediatypes.OCI_LAYER_ZSTD
        sink = _Sink(compressor)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            tree = _TarWriter(tar, epoch, scrub)
            if scrub:
                _xattrs(source, scrub)
            tree.directory(source, "")
        compressor.close()
        digest = writer.commit()
    return LayerBlob(digest, Digest("sha256", sink.hash.hexdigest()), out.size, media_type,
                     tree.content)


class _TarWriter:
    def __init__(self, tar: tarfile.TarFile, epoch: int | None, scrub: bool) -> None:
        self.tar = tar
        self.epoch = epoch
        self.scrub = scrub
        self.links: dict[tuple[int, int], str] = {}
        self.content = 0

    def directory(self, path: Path, prefix: str) -> None:
        if prefix and is_opaque(path):
            self.marker(prefix + OPAQUE_MARKER, path)
        with os.scandir(path) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            self.entry(Path(entry.path), prefix + entry.name)

    def entry(self, path: Path, name: str) -> None:
        st = os.lstat(path)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            parent, _, base = name.rpartition("/")
            self.marker(f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base,
                        path)
            return
        info = self.info(name, st, path)
        if stat.S_ISDIR(st.st_mode):
            info.type, info.name = tarfile.DIRTYPE, name + "/"
            self.tar.addfile(info)
            self.directory(path, name + "/")
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, self.links[key], 0
                self.tar.addfile(info)
                return
            self.links[key] = name
            info.size = st.st_size
            self.content += st.st_size
            with open(path, "rb") as data:
                self.tar.addfile(info, data)
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
            self.tar.addfile(info)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
            self.tar.addfile(info)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        # sockets are not archived, as in Docker

    def info(self, name: str, st: os.stat_result, path: Path) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = self.mtime(st)
        xattrs = _xattrs(path, self.scrub)
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{key}": value for key, value in xattrs.items()}
        return info

    def mtime(self, st: os.stat_result) -> int:
        mtime = int(st.st_mtime)
        return min(mtime, self.epoch) if self.epoch is not None else mtime

    def marker(self, name: str, path: Path) -> None:
        """A whiteout or opaque marker: an empty root-owned file, dated like its source."""
        info = tarfile.TarInfo(name)
        info.mode, info.uname, info.gname = 0, "", ""
        info.mtime = self.mtime(os.lstat(path))
        self.tar.addfile(info)


def is_opaque(path: Path) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _xattrs(path: Path, scrub: bool = False) -> dict[str, str]:
    """Extended attributes worth keeping (capabilities, ACLs), never overlay's own; with
    ``scrub``, overlay's private ones (origin, impure, uuid: all but opaque) are removed
    from the file too, so that the tree can serve as a lower layer."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    kept = {}
    for name in sorted(names):
        if name.startswith(_SKIPPED_XATTR_PREFIXES):
            if scrub and name not in _OPAQUE_XATTRS:
                os.removexattr(path, name, follow_symlinks=False)
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        kept[name] = value.decode("utf-8", "surrogateescape")
    return kept
