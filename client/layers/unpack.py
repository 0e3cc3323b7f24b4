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

Python's ``tarfile`` parses the stream, which a thread decompresses and
hashes ahead (``readahead``); its ``extract`` is not used: its ``data`` filter
refuses device nodes and whiteouts and its other modes trust the archive.

Unpacking costs mostly per entry, so each costs few system calls: parent
directories stay open as a stack along the path of the last entry (tar
writers list a directory's entries together), a name is created first and
only cleared when it exists already, and ownership and mode are set only
when creating the file did not already give the right ones.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TypeVar

from client.errors import DockyardError
from ocispec.digest import Digest

from .compression import DecompressionErrors, open_uncompressed
from .readahead import ReadAhead

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."  # aufs bookkeeping (.wh..wh.plnk, ...): meaningless to overlayfs
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
_PAX_XATTR = "SCHILY.xattr."
_COPY_SIZE = 1 << 20
# PAX and GNU long-name headers are read whole: a hostile size must not fill the memory.
_MAX_META_HEADER = 1 << 20
_META_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                         tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
T = TypeVar("T")


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
    with ReadAhead(stream) as reader:
        extractor = _Extractor(dest_fd, privileged, reader)
        try:
            # Mode "r:" reads the read-ahead's chunks directly; it seeks forward only.
            with tarfile.open(fileobj=reader, mode="r:", tarinfo=_StrictTarInfo) as tar:  # type: ignore[call-overload]
                while (member := tar.next()) is not None:
                    extractor.add(tar, member)
                    tar.members.clear()  # tarfile would otherwise keep every header in memory
            diff_id = reader.drain()
            extractor.finish()
        except tarfile.TarError as err:
            raise LayerError(f"malformed tar: {err}") from None
        except DecompressionErrors as err:
            raise LayerError(f"cannot decompress: {err}") from None
        finally:
            extractor.close()
    return Unpacked(Digest("sha256", diff_id), extractor.size)


class _StrictTarInfo(tarfile.TarInfo):
    """Makes a corrupt header an error: tarfile would silently end the archive there."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):  # type: ignore[no-untyped-def]
        try:
            info = super().frombuf(buf, encoding, errors)
        except (tarfile.InvalidHeaderError, tarfile.TruncatedHeaderError) as err:  # type: ignore[attr-defined]
            raise tarfile.ReadError(f"corrupt header: {err}") from None
        if info.type in _META_TYPES and info.size > _MAX_META_HEADER:
            raise tarfile.ReadError(f"a {info.size}-byte extended header")
        return info


def _components(name: str) -> tuple[str, ...]:
    if name.startswith("/"):
        raise _Refused("absolute path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise _Refused("path leaves the layer ('..')")
    return parts


def _umask() -> int:
    """The process's umask, read without changing it (Linux 4.7+); 0o777 if unknown,
    which makes every file's mode be set explicitly."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o777


def _mtime_ns(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns; from the PAX text when there is one (a float loses the ns)."""
    exact = member.pax_headers.get("mtime")
    ns = int(Decimal(exact) * 1_000_000_000) if exact else round(member.mtime * 1_000_000_000)
    return ns, ns


class _Extractor:
    """Writes validated entries below ``root_fd``; directory modes and mtimes come last."""

    def __init__(self, root_fd: int, privileged: bool, reader: ReadAhead) -> None:
        self._root = root_fd
        self._privileged = privileged
        self._reader = reader
        self._opaque = f"{overlay_namespace(privileged)}.overlay.opaque"
        # Set once everything is written, so a read-only directory or a new
        # child cannot get in the way of the directory's own metadata.
        self._dirs: dict[tuple[str, ...], tarfile.TarInfo] = {}
        # The directories along the last entry's path, open: (name, fd), root first.
        self._open: list[tuple[str, int]] = []
        # Who owns what we create, unless the layer root hands down its group (setgid).
        self._owner = None if os.fstat(root_fd).st_mode & stat.S_ISGID \
            else (os.geteuid(), os.getegid())
        self._umask = _umask()
        self.size = 0

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            self._add(tar, member)
        except (_Refused, *DecompressionErrors, ValueError, OverflowError) as err:
            raise LayerError(f"entry {member.name!r}: {err}") from None

    def close(self) -> None:
        self._close_from(0)

    def finish(self) -> None:
        """Apply directory modes and mtimes, descendants before their ancestors."""
        try:
            for parts in sorted(self._dirs, reverse=True):
                member = self._dirs[parts]
                fd = self._descend(parts, create=False)
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
        parent = self._descend(parts[:-1], create=True)
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
            self._create(parent, parts, lambda: os.symlink(member.linkname, name, dir_fd=parent))
            self._set_metadata_at(parent, name, member, symlink=True)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._special(parent, parts, member)
        else:
            raise _Refused(f"unsupported entry type {member.type!r}")

    # -- parents -------------------------------------------------------------

    def _descend(self, parts: tuple[str, ...], create: bool) -> int:
        """The directory ``parts``, opened one component at a time from the open stack."""
        kept = 0
        while kept < min(len(parts), len(self._open)) and self._open[kept][0] == parts[kept]:
            kept += 1
        self._close_from(kept)
        fd = self._open[-1][1] if self._open else self._root
        for depth in range(kept, len(parts)):
            fd = self._open_dir(fd, parts[depth], parts[:depth + 1], create)
            self._open.append((parts[depth], fd))
        return fd

    def _close_from(self, depth: int) -> None:
        while len(self._open) > depth:
            os.close(self._open.pop()[1])

    def _forget(self, removed: tuple[str, ...]) -> None:
        """Close the open directories at or below ``removed``, which is going away."""
        if tuple(name for name, _ in self._open[:len(removed)]) == removed:
            self._close_from(len(removed) - 1)

    @contextmanager
    def _opened(self, parts: tuple[str, ...]) -> Iterator[int]:
        """An existing directory inside the layer, opened without following links,
        apart from the open stack (which holds the current entry's parent)."""
        fd = self._root
        try:
            for depth, part in enumerate(parts, 1):
                child = self._open_dir(fd, part, parts[:depth], create=False)
                if fd != self._root:
                    os.close(fd)
                fd = child
            yield fd
        finally:
            if fd != self._root:
                os.close(fd)

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

    def _create(self, parent: int, parts: tuple[str, ...], make: Callable[[], T]) -> T:
        """``make()`` the entry; if its name is taken, clear it first (tar's last entry wins)."""
        try:
            return make()
        except FileExistsError:
            self._replace(parent, parts)
            return make()

    def _replace(self, parent: int, parts: tuple[str, ...], keep_dir: bool = False) -> bool:
        """Remove what has the entry's name; True if it is a directory and kept."""
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
            os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
        except FileExistsError:
            pass  # a whiteout hides lower layers only, never its own layer's file

    def _directory(self, parent: int, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        name = parts[-1]
        created = True
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            created = not self._replace(parent, parts, keep_dir=True)
            if created:
                os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        try:
            self._set_metadata(fd, member, created)
        finally:
            os.close(fd)
        self._dirs[parts] = member

    def _regular(self, tar: tarfile.TarFile, parent: int, parts: tuple[str, ...],
                 member: tarfile.TarInfo) -> None:
        mode = member.mode & 0o7777
        fd = self._create(parent, parts,
                          lambda: os.open(parts[-1], _NEW_FILE_FLAGS, mode & 0o777, dir_fd=parent))
        try:
            if member.issparse():  # holes described in the headers: tarfile fills them in
                with open(fd, "wb", closefd=False) as out:
                    shutil.copyfileobj(tar.extractfile(member), out, _COPY_SIZE)  # type: ignore[misc]
            else:
                self._reader.copy_to(fd, member.size)
            self._set_metadata(fd, member, created=True)
            if mode != mode & 0o777 & ~self._umask:
                os.fchmod(fd, mode)
            os.utime(fd, ns=_mtime_ns(member))
        finally:
            os.close(fd)
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
            self._create(parent, parts, lambda: os.link(
                target[-1], parts[-1], src_dir_fd=target_dir, dst_dir_fd=parent,
                follow_symlinks=False))

    def _special(self, parent: int, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        name = parts[-1]
        if member.isfifo():
            self._create(parent, parts, lambda: os.mkfifo(name, 0o600, dir_fd=parent))
        elif not self._privileged:
            raise _Refused("device nodes need root")
        else:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            self._create(parent, parts,
                         lambda: os.mknod(name, kind | 0o600, device, dir_fd=parent))
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

    def _set_metadata(self, fd: int, member: tarfile.TarInfo, created: bool = False) -> None:
        """Owner and xattrs of an open file or directory (chown first: it clears setuid).

        ``created``: we just made it, so it already has our owner.
        """
        if self._privileged and not (created and (member.uid, member.gid) == self._owner):
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
