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
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DockyardError
from .dockerignore import DockerIgnore, clean, translate

_GLOB_CHARS = re.compile(r"[*?\[]")
_CHUNK = 1 << 20


class ContextError(DockyardError):
    """A COPY/ADD source that is not in the context."""


@dataclass(frozen=True)
class Match:
    """One source of COPY/ADD: a context path and what it is."""
    name: str        # relative to the context root, slash-separated ("" is the root)
    path: Path       # on disk
    is_dir: bool


class BuildContext:
    def __init__(self, root: Path, ignore: DockerIgnore) -> None:
        self.root = root.absolute()  # absolute: mounting an overlay briefly changes the cwd
        self.ignore = ignore
        self.entries = {name: entry.stat(follow_symlinks=False)
                        for name, entry in ignore.walk(root)} if root.is_dir() else {}
        self._file_hashes: dict[str, str] = {}

    @classmethod
    def directory(cls, root: Path, dockerfile: Path | None = None) -> "BuildContext":
        return cls(root, DockerIgnore.for_context(root, dockerfile))

    @staticmethod
    def extract_tar(archive: Path, into: Path) -> None:
        """Unpack a tar context (compressed or not) with tarfile's safe ``data`` filter."""
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")

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
            digest = hashlib.sha256()
            with open(self.root / name, "rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
            self._file_hashes[name] = digest.hexdigest()
        return self._file_hashes[name]
