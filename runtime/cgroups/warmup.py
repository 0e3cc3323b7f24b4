"""Pay the cgroup attach lock's RCU grace period while the runtime is still starting.

Every write to a cgroup.procs file (v1 or v2) takes the kernel's global
cgroup_threadgroup_rwsem for writing.  It is a per-CPU rwsem: the first
writer after a quiet spell waits for an RCU grace period (about 10 ms on
this kind of host), and writers that follow within the next grace period or
so do not.  A runtime's one unavoidable write, moving the container's init
into its cgroup, would pay that wait in full on the start path.

`start` instead writes this process's own pid into the cgroup it is already
in, from a thread, as soon as the command line says a container is coming:
a no-op move that takes the lock, so the grace period elapses while the
main thread imports and reads the bundle.  The thread repeats the write
every few milliseconds (then without waiting: the lock is warm) until
`stop`, called once the container is in its cgroup, or a time limit, so a
slow preparation cannot let the lock go cold again.  A write that waits out
the grace period holds cgroup_mutex meanwhile and holds back every fork on
the host (they take the lock for reading), so it must come before the
runtime forks or makes the cgroup, never between: hence the launcher's
write while Python starts (bin/dockyard), the thread's first write at
once, and a period shorter than the shortest grace period seen here.  (On
cgroup v2 hosts with `favordynmods` there is no wait to hide; the writes are
then merely harmless.)  Best effort: any failure is ignored.
"""

from __future__ import annotations

import _thread
import os
import time

KEEP_WARM_EVERY = 0.002  # seconds: well inside the lock's warm window (an RCU grace period)
GIVE_UP_AFTER = 0.5  # seconds: a start that takes longer does not need these milliseconds

_flag: list[bool] = []  # the running thread's flag, shared with it: stop() empties it


def own_procs_file() -> str | None:
    """cgroup.procs of this process's own cgroup in one mounted hierarchy (v2 preferred)."""
    from .layout import detect, own_cgroups

    layout = detect()
    own = own_cgroups()
    candidates = [(layout.v2, own.get(""))] if layout.v2 is not None else []
    candidates += [(mount, own.get(name)) for name, mount in sorted(layout.v1.items())]
    for mount, path in candidates:
        if path is None or not path.startswith(mount.root):
            continue
        relative = path[len(mount.root):].strip("/") if mount.root != "/" else path.strip("/")
        return "/".join(p for p in (mount.mountpoint.rstrip("/"), relative, "cgroup.procs") if p)
    return None


def _keep_warm(path: str, flag: list[bool]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            deadline = time.monotonic() + GIVE_UP_AFTER
            while flag and time.monotonic() < deadline:
                os.write(fd, b"0")  # "0" is the writer itself
                time.sleep(KEEP_WARM_EVERY)
        finally:
            os.close(fd)
    except Exception:  # an optimisation only: the real write reports real problems
        pass


def start() -> None:
    """Begin keeping the cgroup attach lock warm, in a background thread; returns at once.
    A second call while one is running does nothing."""
    global _flag
    if _flag:
        return
    # Found here, not in the thread: an import there would hold the import lock that
    # the main thread's fork takes.
    try:
        path = own_procs_file()
    except Exception:  # an optimisation only
        return
    if path is None:
        return
    _flag = [True]
    _thread.start_new_thread(_keep_warm, (path, _flag))


def stop() -> None:
    """The container is in its cgroup: let the thread end (harmless if none runs)."""
    _flag.clear()
