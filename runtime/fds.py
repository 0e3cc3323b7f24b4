"""Which file descriptors a container's process inherits: runc's rules.

Only stdin, stdout and stderr by default.  A runtime started by systemd
socket activation (LISTEN_FDS and LISTEN_PID naming this process) passes its
listening sockets on as fds 3.. and says so in the container's environment
(LISTEN_FDS=N, LISTEN_PID=1); `--preserve-fds N` passes the N descriptors
after those.  Everything else the runtime inherited (a shell's or a
supervisor's stray descriptors) is closed at exec, so nothing of the host
leaks into the container by accident.
"""

from __future__ import annotations

import os

STDIO = 3


def listen_fds() -> int:
    """How many socket-activation descriptors this process was given (0 when the
    variables are absent or meant for another process)."""
    count, pid = os.environ.get("LISTEN_FDS", ""), os.environ.get("LISTEN_PID", "")
    if not count.isdigit() or pid != str(os.getpid()):
        return 0
    return int(count)


def count(extra: int) -> int:
    """The number of descriptors the container keeps: stdio and `extra` more."""
    if extra < 0:
        raise ValueError("the number of descriptors to preserve cannot be negative")
    return STDIO + extra


def keep_only(keep: int) -> None:
    """Make descriptors 0..keep-1 survive exec and every other one close at exec.

    Read from /proc/self/fd, so call it while /proc is the host's (before
    pivot_root).  The runtime's own descriptors are close-on-exec already.
    """
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.set_inheritable(fd, fd < keep)
        except OSError:  # the directory's own descriptor, closed by now
            pass
