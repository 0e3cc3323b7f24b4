"""COPY and ADD: placing files into an empty upper directory that becomes the layer.

No container is needed: the staged directory *is* the step's diff. Docker's
rules for where things land:

* the destination is relative to WORKDIR; it is a directory when it ends in
  ``/``, when there are several sources, or when it already is one in the
  image; otherwise a single file source is copied *as* it;
* a directory source copies its contents, not itself; with ``COPY
  --parents`` every source keeps its path (from the context root, or from a
  ``/./`` in the source) below the destination;
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
from pathlib import Path

from runtime.mounts import resolve_links

from ..containers import users
from ..errors import DockyardError
from . import rootview
from .context import Source, extract_archive
from .dockerignore import DockerIgnore

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def owner(spec: str | None, root: Path) -> tuple[int, int]:
    """``--chown=user[:group]`` as numbers, names looked up in the image's own files
    (``root`` is its merged view). As in BuildKit, a number without a group is the group too."""
    if not spec:
        return 0, 0
    user = users.resolve(str(root), spec)
    name, _, group = spec.partition(":")
    return (user.uid, user.uid) if name.isdigit() and not group else (user.uid, user.gid)


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

    def __init__(self, upper: Path, root: Path, uid: int, gid: int,
                 chmod: int | None = None) -> None:
        """``root`` is the merged view of the image the step writes into."""
        self.upper = upper
        self.root = root
        self.uid, self.gid = uid, gid
        self.chmod = chmod

    def _lstat(self, path: str) -> os.stat_result | None:
        return rootview.lstat(self.root, path)

    def target(self, path: str) -> Path:
        return self.upper / path.strip("/")

    def resolve(self, path: str, follow: bool) -> str:
        """``path`` with every symlink on the way resolved inside the image as this step
        has it so far (its staged files over the image's), the last component's only
        with ``follow``. ``COPY x /bin/`` where /bin links to usr/bin writes /usr/bin/x,
        not a /bin directory hiding what the link leads to; and no link, the image's or
        one this step just copied, can ever lead a write out of the staged directory."""
        try:
            return "/" + "/".join(resolve_links(path, self._readlink, follow))
        except OSError as err:
            raise DockyardError(err.strerror) from None

    def _readlink(self, relative: str) -> str | None:
        """The link at ``relative`` among this step's files, else in the image; None when
        it is no link (or nothing)."""
        for base in (self.upper, self.root):
            try:
                return os.readlink(base / relative)
            except (FileNotFoundError, NotADirectoryError):
                continue  # not staged: the image decides
            except OSError:
                return None  # there, and not a link
        return None

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory already (in this step, or in the image, through
        a link too)."""
        if self.target(path).is_dir():
            return True
        st = self._lstat(self.resolve(path, follow=True))
        return st is not None and stat.S_ISDIR(st.st_mode)

    def parents(self, path: str) -> None:
        """Create the directories above ``path`` as the image has them (or 0755 root)."""
        parent = posixpath.dirname(path.rstrip("/"))
        if parent in ("", "/") or self.target(parent).is_dir():
            return
        self.parents(parent)
        self.directory(parent, self._lstat(parent))

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
        st = os.lstat(source)
        path = self.resolve(path, follow=stat.S_ISDIR(st.st_mode))
        self.parents(path)
        target = self.target(path)
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
        """A file made from a heredoc."""
        target = self._new_file(path)
        target.write_bytes(content)
        self._own(target, mtime)

    def place(self, file: Path, path: str, mtime: float | None) -> None:
        """A file made elsewhere on this file system (a download), moved to ``path``."""
        target = self._new_file(path)
        os.replace(file, target)
        self._own(target, mtime)

    def _new_file(self, path: str) -> Path:
        path = self.resolve(path, follow=False)
        self.parents(path)
        return self.target(path)

    def _own(self, target: Path, mtime: float | None) -> None:
        os.chown(target, self.uid, self.gid)
        os.chmod(target, self.chmod if self.chmod is not None else 0o644)
        if mtime is not None:
            os.utime(target, (mtime, mtime))

    def copy(self, sources: list[Source], dest: str, dest_is_dir: bool,
             exclude: tuple[str, ...] = (), parents: bool = False) -> None:
        """COPY's placement rules (see the module docstring).

        ``exclude`` (``COPY --exclude``) takes .dockerignore patterns, matched
        against paths relative to each source. With ``parents`` (``COPY
        --parents``) every source keeps its path (``Source.kept``) below ``dest``.
        """
        skip = DockerIgnore(list(exclude))
        sources = [s for s in sources if not skip.excluded(posixpath.basename(s.match.name))]
        if (dest_is_dir or parents) and not self.target(dest).is_dir():
            self.parents(dest)
            self.directory(dest, self._lstat(dest), owned=self._lstat(dest) is None)
        for source in sources:
            match, context = source.match, source.context
            if parents:
                placed = posixpath.join(dest, source.kept)
            elif match.is_dir:
                placed = dest
            else:
                placed = posixpath.join(dest, posixpath.basename(match.name)) \
                    if dest_is_dir else dest
            if not match.is_dir:
                self.file(match.path, placed)
                continue
            if parents and source.kept:
                self.file(match.path, placed)
            base = match.name + "/" if match.name else ""
            for name in context.below(match):
                if not skip.excluded(name[len(base):]):
                    self.file(context.root / name, posixpath.join(placed, name[len(base):]))

    def extract(self, archive: Path, dest: str) -> None:
        """ADD's auto-extraction: the archive's tree below ``dest``, its owners kept."""
        if not self.target(dest).is_dir():
            self.parents(dest)
            self.directory(dest, self._lstat(dest))
        extract_archive(archive, self.target(dest), "tar")
