"""crun on hybrid cgroup hosts, for tests and benchmarks that compare against it or run on it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def v2_controllers_bound_to_v1() -> Iterator[None]:
    """crun refuses hybrid cgroup hosts ("cgroups in hybrid mode not
    supported") unless the v2 hierarchy's controllers (here hugetlb) are bound
    to v1 hierarchies.  This does that (DESIGN.md, notes on this machine) for
    the block's duration, and undoes it: unmounts, and removes the directory
    if it made it.  Nothing happens on pure v1 or v2 hosts."""
    from runtime.cgroups import detect

    v2 = detect().v2
    made = []
    try:
        for controller in sorted(v2.controllers) if detect().mode == "hybrid" else []:
            target = f"/sys/fs/cgroup/{controller}"
            if not os.path.exists(target):
                os.mkdir(target)
                made.append(("dir", target))
            subprocess.run(["mount", "-t", "cgroup", "-o", controller, "cgroup", target],
                           check=True)
            made.append(("mount", target))
        yield
    finally:
        for kind, target in reversed(made):
            if kind == "mount":
                subprocess.run(["umount", target], check=True)
            else:
                os.rmdir(target)


@pytest.fixture
def crun_on_hybrid_host() -> Iterator[None]:
    """For the test's duration: see ``v2_controllers_bound_to_v1``."""
    with v2_controllers_bound_to_v1():
        yield
