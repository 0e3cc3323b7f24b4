"""Starting a container's init inside a user namespace, as runc does.

Every other namespace of the container must be *owned* by its user
namespace (mounting /proc needs privilege over the PID namespace, sysfs over
the network one, and so on), so the user namespace has to exist before they
are made, and the PID namespace before the init is forked into it.  A
process cannot unshare its own PID namespace, and the runtime itself must
not enter the user namespace (it would lose its privileges on the host, and
a multi-threaded process may not anyway).  Hence one intermediate process:

    runtime                     intermediate                 init
      fork ──────────────────▶  unshare(CLONE_NEWUSER)
                                "userns" ─▶ runtime writes uid_map/gid_map
                                ◀─ "mapped"; setresuid/gid(0)
                                unshare(CLONE_NEWPID), fork ───▶ PID 1
                                "pid N", exit                    waits for "go"
      reaps it; the init is reparented to the runtime (a child subreaper),
      which then goes on as without a user namespace: cgroup, "go", ...

Joining an existing user namespace (a path in the config) skips the maps.
"""

from __future__ import annotations

import _signal as signal  # the signal module's ints, without its enum import (start-up time)
import os

from runtime import namespaces
from runtime import syscalls as sc
from runtime.process import Channel, child_main, expect

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable


def fork_init(ns: dict[str, str | None], linux: dict, ours: Channel, theirs: Channel,
              body: Callable[..., None], *args: object) -> int:
    """Start body(theirs, *args) as the init inside the user namespace; returns its pid
    (our child by then).  `ours` stays open for the caller, `theirs` is the caller's to close."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # the init, orphaned by the intermediate, comes to us
    intermediate = os.fork()
    if intermediate == 0:
        ours.close()
        child_main(_intermediate_main, theirs, ns, body, args)
    try:
        kind, text = ours.recv()
        if kind == "userns":
            write_mappings(intermediate, linux)
            ours.send("mapped")
            kind, text = ours.recv()
        if kind != "pid":
            raise RuntimeError(text or "the user namespace's intermediate process exited")
        return int(text)
    finally:
        os.waitpid(intermediate, 0)


def write_mappings(pid: int, linux: dict) -> None:
    """The config's uidMappings and gidMappings into /proc/<pid>/{uid,gid}_map."""
    for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                        for m in linux.get(key) or [])
        if not lines:
            continue
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(lines)
        except OSError as e:
            raise OSError(e.errno, f"linux.{key}: cannot write {name}: {e.strerror}") from None


def host_root(linux: dict) -> tuple[int, int]:
    """The host uid and gid that the user namespace's root maps to (0, 0 if unmapped)."""
    def host_id(mappings: list[dict]) -> int:
        for m in mappings or []:
            if m["containerID"] <= 0 < m["containerID"] + m["size"]:
                return m["hostID"] - m["containerID"]
        return 0
    return host_id(linux.get("uidMappings")), host_id(linux.get("gidMappings"))


def _intermediate_main(chan: Channel, ns: dict[str, str | None], body: Callable[..., None],
                       args: tuple) -> None:
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # a runtime killed now takes us along
    if ns["user"]:
        fd = os.open(ns["user"], os.O_RDONLY | os.O_CLOEXEC)
        sc.setns(fd, sc.CLONE_NEWUSER)
        os.close(fd)
    else:
        sc.unshare(sc.CLONE_NEWUSER)
        chan.send("userns")
        expect(chan, "mapped")
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as e:
        raise OSError(e.errno, f"cannot become root in the user namespace (is 0 mapped?): "
                               f"{e.strerror}") from None
    pid = namespaces.fork_into_pid_namespace(ns.get("pid"), "pid" in ns and not ns["pid"],
                                             restore=False)
    if pid == 0:
        child_main(body, chan, *args)
    chan.send("pid", str(pid))
