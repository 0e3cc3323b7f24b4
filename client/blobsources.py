"""Where blobs came from and went to: the repositories of each registry known to hold them.

A push can skip uploading a layer that its registry already holds in another
repository by asking to mount it from there (a cross-repository mount), but
the registry must be told which repository to mount from.  Like Docker's
distribution metadata, this records for each blob the repositories it was
pulled from or pushed to, per registry, and push offers the most recent ones.

The record is a hint: a wrong entry costs one refused mount, after which the
blob is uploaded.  It lives in ``<root>/blobsources.json``, replaced atomically
under a lock, with a few repositories per blob.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ocispec.digest import Digest

from .fsutil import locked, write_atomic

# Repositories remembered per blob and registry, the most recent first.
MAX_REPOSITORIES = 4
FILE_NAME = "blobsources.json"


class BlobSources:
    """Blocking; call from a worker thread in async code."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / FILE_NAME
        self._lock = Path(root) / (FILE_NAME + ".lock")

    def repositories(self, registry: str, digest: Digest) -> list[str]:
        """The repositories of ``registry`` known to hold ``digest``, the most recent first."""
        return list(self._read().get(registry, {}).get(str(digest), []))

    def record(self, registry: str, repository: str, digests: Iterable[Digest]) -> None:
        """Remember that ``repository`` of ``registry`` holds each of ``digests``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self._lock):
            document = self._read()
            known = document.setdefault(registry, {})
            for digest in digests:
                others = [r for r in known.get(str(digest), []) if r != repository]
                known[str(digest)] = [repository, *others][:MAX_REPOSITORIES]
            write_atomic(self.path, json.dumps(document, separators=(",", ":")).encode())

    def _read(self) -> dict[str, dict[str, list[str]]]:
        try:
            document = json.loads(self.path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}  # a hint only: a damaged record is started afresh
        return document if isinstance(document, dict) else {}
