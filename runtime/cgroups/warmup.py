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
main thread imports and reads the bundle.  (On cgroup v2 hosts with
`favordynmods`, or with CLONE_INTO_CGROUP, there is no wait to hide; the
write is then merely harmless.)  Best effort: any failure is ignored.
"""

from __future__ import annotations

import _thread
import os


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


def _touch() -> None:
    try:
        path = own_procs_file()
        if path is not None:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")  # "0" is the writer itself
            finally:
                os.close(fd)
    except Exception:  # an optimisation only: the real write reports real problems
        pass


def start() -> None:
    """Begin the no-op cgroup move in a background thread and return at once."""
    _thread.start_new_thread(_touch, ())
