"""cgroup v2: one unified tree, controllers switched on level by level.

A controller's files appear in a cgroup only once its parent lists the
controller in cgroup.subtree_control, so creating a cgroup means enabling
what it needs on every ancestor from the top down.  Limits that OCI states
in v1 terms are converted as runc converts them: cpu.shares to cpu.weight,
memory+swap to swap alone.  OOM kills are counted in memory.events.
Device rules, for which v2 has no controller, become an eBPF program
attached to the cgroup (see .devices_bpf).
"""

from __future__ import annotations

import os
import _signal as signal  # the signal module's ints, without its enum import (start-up time)

from .base import (CgroupError, CgroupManager, CgroupStats, read_file, read_int, read_keyed,
                   wait_until, write_file)
from .layout import cgroup_dir, own_cgroups
from .resources import MAX_CPU_SHARES, check_within, mib

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .layout import Mount
    from .resources import Resources

# Controllers whose limits or statistics Dockyard uses, so worth enabling.
MANAGED = frozenset({"cpu", "cpuset", "memory", "pids"})


def cpu_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) as cpu.weight (1..10000, default 100).

    The curve current runc and crun use: a quadratic in log2(shares) through
    the minimum, the maximum and 1024 -> 100, so the default share maps to the
    default weight (the older linear formula turned 1024 into 39).
    """
    import math  # a shared library to load: only when a CPU share is asked for

    if shares <= 2:
        return 1
    if shares >= MAX_CPU_SHARES:
        return 10000
    exponent = math.log2(shares)
    return math.ceil(10 ** ((exponent * exponent + 125 * exponent) / 612.0 - 7.0 / 34.0))


def swap_max(memory: int | None, memory_swap: int) -> int:
    """OCI's memory+swap total as v2's swap-only memory.swap.max (-1: unlimited)."""
    if memory_swap == -1:
        return -1
    return memory_swap - (memory or 0)


class V2Manager(CgroupManager):
    """A container's cgroup in the unified hierarchy `mount`.

    `controllers` is what this manager may enable and limit: on a pure v2 host
    everything the hierarchy offers, on a hybrid host only the controllers no
    v1 hierarchy holds.  `devices` says whether device rules are enforced
    here (not on hybrid hosts whose v1 devices controller does it).
    """

    supports_unified = True

    def __init__(self, path: str, mount: Mount, controllers: frozenset[str] | None = None,
                 own: str | None = None, devices: bool = True) -> None:
        super().__init__(path)
        self.devices = devices
        if own is None:
            own = "/" if path.startswith("/") else own_cgroups().get("", "/")
        self._mount = mount
        self._dir = cgroup_dir(mount, path, own)
        available = mount.controllers if controllers is None else controllers
        self.controllers = frozenset(available & MANAGED)

    def dirs(self) -> list[str]:
        return [self._dir]

    def file(self, name: str) -> str:
        return os.path.join(self._dir, name)

    def _create(self, res: Resources) -> None:
        """mkdir level by level, enabling the controllers on each ancestor first."""
        needed = res.controllers() & self.controllers
        top = self._mount.mountpoint.rstrip("/")
        level = top
        for part in self._dir[len(top):].strip("/").split("/"):
            self._enable(level, needed)
            level = f"{level}/{part}"
            try:
                os.mkdir(level)
            except FileExistsError:
                pass
            except OSError as e:
                raise CgroupError(f"cannot create cgroup {level}: {e.strerror}") from None

    def _enable(self, level: str, needed: set[str]) -> None:
        """Enable our controllers below `level`; only a failure for a needed one is an error.

        Statistics controllers are a bonus: a parent that cannot enable them
        (it holds processes itself, say) must not stop a container that asked
        for no limit there.
        """
        available = set((read_file(f"{level}/cgroup.controllers") or "").split())
        enabled = set((read_file(f"{level}/cgroup.subtree_control") or "").split())
        for name in sorted((self.controllers & available) - enabled):
            try:
                write_file(f"{level}/cgroup.subtree_control", f"+{name}")
            except CgroupError:
                if name in needed:
                    raise
        missing = needed - available
        if missing:
            raise CgroupError(f"controller(s) {', '.join(sorted(missing))} not available in "
                              f"{level} (cgroup.controllers)")

    def _apply(self, res: Resources) -> None:
        """Write the limits of the controllers this manager holds, then any raw unified files."""
        if "memory" in self.controllers:
            self._set_memory(res)
        if "cpu" in self.controllers:
            if res.cpu_shares is not None:
                write_file(self.file("cpu.weight"), cpu_weight(res.cpu_shares))
            if res.cpu_quota is not None or res.cpu_period is not None:
                quota = res.cpu_quota if res.cpu_quota and res.cpu_quota > 0 else "max"
                write_file(self.file("cpu.max"), f"{quota} {res.cpu_period or 100000}")
        if "cpuset" in self.controllers:
            for key in ("cpus", "mems"):
                value = getattr(res, key)
                if value:
                    parent = os.path.dirname(self._dir)
                    check_within(value, read_file(f"{parent}/cpuset.{key}.effective") or "",
                                 f"cpuset {key}")
                    write_file(self.file(f"cpuset.{key}"), value)
        if res.pids_limit is not None and "pids" in self.controllers:
            write_file(self.file("pids.max"), "max" if res.pids_limit < 0 else res.pids_limit)
        if res.devices and self.devices:
            from .devices_bpf import attach

            attach(self._dir, res.devices)
        for key, value in res.unified.items():
            if not os.path.exists(self.file(key)):
                raise CgroupError(f"linux.resources.unified: {key} does not exist in {self._dir} "
                                  "(is its controller available?)")
            write_file(self.file(key), value)

    def _set_memory(self, res: Resources) -> None:
        if res.memory is not None and res.memory > 0:
            usage = read_int(self.file("memory.current"))
            if usage and usage > res.memory and self.pids():
                raise CgroupError(f"memory limit {mib(res.memory)} is below the current usage "
                                  f"{mib(usage)} of cgroup {self.path}")
        if res.memory_swap is not None:
            if not os.path.exists(self.file("memory.swap.max")):
                raise CgroupError("a memory+swap limit was asked for, but this kernel has no swap "
                                  "accounting (memory.swap.max is missing)")
            value = swap_max(res.memory, res.memory_swap)
            write_file(self.file("memory.swap.max"), "max" if value < 0 else value)
        if res.memory is not None:
            write_file(self.file("memory.max"), "max" if res.memory < 0 else res.memory)
        if res.memory_reservation is not None:
            write_file(self.file("memory.low"),
                       "max" if res.memory_reservation < 0 else res.memory_reservation)

    def stats(self) -> CgroupStats:
        values: dict[str, int | None] = {}
        if "memory" in self.controllers:
            values.update(memory_usage=read_int(self.file("memory.current")),
                          memory_max_usage=read_int(self.file("memory.peak")),
                          memory_limit=read_int(self.file("memory.max")),
                          oom_kills=read_keyed(self.file("memory.events")).get("oom_kill"))
        if "pids" in self.controllers:
            values.update(pids_current=read_int(self.file("pids.current")),
                          pids_limit=read_int(self.file("pids.max")))
        usage_usec = read_keyed(self.file("cpu.stat")).get("usage_usec")  # core file, always there
        if usage_usec is not None:
            values["cpu_usage_ns"] = usage_usec * 1000
        return CgroupStats(**values)

    def oom_killed(self) -> bool:
        """One file read, not stats(): `dockyard run` asks this after every container."""
        return ("memory" in self.controllers
                and bool(read_keyed(self.file("memory.events")).get("oom_kill")))

    def freeze(self) -> None:
        self._set_frozen(1)

    def thaw(self) -> None:
        self._set_frozen(0)

    def _set_frozen(self, frozen: int) -> None:
        if not os.path.exists(self.file("cgroup.freeze")):
            raise CgroupError("this kernel cannot freeze cgroup v2 (no cgroup.freeze, Linux < 5.2)")
        write_file(self.file("cgroup.freeze"), frozen)
        wait_until(lambda: read_keyed(self.file("cgroup.events")).get("frozen") == frozen, 5.0,
                   f"{self._dir} to become {'frozen' if frozen else 'thawed'}")

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL through cgroup.kill (Linux >= 5.14), which no fork can race; else signal each."""
        if sig == signal.SIGKILL and os.path.exists(self.file("cgroup.kill")):
            write_file(self.file("cgroup.kill"), 1)
        else:
            super().kill_all(sig)
