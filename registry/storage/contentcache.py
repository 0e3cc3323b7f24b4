"""Small files' content kept in memory, valid exactly as long as the file is unchanged.

Manifest requests read a link file (a tag's target, say) every time, because
several worker processes share the storage and a tag moved by one must be
seen by all at once.  The read is a thread hand-off that costs more than the
rest of the request; a ``stat`` proves the cached bytes still current instead.

The filesystem driver never rewrites a file in place (it renames a new file
over it), so a changed file has a new inode or new timestamps.  Timestamps
come from a coarse clock, though, and inode numbers are reused: a file
changed within ``SETTLE`` seconds of being read is not cached, so that two
changes in one clock tick can never pass for none (git's "racy clean" rule).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict

SETTLE = 2.0
"""Seconds a file must have been left alone before its content is cached."""


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ContentCache:
    """An LRU of small files' bytes by local path, each checked against a fresh ``stat``."""

    def __init__(self, capacity: int = 8192, max_size: int = 4096) -> None:
        self.capacity = capacity
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[tuple[int, ...], bytes]] = OrderedDict()

    def get(self, local: str, st: os.stat_result) -> bytes | None:
        """The cached content of ``local`` if ``st`` (just taken) shows the file unchanged."""
        entry = self._entries.get(local)
        if entry is None:
            return None
        if entry[0] != _identity(st):
            del self._entries[local]
            return None
        self._entries.move_to_end(local)
        return entry[1]

    def put(self, local: str, st: os.stat_result, data: bytes) -> None:
        """Remember ``data``, read from the file ``st`` describes (taken on the open file)."""
        if len(data) > self.max_size or len(data) != st.st_size:
            return
        if time.time() - max(st.st_mtime, st.st_ctime) < SETTLE:
            return
        self._entries[local] = (_identity(st), data)
        self._entries.move_to_end(local)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
