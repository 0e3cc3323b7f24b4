"""What to sync: repositories, the tags of each, and where they go.

A job copies one source repository into one destination repository: one
tag (or digest), the tags matching shell-style patterns, or every tag.  Jobs
come from the command line (``dockyard sync SRC DST``) or from a YAML file
listing many, so that cron or a systemd timer can keep a mirror current::

    destination: registry.example.com:5000/dockerhub   # default: <this>/<source repository>
    concurrency: 4                                      # blobs in flight
    repositories:
      - source: docker.io/library/alpine
        tags: ["3.20", "3.20.*", "latest"]
      - source: docker.io/library/busybox               # no tags: every tag
      - source: ghcr.io/org/tool
        destination: registry.example.com:5000/tools/tool
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ocispec.reference import InvalidReference, Reference

from ..errors import DockyardError

DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True)
class SyncJob:
    """Copy ``source`` to ``destination``.

    ``patterns`` None: just the source's own tag or digest (the destination
    may rename the tag).  Otherwise the source's tags matching any pattern
    (``()`` matches every tag), each under the same tag at the destination.
    """

    source: Reference
    destination: Reference
    patterns: tuple[str, ...] | None = None

    def select(self, tags: Iterable[str]) -> list[str]:
        """The tags of the source repository this job copies, sorted."""
        assert self.patterns is not None
        return sorted(tag for tag in tags
                      if not self.patterns or any(fnmatchcase(tag, p) for p in self.patterns))

    def describe(self) -> str:
        return f"{self.source.name} -> {self.destination.name}"


@dataclass(frozen=True)
class SyncPlan:
    jobs: tuple[SyncJob, ...]
    concurrency: int = DEFAULT_CONCURRENCY


def job_from_args(source: str, destination: str, patterns: Sequence[str] = (),
                  all_tags: bool = False) -> SyncJob:
    """The job of ``dockyard sync SRC[:TAG] DST[:TAG] [--tags GLOB]... [--all-tags]``."""
    many = all_tags or bool(patterns)
    src = _reference(source, "source", default_tag=not many)
    dst = _reference(destination, "destination", default_tag=False)
    if dst.digest is not None:
        raise DockyardError(f"destination {destination!r}: a digest is not a place to copy to")
    if many:
        if src.tag or src.digest:
            raise DockyardError("a source tag or digest can't be used with --tags or --all-tags")
        if dst.tag:
            raise DockyardError("a destination tag can't be used with --tags or --all-tags")
        return SyncJob(src, dst, () if all_tags else tuple(patterns))
    if dst.tag is None and src.tag is not None:
        dst = dst.with_tag(src.tag)
    return SyncJob(src, dst)


def load_plan(path: Path) -> SyncPlan:
    """Read a sync file (see the module's docstring); mistakes name the entry."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DockyardError(f"cannot read {path}: {' '.join(str(err).split())}") from None
    try:
        return _plan(doc if doc is not None else {})
    except DockyardError as err:
        raise DockyardError(f"{path}: {err}") from None


def _plan(doc: Any) -> SyncPlan:
    if not isinstance(doc, Mapping):
        raise DockyardError("expected a mapping with 'repositories'")
    unknown = set(doc) - {"destination", "concurrency", "repositories"}
    if unknown:
        raise DockyardError(f"unknown key: {sorted(unknown)[0]}")
    concurrency = doc.get("concurrency", DEFAULT_CONCURRENCY)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise DockyardError("concurrency: expected a whole number of at least 1")
    entries = doc.get("repositories")
    if not isinstance(entries, list) or not entries:
        raise DockyardError("repositories: expected a list of {source, destination, tags}")
    default = doc.get("destination")
    if default is not None and not isinstance(default, str):
        raise DockyardError("destination: expected REGISTRY[/NAMESPACE]")
    return SyncPlan(tuple(_job(n, entry, default) for n, entry in enumerate(entries)),
                    concurrency)


def _job(number: int, entry: Any, default: str | None) -> SyncJob:
    where = f"repositories[{number}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("source"), str):
        raise DockyardError(f"{where}: expected a mapping with a 'source'")
    unknown = set(entry) - {"source", "destination", "tags"}
    if unknown:
        raise DockyardError(f"{where}: unknown key: {sorted(unknown)[0]}")
    source = _reference(entry["source"], f"{where}.source", default_tag=False)
    if source.tag or source.digest:
        raise DockyardError(f"{where}.source: name a repository; list its tags under 'tags'")
    destination = entry.get("destination")
    if destination is None:
        if default is None:
            raise DockyardError(f"{where}: no destination, and no top-level one")
        destination = f"{default.rstrip('/')}/{source.repository}"
    if not isinstance(destination, str):
        raise DockyardError(f"{where}.destination: expected REGISTRY/REPOSITORY")
    target = _reference(destination, f"{where}.destination", default_tag=False)
    if target.tag or target.digest:
        raise DockyardError(f"{where}.destination: name a repository, without a tag")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise DockyardError(f"{where}.tags: expected a list of tags or patterns ('3.*')")
    return SyncJob(source, target, tuple(tags))


def _reference(text: str, what: str, *, default_tag: bool) -> Reference:
    try:
        return Reference.parse(text, default_tag=default_tag)
    except InvalidReference as err:
        raise DockyardError(f"{what}: {err}") from None
