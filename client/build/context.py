"""The build context: the files COPY and ADD may read, after .dockerignore.

A context is a directory, a tar archive (extracted to a private directory
first), or nothing (``-``: the Dockerfile came on stdin). The ignore rules
are applied once, when the context is opened, and everything after that
(glob matching, content hashes for the cache, copying) sees only the
files that survived them.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DockyardError
from .dockerignore import DockerIgnore, clean, translate
from .filehashes import FileHashes

if sys.version_info >= (3, 12):
    import tarfile
else:  # extraction filters (PEP 706) came with 3.11.4; Debian 12's Python is 3.11.2
    from backports import tarfile

_GLOB_CHARS = re.compile(r"[*?\[]")
_CHUNK = 1 << 20


def extract_archive(archive: Path, into: Path, safety: str) -> None:
    """Unpack a tar (plain, gzip, bzip2 or xz) into ``into`` through one of tarfile's
    extraction filters (``safety``: "data" or "tar"), which keep every entry, and
    every link an earlier entry made, from leading a write outside ``into``."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter=safety)


class ContextError(DockyardError):
    """A COPY/ADD source that is not in the context."""


@dataclass(frozen=True)
class Match:
    """One source of COPY/ADD: a context path and what it is."""
    name: str        # relative to the context root, slash-separated ("" is the root)
    path: Path       # on disk
    is_dir: bool


@dataclass(frozen=True)
class Source:
    """A matched source and the path ``COPY --parents`` keeps for it below the destination:
    its path from the context root, or from the ``/./`` pivot written in the source."""
    context: "BuildContext"
    match: Match
    kept: str


class BuildContext:
    def __init__(self, root: Path, ignore: DockerIgnore, scope: str | None = None) -> None:
        """``scope`` (a relative path) limits the walk to that entry and what is below it."""
        self.root = root.absolute()  # absolute: mounting an overlay briefly changes the cwd
        self.ignore = ignore
        self.entries = dict(self._walk(scope)) if root.is_dir() else {}
        self._file_hashes: dict[str, str] = {}
        self.remembered: FileHashes | None = None  # hashes kept from earlier builds

    def _walk(self, scope: str | None) -> Iterator[tuple[str, os.stat_result]]:
        if scope is None:
            for name, entry in self.ignore.walk(self.root):
                yield name, entry.stat(follow_symlinks=False)
            return
        try:
            st = os.lstat(self.root / scope)
        except OSError:
            return
        yield scope, st
        if stat.S_ISDIR(st.st_mode):
            for name, entry in self.ignore.walk(self.root / scope):
                yield f"{scope}/{name}", entry.stat(follow_symlinks=False)

    @classmethod
    def directory(cls, root: Path, dockerfile: Path | None = None) -> "BuildContext":
        return cls(root, DockerIgnore.for_context(root, dockerfile))

    @staticmethod
    def extract_tar(archive: Path, into: Path) -> None:
        """Unpack a tar context (compressed or not) with tarfile's safe ``data`` filter."""
        extract_archive(archive, into, "data")

    def match(self, sources: tuple[str, ...], keyword: str) -> list[Match]:
        """The context paths ``sources`` name (globs allowed), in source order."""
        found: list[Match] = []
        for source in sources:
            name = clean(source.lstrip("/")) if source.strip("/") else "."
            name = "" if name == "." else name
            if _GLOB_CHARS.search(name):
                regex = re.compile(translate(name) + "$", re.DOTALL)
                hits = [n for n in self.entries if regex.match(n)]
                if not hits:
                    raise ContextError(f"{keyword} failed: no source files were specified: "
                                       f"{source!r} matches nothing in the build context")
                found.extend(self._match(n) for n in sorted(hits))
            elif name == "" or name in self.entries:
                found.append(self._match(name))
            else:
                raise ContextError(f"{keyword} failed: file not found in build context or "
                                   f"excluded by .dockerignore: {source}")
        return found

    def sources(self, sources: tuple[str, ...], keyword: str, base: str = "") -> list[Source]:
        """``match`` with each hit's kept path; ``base`` is where this context's root lies in
        the tree the sources name (for a context made of part of a stage's file system)."""
        found = []
        for source in sources:
            text = source.lstrip("/").removeprefix("./")
            pivot, marker, rest = text.partition("/./")
            written, pivot = (f"{pivot}/{rest}", clean(pivot)) if marker else (text, "")
            for match in self.match((_relative(written, base),), keyword):
                full = posixpath.join(base, match.name) if match.name else base
                found.append(Source(self, match, posixpath.relpath(full, pivot or ".")
                                    if full else ""))
        return found

    def tree(self, source: str, into: Path) -> Path:
        """What ``RUN --mount=type=bind,source=SOURCE`` shows of the context: the path
        itself when .dockerignore hides nothing below it, else a copy of what it keeps
        (hard links where the file system allows) made at ``into``."""
        name = _relative(source, "")
        name = "" if name == "." else name
        if name and name not in self.entries:
            raise ContextError(f"--mount=type=bind: {source} not found in the build context "
                               "or excluded by .dockerignore")
        path = self.root / name if name else self.root
        if not path.is_dir() or path.is_symlink() or not self.ignore.patterns:
            return path
        kept = self.below(self._match(name))
        if len(kept) == sum(len(d) + len(f) for _, d, f in os.walk(path)):
            return path
        into.mkdir()
        base = name + "/" if name else ""
        for entry in kept:
            origin, copy = self.root / entry, into / entry[len(base):]
            st = self.entries[entry]
            if stat.S_ISDIR(st.st_mode):
                copy.mkdir(parents=True, exist_ok=True)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(origin), copy)
            else:
                try:
                    os.link(origin, copy)
                except OSError:
                    shutil.copy2(origin, copy)
        return into

    def _match(self, name: str) -> Match:
        st = self.entries.get(name)
        return Match(name, self.root / name if name else self.root,
                     st is None or stat.S_ISDIR(st.st_mode))

    def below(self, match: Match) -> list[str]:
        """The included context paths under a directory source, sorted."""
        prefix = match.name + "/" if match.name else ""
        return sorted(n for n in self.entries if n.startswith(prefix) and n != match.name)

    def content_digest(self, matches: list[Match]) -> str:
        """A hash of what the sources hold: names, types, modes, sizes and file contents.

        Modification times are left out, as BuildKit does: touching a file
        does not invalidate the cache, changing it does.
        """
        digest = hashlib.sha256()
        for match in matches:
            names = [match.name, *self.below(match)] if match.is_dir else [match.name]
            for name in names:
                if name not in self.entries:
                    continue
                st = self.entries[name]
                relative = posixpath.relpath(name, match.name) if match.name else name
                digest.update(f"{relative}\0{stat.S_IFMT(st.st_mode)}\0"
                              f"{stat.S_IMODE(st.st_mode)}\0".encode())
                if stat.S_ISREG(st.st_mode):
                    digest.update(self._file_hash(name).encode())
                elif stat.S_ISLNK(st.st_mode):
                    digest.update(os.readlink(self.root / name).encode())
                digest.update(b"\n")
        return "sha256:" + digest.hexdigest()

    def _file_hash(self, name: str) -> str:
        if name not in self._file_hashes:
            path, st = self.root / name, self.entries[name]
            known = self.remembered.get(path, st) if self.remembered is not None else None
            if known is None:
                digest = hashlib.sha256()
                with open(path, "rb") as source:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                known = digest.hexdigest()
                if self.remembered is not None:
                    self.remembered.put(path, st, known)
            self._file_hashes[name] = known
        return self._file_hashes[name]


def _relative(source: str, base: str) -> str:
    """A source path relative to ``base`` (both relative to the same root)."""
    name = clean(source.lstrip("/")) if source.strip("/") else ""
    name = "" if name == "." else name
    return posixpath.relpath(name or ".", base or ".") if base else name or "."


def stage_sources(root: Path, sources: tuple[str, ...], keyword: str) -> list[Source]:
    """COPY --from's sources in another stage's file system (its merged view at ``root``).

    Only what the sources can name is walked: the directory a glob starts in,
    or the one path a plain source names, with symlinks above it resolved
    inside the view.
    """
    from runtime.mounts import secure_join

    found = []
    for source in sources:
        parts = [p for p in clean(source.replace("/./", "/").lstrip("/")).split("/")
                 if p not in ("", ".")]
        glob = next((i for i, part in enumerate(parts) if _GLOB_CHARS.search(part)), None)
        if glob is not None:
            base, scope = "/".join(parts[:glob]), None
        else:
            base, scope = "/".join(parts[:-1]), (parts[-1] if parts else None)
        directory = Path(secure_join(str(root), base))
        context = BuildContext(directory, DockerIgnore([]), scope)
        try:
            found.extend(context.sources((source,), keyword, base))
        except ContextError:
            raise ContextError(f"{keyword} failed: {source}: no such file or directory in "
                               "the --from stage or image") from None
    return found
