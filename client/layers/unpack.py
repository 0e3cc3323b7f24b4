"""Unpacking one layer tar into a directory: the client's security boundary.

Layers come from registries we do not trust, so every entry is validated and
written relative to directory file descriptors (openat-style) with
``O_NOFOLLOW``; neither a crafted name nor a symlink planted by an earlier
entry can make a write land outside the layer directory:

- names: absolute paths and ``..`` components are refused;
- parents: each parent is opened one component at a time without following
  symlinks; a symlink where a parent directory should be is refused (tar
  writers never need one), a missing parent is created;
- the entry itself: whatever already has its name is removed first and files
  are created with ``O_EXCL|O_NOFOLLOW``, so nothing is written through a link;
- hard links: the target is an archive name, resolved by the same rules;
- symlinks may point anywhere: they are followed only inside the container's
  root at run time, never while unpacking.

Whiteouts become what overlayfs reads:

- ``.wh.NAME`` -> a 0/0 character device ``NAME``.  Since Linux 5.8 the kernel
  lets unprivileged users create exactly this node, so root and non-root unpack
  alike and no side file is needed;
- ``.wh..wh..opq`` -> the opaque xattr on its directory: ``trusted.overlay.opaque``
  as root, ``user.overlay.opaque`` otherwise (read by overlay mounted with
  ``userxattr``, as rootless overlay is).  Layers may not set overlay xattrs
  themselves: they steer overlayfs (redirects, metacopy) and are refused.

Ownership, device nodes and xattrs outside ``user.`` need root; without it,
files belong to the caller, those xattrs are skipped and device nodes refused.

Python's ``tarfile`` parses the stream (mode ``r|``, never seeking); its
``extract`` is not used: its ``data`` filter refuses device nodes and whiteouts
and its other modes trust the archive.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from client.errors import DockyardError
from ocispec.digest import Digest

from .compression import DecompressionErrors, open_uncompressed

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."  # aufs bookkeeping (.wh..wh.plnk, ...): meaningless to overlayfs
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
_PAX_XATTR = "SCHILY.xattr."
_COPY_SIZE = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LayerError(DockyardError):
    """A layer that cannot be unpacked: malformed, hostile, or not the expected content."""


class _Refused(Exception):
    """Why one entry is refused; turned into a LayerError naming the entry."""


@dataclass(frozen=True, slots=True)
class Unpacked:
    diff_id: Digest
    size: int  # bytes of regular-file content


def overlay_namespace(privileged: bool) -> str:
    """Where overlayfs reads its xattrs: ``trusted`` needs root, ``user`` needs ``userxattr``."""
    return "trusted" if privileged else "user"


def unpack_file(blob: Path, dest: Path, privileged: bool) -> Unpacked:
    """Unpack the (possibly compressed) layer blob at ``blob`` into the empty ``dest``."""
    with open(blob, "rb") as raw:
        stream = open_uncompressed(raw)
        dest_fd = os.open(dest, _DIR_FLAGS)
        try:
            return unpack_stream(stream, dest_fd, privileged)
        finally:
            os.close(dest_fd)
            stream.close()


def unpack_stream(stream: BinaryIO, dest_fd: int, privileged: bool) -> Unpacked:
    """Unpack an uncompressed tar stream into the directory ``dest_fd``.

    The diff ID is the digest of every byte of the stream, including what
    follows the end-of-archive marker, so the stream is read to its end.
    """
    reader = _HashingReader(stream)
    extractor = _Extractor(dest_fd, privileged)
    try:
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=_StrictTarInfo) as tar:  # type: ignore[call-overload]
            while (member := tar.next()) is not None:
                extractor.add(tar, member)
                tar.members.clear()  # tarfile would otherwise keep every header in memory
        reader.drain()
        extractor.finish()
    except tarfile.TarError as err:
        raise LayerError(f"malformed tar: {err}") from None
    except DecompressionErrors as err:
        raise LayerError(f"cannot decompress: {err}") from None
    finally:
        extractor.close()
    return Unpacked(Digest("sha256", reader.hasher.hexdigest()), extractor.size)


class _HashingReader:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.hasher = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.hasher.update(data)
        return data

    def drain(self) -> None:
        while self.read(_COPY_SIZE):
            pass


class _StrictTarInfo(tarfile.TarInfo):
    """Makes a corrupt header an error: tarfile would silently end the archive there."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):  # type: ignore[no-untyped-def]
        try:
            return super().frombuf(buf, encoding, errors)
        except (tarfile.InvalidHeaderError, tarfile.TruncatedHeaderError) as err:  # type: ignore[attr-defined]
            raise tarfile.ReadError(f"corrupt header: {err}") from None


def _components(name: str) -> tuple[str, ...]:
    if name.startswith("/"):
        raise _Refused("absolute path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise _Refused("path leaves the layer ('..')")
    return parts


def _mtime_ns(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns; from the PAX text when there is one (a float loses the ns)."""
    exact = member.pax_headers.get("mtime")
    ns = int(Decimal(exact) * 1_000_000_000) if exact else round(member.mtime * 1_000_000_000)
    return ns, ns


class _Extractor:
    """Writes validated entries below ``root_fd``; directory modes and mtimes come last."""

    def __init__(self, root_fd: int, privileged: bool) -> None:
        self._root = root_fd
        self._privileged = privileged
        self._opaque = f"{overlay_namespace(privileged)}.overlay.opaque"
        # Set once everything is written, so a read-only directory or a new
        # child cannot get in the way of the directory's own metadata.
        self._dirs: dict[tuple[str, ...], tarfile.TarInfo] = {}
        # Entries come grouped by directory: keep the last parent open.
        self._cached: tuple[tuple[str, ...], int] | None = None
        self.size = 0

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            self._add(tar, member)
        except (_Refused, *DecompressionErrors, ValueError, OverflowError) as err:
            raise LayerError(f"entry {member.name!r}: {err}") from None

    def close(self) -> None:
        self._forget(())

    def finish(self) -> None:
        """Apply directory modes and mtimes, deepest first."""
        try:
            for parts in sorted(self._dirs, key=len, reverse=True):
                member = self._dirs[parts]
                with self._opened(parts) as fd:
                    os.fchmod(fd, member.mode & 0o7777)
                    os.utime(fd, ns=_mtime_ns(member))
        except (_Refused, OSError, ValueError, OverflowError) as err:
            raise LayerError(f"setting directory metadata: {err}") from None

    def _add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _components(member.name)
        if not parts:
            if not member.isdir():
                raise _Refused("only a directory may name the layer root")
            self._set_metadata(self._root, member)
            self._dirs[()] = member
            return
        parent = self._parent(parts[:-1])
        name = parts[-1]
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, name)
        elif member.isdir():
            self._directory(parent, parts, member)
        elif member.isreg():
            self._regular(tar, parent, parts, member)
        elif member.islnk():
            self._hard_link(parent, parts, member)
        elif member.issym():
            self._replace(parent, parts)
            os.symlink(member.linkname, name, dir_fd=parent)
            self._set_metadata_at(parent, name, member, symlink=True)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._special(parent, parts, member)
        else:
            raise _Refused(f"unsupported entry type {member.type!r}")

    # -- parents -------------------------------------------------------------

    def _parent(self, parts: tuple[str, ...]) -> int:
        if not parts:
            return self._root
        if self._cached and self._cached[0] == parts:
            return self._cached[1]
        fd = self._walk(parts, create=True)
        self._forget(())
        self._cached = (parts, fd)
        return fd

    def _forget(self, under: tuple[str, ...]) -> None:
        """Close the cached parent if it lies at or below ``under``."""
        if self._cached and self._cached[0][: len(under)] == under:
            os.close(self._cached[1])
            self._cached = None

    @contextmanager
    def _opened(self, parts: tuple[str, ...]) -> Iterator[int]:
        """An existing directory inside the layer, opened without following links."""
        fd = self._walk(parts, create=False)
        try:
            yield fd
        finally:
            if fd != self._root:
                os.close(fd)

    def _walk(self, parts: tuple[str, ...], create: bool) -> int:
        fd = self._root
        try:
            for depth, part in enumerate(parts, 1):
                child = self._open_dir(fd, part, parts[:depth], create)
                if fd != self._root:
                    os.close(fd)
                fd = child
        except BaseException:
            if fd != self._root:
                os.close(fd)
            raise
        return fd

    @staticmethod
    def _open_dir(dir_fd: int, name: str, path: tuple[str, ...], create: bool) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise _Refused(f"{'/'.join(path)} does not exist") from None
        except OSError as err:
            if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a directory"
            raise _Refused(f"parent {'/'.join(path)} is {kind}") from None
        # A parent the archive never listed: created as tar and Docker do.
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        os.fchmod(fd, 0o755)  # whatever the umask
        return fd

    def _replace(self, parent: int, parts: tuple[str, ...], keep_dir: bool = False) -> bool:
        """Remove what has the entry's name (tar's last entry wins); True if a kept directory."""
        name = parts[-1]
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(mode):
            os.unlink(name, dir_fd=parent)
            return False
        if keep_dir:
            return True
        self._forget(parts)
        shutil.rmtree(name, dir_fd=parent)
        for path in [p for p in self._dirs if p[: len(parts)] == parts]:
            del self._dirs[path]
        return False

    # -- entries -------------------------------------------------------------

    def _whiteout(self, parent: int, name: str) -> None:
        if name == OPAQUE_WHITEOUT:
            os.setxattr(parent, self._opaque, b"y")
            return
        if name.startswith(_AUFS_META_PREFIX):
            return
        hidden = name[len(WHITEOUT_PREFIX):]
        if hidden in ("", ".", ".."):
            raise _Refused("whiteout names no file")
        try:
            os.stat(hidden, dir_fd=parent, follow_symlinks=False)
            return  # a whiteout hides lower layers only, never its own layer's file
        except FileNotFoundError:
            os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)

    def _directory(self, parent: int, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        name = parts[-1]
        if not self._replace(parent, parts, keep_dir=True):
            os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        try:
            self._set_metadata(fd, member)
        finally:
            os.close(fd)
        self._dirs[parts] = member

    def _regular(self, tar: tarfile.TarFile, parent: int, parts: tuple[str, ...],
                 member: tarfile.TarInfo) -> None:
        self._replace(parent, parts)
        fd = os.open(parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=parent)
        with open(fd, "wb") as out:
            source = tar.extractfile(member)
            assert source is not None  # a regular member always has content
            shutil.copyfileobj(source, out, _COPY_SIZE)
            out.flush()
            self._set_metadata(fd, member)
            os.fchmod(fd, member.mode & 0o7777)
            os.utime(fd, ns=_mtime_ns(member))
        self.size += member.size

    def _hard_link(self, parent: int, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        try:
            target = _components(member.linkname)
        except _Refused as err:
            raise _Refused(f"hard link target {member.linkname!r}: {err}") from None
        if not target:
            raise _Refused("hard link to the layer root")
        with self._opened(target[:-1]) as target_dir:
            try:
                mode = os.stat(target[-1], dir_fd=target_dir, follow_symlinks=False).st_mode
            except FileNotFoundError:
                raise _Refused(f"hard link target {member.linkname!r} does not exist") from None
            if stat.S_ISDIR(mode):
                raise _Refused("hard link to a directory")
            self._replace(parent, parts)
            os.link(target[-1], parts[-1], src_dir_fd=target_dir, dst_dir_fd=parent,
                    follow_symlinks=False)

    def _special(self, parent: int, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        name = parts[-1]
        self._replace(parent, parts)
        if member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=parent)
        elif not self._privileged:
            raise _Refused("device nodes need root")
        else:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor),
                     dir_fd=parent)
        self._set_metadata_at(parent, name, member, symlink=False)

    # -- metadata ------------------------------------------------------------

    def _xattrs(self, member: tarfile.TarInfo) -> Iterator[tuple[str, bytes]]:
        for key, value in member.pax_headers.items():
            if not key.startswith(_PAX_XATTR):
                continue
            attr = key[len(_PAX_XATTR):]
            if attr.startswith(_OVERLAY_XATTRS):
                raise _Refused(f"xattr {attr} is reserved for overlayfs")
            if self._privileged or attr.startswith("user."):
                # tarfile decodes PAX values as UTF-8 with surrogateescape: undo it.
                yield attr, value.encode("utf-8", "surrogateescape")

    def _set_metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        """Owner and xattrs of an open file or directory (chown first: it clears setuid)."""
        if self._privileged:
            os.fchown(fd, member.uid, member.gid)
        for attr, value in self._xattrs(member):
            os.setxattr(fd, attr, value)

    def _set_metadata_at(self, parent: int, name: str, member: tarfile.TarInfo,
                         symlink: bool) -> None:
        """Metadata of a symlink, device or fifo, which must never be opened."""
        if self._privileged:
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
            # setxattr has no dir_fd form; the parent's /proc magic link is the same thing.
            for attr, value in self._xattrs(member):
                os.setxattr(f"/proc/self/fd/{parent}/{name}", attr, value, follow_symlinks=False)
        if not symlink:  # we just created it: not a link, nothing to follow
            os.chmod(name, member.mode & 0o7777, dir_fd=parent)
        os.utime(name, ns=_mtime_ns(member), dir_fd=parent, follow_symlinks=False)
