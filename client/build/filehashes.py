"""Content hashes of context files, remembered from one build to the next.

A cached rebuild must still know that COPY's sources are unchanged, and
reading a large context again for that is most of what such a rebuild costs
(50 MB is about a tenth of a second). As BuildKit does, a file's hash is
reused while what stat says of it is unchanged: size, modification and
change times in nanoseconds, inode. Any write to a file changes its
change time, so a hash is never reused for other content. The table is one
JSON file in the build cache, replaced atomically; losing it costs a re-read.
Saving keeps, of one context's files, only those this build looked at, so
deleted and ignored files do not pile up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..fsutil import write_atomic


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class FileHashes:
    def __init__(self, path: Path, context: Path) -> None:
        """The table at ``path``, for a build of the context directory ``context``."""
        self.path = path
        self.prefix = str(context) + "/"
        try:
            self.entries: dict[str, list] = json.loads(path.read_bytes())
        except (OSError, ValueError):
            self.entries = {}
        self.seen: set[str] = set()
        self.changed = False

    def get(self, file: Path, st: os.stat_result) -> str | None:
        """The hash recorded for ``file`` if it still is as ``st`` says, else None."""
        self.seen.add(str(file))
        entry = self.entries.get(str(file))
        return entry[1] if entry and entry[0] == _signature(st) else None

    def put(self, file: Path, st: os.stat_result, digest: str) -> None:
        self.entries[str(file)] = [_signature(st), digest]
        self.changed = True

    def save(self) -> None:
        kept = {name: entry for name, entry in self.entries.items()
                if name in self.seen or not name.startswith(self.prefix)}
        if self.changed or len(kept) != len(self.entries):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(kept).encode())
            self.entries, self.changed = kept, False
