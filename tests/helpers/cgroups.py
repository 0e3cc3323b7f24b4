"""The ``dockyard`` parent cgroup that containers share, for tests and benchmarks that run them."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def removing_new_dockyard_parents() -> Iterator[None]:
    """The runtime keeps the parent cgroup ``dockyard`` its containers share (removing
    it would race a concurrent create); this removes, after the block, the ones that
    were not there before it, once empty: never one a live container is in."""
    before = set(glob.glob("/sys/fs/cgroup/*/dockyard"))
    try:
        yield
    finally:
        for parent in set(glob.glob("/sys/fs/cgroup/*/dockyard")) - before:
            try:
                os.rmdir(parent)  # refuses unless empty
            except OSError:
                pass
