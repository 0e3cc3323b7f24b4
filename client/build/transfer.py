"""COPY and ADD: placing files into an empty upper directory that becomes the layer.

No container is needed: the staged directory *is* the step's diff. Docker's
rules for where things land:

* the destination is relative to WORKDIR; it is a directory when it ends in
  ``/``, when there are several sources, or when it already is one in the
  image; otherwise a single file source is copied *as* it;
* a directory source copies its contents, not itself;
* files belong to 0:0 unless ``--chown`` (names resolved in the image's own
  /etc/passwd and /etc/group), keep their mode unless ``--chmod``, and
  keep their modification time;
* directories the destination needs are created 0755 root, or with the
  image's metadata when the image has them (so a layer never changes the
  mode of /etc by accident).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import DockyardError
from .context import BuildContext, Match
from .dockerignore import DockerIgnore

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class RootView:
    """An image's file system read through its unpacked layer directories, top first."""

    def __init__(self, layers: Iterable[Path]) -> None:
        self.layers = list(layers)

    def lstat(self, path: str) -> os.stat_result | None:
        relative = path.strip("/")
        if not relative:
            return None
        for layer in self.layers:
            try:
                st = os.lstat(layer / relative)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # a whiteout: deleted in this layer
            return st
        return None

    def read_text(self, path: str) -> str:
        for layer in self.layers:
            candidate = layer / path.strip("/")
            if candidate.is_file():
                return candidate.read_text(errors="replace")
        return ""


def owner(spec: str | None, view: RootView) -> tuple[int, int]:
    """``--chown=user[:group]`` as numbers, names looked up in the image's files."""
    if not spec:
        return 0, 0
    user, _, group = spec.partition(":")
    passwd = _entries(view.read_text("/etc/passwd"))
    uid, primary = _lookup(user, passwd, "user", "passwd", gid_field=True)
    if not group:
        return uid, primary
    gid, _ = _lookup(group, _entries(view.read_text("/etc/group")), "group", "group")
    return uid, gid


def _entries(text: str) -> dict[str, list[str]]:
    return {fields[0]: fields for line in text.splitlines()
            if len(fields := line.split(":")) >= 3}


def _lookup(name: str, entries: dict[str, list[str]], what: str, file: str,
            gid_field: bool = False) -> tuple[int, int]:
    if name.isdigit():
        number = int(name)
        for fields in entries.values():
            if fields[2] == name and gid_field and len(fields) > 3 and fields[3].isdigit():
                return number, int(fields[3])
        return number, number
    fields = entries.get(name)
    if fields is None or not fields[2].isdigit():
        raise DockyardError(f"unable to find {what} {name}: no matching entries in {file} file")
    primary = int(fields[3]) if gid_field and len(fields) > 3 and fields[3].isdigit() else 0
    return int(fields[2]), primary


def destination(dest: str, workdir: str | None) -> str:
    path = posixpath.join(workdir or "/", dest)
    return posixpath.normpath(path) if path != "/" else "/"


def is_archive(path: Path) -> bool:
    """What ADD unpacks: a tar, plain or gzip/bzip2/xz/zstd-compressed."""
    with open(path, "rb") as data:
        head = data.read(512)
    if head.startswith(_ARCHIVE_MAGIC):
        return tarfile.is_tarfile(path) if not head.startswith(_ARCHIVE_MAGIC[3]) else True
    return len(head) >= 262 and head[257:262] == b"ustar"


class Stager:
    """Writes one COPY/ADD into ``upper`` with the step's owner and mode."""

    def __init__(self, upper: Path, view: RootView, uid: int, gid: int,
                 chmod: int | None = None) -> None:
        self.upper = upper
        self.view = view
        self.uid, self.gid = uid, gid
        self.chmod = chmod

    def target(self, path: str) -> Path:
        return self.upper / path.strip("/")

    def is_dir(self, path: str) -> bool:
        if self.target(path).is_dir():
            return True
        st = self.view.lstat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def parents(self, path: str) -> None:
        """Create the directories above ``path`` as the image has them (or 0755 root)."""
        parent = posixpath.dirname(path.rstrip("/"))
        if parent in ("", "/") or self.target(parent).is_dir():
            return
        self.parents(parent)
        self.directory(parent, self.view.lstat(parent))

    def directory(self, path: str, like: os.stat_result | None, owned: bool = False) -> None:
        target = self.target(path)
        target.mkdir(exist_ok=True)
        if like is not None and stat.S_ISDIR(like.st_mode):
            mode, uid, gid = stat.S_IMODE(like.st_mode), like.st_uid, like.st_gid
            times = (like.st_atime_ns, like.st_mtime_ns)
        else:
            mode, uid, gid, times = 0o755, 0, 0, None
        if owned:
            uid, gid = self.uid, self.gid
            mode = self.chmod if self.chmod is not None else mode
        os.chown(target, uid, gid)
        os.chmod(target, mode)
        if times:
            os.utime(target, ns=times)

    def file(self, source: Path, path: str) -> None:
        """Copy one file, symlink or directory entry (not its contents) to ``path``."""
        self.parents(path)
        target = self.target(path)
        st = os.lstat(source)
        if stat.S_ISDIR(st.st_mode):
            self.directory(path, st, owned=True)
            return
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), target)
            os.lchown(target, self.uid, self.gid)
        else:
            shutil.copyfile(source, target)
            os.chown(target, self.uid, self.gid)
            os.chmod(target, self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def data(self, content: bytes, path: str, mtime: float | None) -> None:
        """A file made from a heredoc or a download."""
        self.parents(path)
        target = self.target(path)
        target.write_bytes(content)
        os.chown(target, self.uid, self.gid)
        os.chmod(target, self.chmod if self.chmod is not None else 0o644)
        if mtime is not None:
            os.utime(target, (mtime, mtime))

    def copy(self, context: BuildContext, matches: list[Match], dest: str,
             dest_is_dir: bool, exclude: tuple[str, ...] = ()) -> None:
        """COPY's placement rules for context sources (see the module docstring).

        ``exclude`` (``COPY --exclude``) takes .dockerignore patterns, matched
        against paths relative to each source.
        """
        skip = DockerIgnore(list(exclude))
        matches = [m for m in matches if not skip.excluded(posixpath.basename(m.name))]
        if dest_is_dir and not self.target(dest).is_dir():
            self.parents(dest)
            self.directory(dest, self.view.lstat(dest), owned=self.view.lstat(dest) is None)
        for match in matches:
            if match.is_dir:
                base = match.name + "/" if match.name else ""
                for name in context.below(match):
                    if skip.excluded(name[len(base):]):
                        continue
                    self.file(context.root / name, posixpath.join(dest, name[len(base):]))
            elif dest_is_dir:
                self.file(match.path, posixpath.join(dest, posixpath.basename(match.name)))
            else:
                self.file(match.path, dest)

    def extract(self, archive: Path, dest: str) -> None:
        """ADD's auto-extraction: the archive's tree below ``dest``, its owners kept."""
        if not self.target(dest).is_dir():
            self.parents(dest)
            self.directory(dest, self.view.lstat(dest))
        with tarfile.open(archive) as tar:
            tar.extractall(self.target(dest), filter="tar")
