"""Naming a process for good, and waiting for one that is not our child.

A pid alone is ambiguous once its process is gone (pids are reused), so a
record keeps {pid, start time in ticks since boot, boot ID}: the same three
again mean the same process.  A record from an earlier boot names nothing
that is still alive.  Waiting uses a pidfd, which works for any process, and
wakes the moment it exits.
"""

from __future__ import annotations

import os
import select

from runtime.state import process_start_time

_boot_id: str | None = None


def boot_id() -> str:
    global _boot_id
    if _boot_id is None:
        with open("/proc/sys/kernel/random/boot_id") as f:
            _boot_id = f.read().strip()
    return _boot_id


def identity(pid: int) -> dict:
    """What names process ``pid`` for good (as long as it is alive now)."""
    return {"Pid": pid, "Start": process_start_time(pid), "Boot": boot_id()}


def alive(ident: dict | None) -> bool:
    """Whether the process ``ident`` names is still running (a zombie counts as gone)."""
    if not ident or ident.get("Boot") != boot_id():
        return False
    start = process_start_time(ident["Pid"])
    return start is not None and start == ident.get("Start")


def wait_gone(ident: dict | None, timeout: float | None = None) -> bool:
    """Wait until the process has exited (or ``timeout`` seconds passed); True once it is gone."""
    if not alive(ident):
        return True
    assert ident is not None
    try:
        pidfd = os.pidfd_open(ident["Pid"])
    except ProcessLookupError:
        return True
    try:
        if not alive(ident):  # the pid was reused between the check and the open
            return True
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready) or not alive(ident)
    finally:
        os.close(pidfd)
