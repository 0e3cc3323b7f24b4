"""Namespaces: creating them for a container's init, joining them for exec.

The PID namespace is the odd one: unshare(CLONE_NEWPID) or setns() on a PID
namespace moves only the caller's *future children*.  `fork_into_pid_namespace`
uses that: it switches the calling thread's pid_for_children, forks (the child
is PID 1 of a new namespace, or a member of the joined one) and switches
straight back.  So the container's init is a direct child of the runtime
process, which can wait for it, and a library caller's own namespaces are
untouched afterwards (pid_for_children is per thread; other threads never
notice).
"""

from __future__ import annotations

import os

from runtime import syscalls as sc

FLAGS = {
    "pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
    "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "user": sc.CLONE_NEWUSER,
    "cgroup": sc.CLONE_NEWCGROUP,
}

# spec type -> name under /proc/<pid>/ns/; user first: joining it grants the
# capabilities the other setns calls need inside a user-namespaced container
PROC_NAMES = {"user": "user", "pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts",
              "cgroup": "cgroup", "mount": "mnt"}


def fork_into_pid_namespace(path: str | None, new: bool, restore: bool = True) -> int:
    """os.fork() with the child in the PID namespace at path, or in a new one
    (new=True), or in the caller's (neither).  Returns what os.fork returns.
    restore=False leaves the caller's later children there too (for a
    process about to exit, which may lack the privilege to switch back)."""
    if not new and path is None:
        return os.fork()
    if not restore:
        if path is None:
            sc.unshare(sc.CLONE_NEWPID)
        else:
            _setns_path(path, sc.CLONE_NEWPID)
        return os.fork()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    pid = -1
    try:
        if path is None:
            sc.unshare(sc.CLONE_NEWPID)
        else:
            _setns_path(path, sc.CLONE_NEWPID)
        pid = os.fork()
    finally:
        if pid != 0:
            sc.setns(own, sc.CLONE_NEWPID)
        os.close(own)
    return pid


def enter(namespaces: dict[str, str | None], but: tuple[str, ...] = ()) -> None:
    """In the container's init: join the namespaces given by path, create the
    rest with one unshare, leaving out the kinds in `but`.  pid was handled by
    the fork; user by the caller."""
    flags = 0
    for kind, path in namespaces.items():
        if kind in ("pid", "user") or kind in but:
            continue
        if path:
            _setns_path(path, FLAGS[kind])
        else:
            flags |= FLAGS[kind]
    if flags:
        sc.unshare(flags)


def open_process_namespaces(pid: int) -> list[tuple[int, int]]:
    """(fd, CLONE_NEW* flag) for each of pid's namespaces that differs from
    ours, opened up front: after joining the mount namespace /proc/<pid> may
    no longer resolve."""
    fds = []
    for kind, name in PROC_NAMES.items():
        theirs = f"/proc/{pid}/ns/{name}"
        if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
            continue
        fds.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), FLAGS[kind]))
    return fds


def join(fds: list[tuple[int, int]]) -> None:
    """setns into each namespace from open_process_namespaces, closing the fds.
    The PID namespace only takes effect for children, so exec's caller has
    already forked into it; here it is skipped."""
    for fd, flag in fds:
        if flag != sc.CLONE_NEWPID:
            sc.setns(fd, flag)
        os.close(fd)


def _setns_path(path: str, flag: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, flag)
    finally:
        os.close(fd)
