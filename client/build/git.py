"""``ADD <git URL> DEST``: a repository's tree at a ref, as BuildKit's git source.

A source is a git URL when BuildKit takes it for one: ``git://``, ``git@``,
``ssh://`` and ``github.com/`` prefixes, or an http(s) URL whose path ends
in ``.git``. The fragment picks what to take: ``#REF``, ``#REF:SUBDIR`` or
``#:SUBDIR`` (REF defaults to the remote's HEAD). The ref is resolved to a
commit with ``git ls-remote`` before the step, so the commit, not the
branch name, is the step's cache key: a push to the branch invalidates it.
The tree is then fetched with the ``git`` command (any transport it speaks,
dumb HTTP included) and checked out at exactly that commit; its ``.git``
directory is dropped unless ``--keep-git-dir``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import DockyardError

_HTTP_GIT = re.compile(r"^https?://.*\.git(?:#.*)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def is_git_url(source: str) -> bool:
    return source.startswith(("git://", "git@", "ssh://", "github.com/")) or \
        _HTTP_GIT.match(source) is not None


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str       # "" for the remote's HEAD
    subdir: str    # "" for the whole tree

    @classmethod
    def parse(cls, source: str) -> "GitSource":
        url, _, fragment = source.partition("#")
        ref, _, subdir = fragment.partition(":")
        if url.startswith("github.com/"):
            url = "https://" + url
        return cls(url, ref, subdir.strip("/"))


async def resolve(source: GitSource) -> str:
    """The commit ``source.ref`` names on the remote now."""
    if _COMMIT.match(source.ref):
        return source.ref
    wanted = source.ref or "HEAD"
    listing = await _git("ls-remote", source.url, wanted)
    refs = dict(reversed(line.split("\t", 1)) for line in listing.splitlines() if "\t" in line)
    for name in (wanted, f"refs/tags/{wanted}^{{}}", f"refs/tags/{wanted}",
                 f"refs/heads/{wanted}"):
        if name in refs:
            return refs[name]
    raise DockyardError(f"ADD {source.url}: no ref {wanted!r} in the repository")


async def checkout(source: GitSource, commit: str, into: Path, keep_git_dir: bool) -> Path:
    """Clone into ``into`` at ``commit``; returns the directory ADD copies (the subdir)."""
    await _git("clone", "--quiet", "--no-checkout", source.url, str(into))
    await _git("-C", str(into), "checkout", "--quiet", "--detach", commit)
    if (into / ".gitmodules").exists():
        await _git("-C", str(into), "submodule", "update", "--quiet", "--init", "--recursive")
    if not keep_git_dir:
        await asyncio.to_thread(shutil.rmtree, into / ".git")
    tree = into / source.subdir if source.subdir else into
    if not tree.is_dir():
        raise DockyardError(f"ADD {source.url}: no directory {source.subdir!r} at {commit}")
    return tree


async def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise DockyardError("ADD from a git repository needs git (apt-get install git)")
    process = await asyncio.create_subprocess_exec(
        git, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        reason = message[-1] if message else f"exit status {process.returncode}"
        raise DockyardError(f"git {args[0]} failed: {reason}")
    return out.decode(errors="replace")
