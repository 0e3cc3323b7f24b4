"""cgroup v1: one directory per mounted hierarchy, each controller with its own files.

The process joins every mounted v1 hierarchy (as runc does), so that all of
its accounting follows the container, while limits go to the controllers
that carry them.  v1 quirks handled here: a new cpuset cgroup starts with no
CPUs and must inherit its parent's before a task may join; memory+swap must
never be set below memory, so the two are written in whichever order keeps
that true; OOM kills are counted in memory.oom_control (kernels >= 4.13).
"""

from __future__ import annotations

import os

from .base import (CgroupError, CgroupManager, CgroupStats, read_file, read_int, read_keyed,
                   wait_until, write_file)
from .layout import cgroup_dir, own_cgroups
from .resources import check_within, mib

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .layout import Mount
    from .resources import Resources


class V1Manager(CgroupManager):
    """A container's cgroup across the v1 hierarchies in `mounts` (controller -> mount)."""

    def __init__(self, path: str, mounts: dict[str, Mount], own: dict[str, str] | None = None) -> None:
        super().__init__(path)
        if own is None:
            own = {} if path.startswith("/") else own_cgroups()
        self._dir = {name: cgroup_dir(mount, path, own.get(name, "/"))
                     for name, mount in mounts.items()}
        self._mounts = mounts
        self.controllers = frozenset(mounts)

    def dirs(self) -> list[str]:
        return sorted(set(self._dir.values()))

    def file(self, controller: str, name: str) -> str:
        """Path of a controller's file in this cgroup, e.g. file("memory", "memory.limit_in_bytes")."""
        return os.path.join(self._dir[controller], name)

    def _create(self, res: Resources) -> None:
        for directory in self.dirs():
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:
                raise CgroupError(f"cannot create cgroup {directory}: {e.strerror}") from None
        if "cpuset" in self._dir:
            self._inherit_cpuset()

    def _inherit_cpuset(self) -> None:
        """Copy cpus/mems down from the nearest ancestor that has them into each empty level."""
        top = self._mounts["cpuset"].mountpoint.rstrip("/")
        levels = [self._dir["cpuset"]]
        while levels[-1] != top:
            levels.append(os.path.dirname(levels[-1]))
        for name in ("cpuset.cpus", "cpuset.mems"):
            value = ""
            for level in reversed(levels):
                current = read_file(os.path.join(level, name))
                if current:
                    value = current
                else:
                    write_file(os.path.join(level, name), value)

    def _apply(self, res: Resources) -> None:
        """Write the limits of the controllers mounted here (on hybrid hosts, v2 has the rest)."""
        if "memory" in self._dir:
            self._set_memory(res)
        if "cpu" in self._dir:
            self._set_cpu(res)
        if "cpuset" in self._dir:
            for key in ("cpus", "mems"):
                value = getattr(res, key)
                if value:
                    parent = os.path.dirname(self._dir["cpuset"])
                    available = (read_file(os.path.join(parent, f"cpuset.effective_{key}"))
                                 or read_file(os.path.join(parent, f"cpuset.{key}")) or "")
                    check_within(value, available, f"cpuset {key}")
                    write_file(self.file("cpuset", f"cpuset.{key}"), value)
        if res.pids_limit is not None and "pids" in self._dir:
            write_file(self.file("pids", "pids.max"), "max" if res.pids_limit < 0 else res.pids_limit)
        if "devices" in self._dir:
            for rule in res.devices:
                target = "devices.allow" if rule.allow else "devices.deny"
                write_file(self.file("devices", target), str(rule))

    def _set_cpu(self, res: Resources) -> None:
        if res.cpu_shares is not None:
            write_file(self.file("cpu", "cpu.shares"), res.cpu_shares)
        if res.cpu_period is not None:  # period first: the quota is checked against it
            write_file(self.file("cpu", "cpu.cfs_period_us"), res.cpu_period)
        if res.cpu_quota is not None:
            write_file(self.file("cpu", "cpu.cfs_quota_us"), res.cpu_quota)

    def _set_memory(self, res: Resources) -> None:
        if res.memory is not None:
            self._check_usage(res.memory)
        limit_file = self.file("memory", "memory.limit_in_bytes")
        if res.memory_swap is not None:
            swap_file = self.file("memory", "memory.memsw.limit_in_bytes")
            current = read_int(swap_file)
            if current is None:
                raise CgroupError("a memory+swap limit was asked for, but this kernel has no swap "
                                  "accounting (memory.memsw.limit_in_bytes is missing)")
            # memsw may never drop below memory: raise memsw first, lower it last.
            raising = res.memory_swap == -1 or current != -1 and res.memory_swap > current
            if raising:
                write_file(swap_file, res.memory_swap)
            if res.memory is not None:
                write_file(limit_file, res.memory)
            if not raising:
                write_file(swap_file, res.memory_swap)
        elif res.memory is not None:
            write_file(limit_file, res.memory)
        if res.memory_reservation is not None:
            write_file(self.file("memory", "memory.soft_limit_in_bytes"), res.memory_reservation)
        if res.memory_swappiness is not None:
            write_file(self.file("memory", "memory.swappiness"), res.memory_swappiness)

    def _check_usage(self, limit: int) -> None:
        usage = read_int(self.file("memory", "memory.usage_in_bytes"))
        if limit > 0 and usage and usage > limit and self.pids():
            raise CgroupError(f"memory limit {mib(limit)} is below the current usage {mib(usage)} "
                              f"of cgroup {self.path}")

    def stats(self) -> CgroupStats:
        values: dict[str, int | None] = {}
        if "memory" in self._dir:
            values.update(
                memory_usage=read_int(self.file("memory", "memory.usage_in_bytes")),
                memory_max_usage=read_int(self.file("memory", "memory.max_usage_in_bytes")),
                memory_limit=read_int(self.file("memory", "memory.limit_in_bytes")),
                oom_kills=self._oom_kills())
        if "pids" in self._dir:
            values.update(pids_current=read_int(self.file("pids", "pids.current")),
                          pids_limit=read_int(self.file("pids", "pids.max")))
        if "cpuacct" in self._dir:
            values["cpu_usage_ns"] = read_int(self.file("cpuacct", "cpuacct.usage"))
        return CgroupStats(**values)

    def oom_killed(self) -> bool:
        """One file read, not stats(): `dockyard run` asks this after every container."""
        return "memory" in self._dir and bool(self._oom_kills())

    def _oom_kills(self) -> int | None:
        """OOM kills in this cgroup; kernels before 4.13 only say under_oom, counted as one."""
        control = read_keyed(self.file("memory", "memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"]
        return control.get("under_oom")

    def freeze(self) -> None:
        self._set_freezer("FROZEN")

    def thaw(self) -> None:
        self._set_freezer("THAWED")

    def _set_freezer(self, state: str) -> None:
        if "freezer" not in self._dir:
            raise CgroupError("the freezer cgroup controller is not mounted")
        path = self.file("freezer", "freezer.state")

        def settled() -> bool:
            # A task in an uninterruptible sleep can stall FREEZING; asking again retries it.
            if read_file(path) == state:
                return True
            write_file(path, state)
            return read_file(path) == state

        write_file(path, state)
        wait_until(settled, 5.0, f"{path} to read {state}")
