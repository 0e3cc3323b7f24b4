"""``.dockerignore``: which files of the build context COPY and ADD may see.

Docker's rules, which this follows exactly since a context that differs by
one file changes an image and its cache keys:

* one pattern a line; lines starting with ``#`` are comments; surrounding
  whitespace is trimmed and empty lines skipped;
* patterns are cleaned like Go's ``filepath.Clean`` (``./a//b/`` is ``a/b``)
  and a leading ``/`` is dropped: every pattern is relative to the context;
* Go ``filepath.Match`` syntax (``*`` and ``?`` never cross ``/``,
  ``[a-z]``/``[^a]`` classes, ``\\`` escapes) plus ``**``, any number of
  directories, zero included;
* a pattern matching a directory matches everything under it;
* ``!pattern`` re-includes what an earlier line excluded; lines are read in
  order and the last one that matches a path decides.

A file is also excluded when one of its parent directories is, unless a
later exception matches the file itself.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DockyardError

_REGEX_SPECIALS = frozenset(".+()|{}$^")


class IgnoreFileError(DockyardError):
    """A .dockerignore pattern that is not a valid pattern."""


@dataclass(frozen=True)
class Pattern:
    text: str          # the cleaned pattern, without its "!"
    exclusion: bool    # a "!" line: re-includes what it matches
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def clean(path: str) -> str:
    """Go's ``filepath.Clean`` on a slash path (no ``..`` past the start is kept)."""
    cleaned = posixpath.normpath(path) if path else "."
    return cleaned[1:] if cleaned.startswith("//") else cleaned


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned, ``!`` kept, as Docker reads them."""
    patterns = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        if invert:
            if not line:
                raise IgnoreFileError(f".dockerignore:{number}: illegal exclusion pattern: '!'")
            line = "!" + line
        patterns.append(line)
    return patterns


def compile_pattern(pattern: str) -> Pattern:
    """One .dockerignore line (``!`` included) as a matcher; it covers what is below a match."""
    exclusion = pattern.startswith("!")
    text = clean(pattern[1:] if exclusion else pattern)
    return Pattern(text, exclusion, re.compile(translate(text) + "(/.*)?$", re.DOTALL))


def translate(text: str) -> str:
    """A Go ``filepath.Match`` pattern plus ``**`` as an anchored-at-start regex (no end)."""
    regex = ["^"]
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "*":
            if text[i:i + 1] == "*":
                i += 1
                if text[i:i + 1] == "/":
                    i += 1
                regex.append(".*" if i == len(text) else "(.*/)?")
            else:
                regex.append("[^/]*")
        elif ch == "?":
            regex.append("[^/]")
        elif ch == "\\":
            regex.append(re.escape(text[i]) if i < len(text) else r"\\")
            i += 1
        elif ch == "[":
            end = _class_end(text, i)
            if end < 0:
                raise IgnoreFileError(f"invalid pattern {text!r}: unclosed character class")
            body = text[i:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            regex.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch in _REGEX_SPECIALS or ch == "]":
            regex.append("\\" + ch)
        else:
            regex.append(ch)
    return "".join(regex)


def _class_end(text: str, start: int) -> int:
    """Index of the ``]`` closing a class opened just before ``start``, or -1."""
    i = start + (1 if text[start:start + 1] in ("^", "!") else 0)
    i += 1 if text[i:i + 1] == "]" else 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            return i
        i += 1
    return -1


class DockerIgnore:
    """The compiled patterns of one .dockerignore, in file order."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [compile_pattern(p) for p in patterns if p.strip()]
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> "DockerIgnore":
        return cls(read_patterns(text))

    @classmethod
    def for_context(cls, context: Path, dockerfile: Path | None = None) -> "DockerIgnore":
        """The ignore file Docker would use: ``<Dockerfile>.dockerignore`` first, then the
        context's ``.dockerignore``; none means nothing is ignored."""
        candidates = [context / ".dockerignore"]
        if dockerfile is not None:
            candidates.insert(0, dockerfile.with_name(dockerfile.name + ".dockerignore"))
        for candidate in candidates:
            if candidate.is_file():
                return cls.from_text(candidate.read_text(encoding="utf-8"))
        return cls([])

    def excluded(self, path: str) -> bool:
        """Whether the context-relative slash path ``path`` is left out of the context."""
        path = clean(path)
        parents = posixpath.dirname(path).split("/") if "/" in path else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only an exception can change an excluded path, and vice versa
            match = pattern.matches(path) or any(
                pattern.matches("/".join(parents[:i + 1])) for i in range(len(parents)))
            if match:
                matched = not pattern.exclusion
        return matched

    def walk(self, root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Every entry of the context that is not excluded, as (relative path, entry), sorted.

        An excluded directory is not entered unless some exception could
        re-include something below it.
        """
        yield from self._walk(root, "")

    def _walk(self, directory: Path, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            relative = prefix + entry.name
            excluded = self.excluded(relative)
            if not excluded:
                yield relative, entry
            if entry.is_dir(follow_symlinks=False) and (not excluded or self.has_exceptions):
                yield from self._walk(Path(entry.path), relative + "/")
