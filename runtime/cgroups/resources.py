"""OCI linux.resources, checked once before any cgroup file is written.

Checking up front turns a bad limit into one clear sentence ("memory+swap
limit 64 MiB is below the memory limit 128 MiB") instead of a kernel EINVAL
halfway through setting up, and both hierarchies read the same checked values.
Conventions follow the OCI spec and runc: -1 means unlimited, absent or 0
means "leave as is".
"""

from __future__ import annotations

from .base import CgroupError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MAX_CPU_SHARES = 262144  # the kernel's MAX_SHARES (1 << 18)
MIN_CPU_SHARES = 2


def parse_cpu_list(text: str, what: str = "cpuset") -> set[int]:
    """A kernel list ("0-3,6") as a set of numbers; malformed text is a CgroupError."""
    result: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise CgroupError(f"invalid {what} {text!r}: {part!r} is not a number or range") from None
        if first < 0 or last < first:
            raise CgroupError(f"invalid {what} {text!r}: bad range {part!r}")
        result.update(range(first, last + 1))
    return result


def check_within(requested: str, available: str, what: str) -> None:
    """Refuse a cpuset naming CPUs or memory nodes the parent cgroup cannot use."""
    outside = parse_cpu_list(requested, what) - parse_cpu_list(available, what)
    if outside:
        raise CgroupError(f"{what} {requested!r} is out of range: {sorted(outside)} not in the "
                          f"available {available!r}")


def mib(value: int) -> str:
    """Bytes in the unit people give limits in, for error messages."""
    return f"{value / (1 << 20):g} MiB"


class DeviceRule:
    """One linux.resources.devices entry, as the v1 devices controller spells it."""

    __slots__ = ("allow", "type", "major", "minor", "access")

    def __init__(self, allow: bool, type: str = "a", major: int | None = None,
                 minor: int | None = None, access: str = "rwm") -> None:
        self.allow, self.type, self.major, self.minor, self.access = allow, type, major, minor, access

    @classmethod
    def from_oci(cls, entry: Mapping[str, Any]) -> DeviceRule:
        kind = entry.get("type") or "a"
        access = entry.get("access") or "rwm"
        if kind not in ("a", "b", "c") or not access or set(access) - set("rwm"):
            raise CgroupError(f"invalid device rule {dict(entry)!r}: type must be a, b or c and "
                              "access a combination of r, w, m")
        major, minor = entry.get("major"), entry.get("minor")
        return cls(bool(entry.get("allow")), kind,
                   None if major is None or major < 0 else int(major),
                   None if minor is None or minor < 0 else int(minor), access)

    def __str__(self) -> str:
        """The "c 1:3 rwm" form devices.allow and devices.deny take; None is the wildcard."""
        def number(n: int | None) -> str:
            return "*" if n is None else str(n)
        return f"{self.type} {number(self.major)}:{number(self.minor)} {self.access}"


def _int(section: Mapping[str, Any], key: str, where: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CgroupError(f"linux.resources.{where}.{key} must be an integer, not {value!r}")
    return value


class Resources:
    """The limits Dockyard enforces, validated; None means "not asked for".

    Not enforced, and ignored: blockIO, hugepageLimits, network and rdma.
    """

    __slots__ = ("memory", "memory_swap", "memory_reservation", "memory_swappiness",
                 "cpu_shares", "cpu_quota", "cpu_period", "cpus", "mems", "pids_limit",
                 "devices", "unified")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)
        self.devices: list[DeviceRule] = []
        self.unified: dict[str, str] = {}

    @classmethod
    def from_oci(cls, resources: Mapping[str, Any] | None) -> Resources:
        """Parse and check an OCI linux.resources object (None: no limits)."""
        res = cls()
        resources = resources or {}
        res._memory(resources.get("memory") or {})
        res._cpu(resources.get("cpu") or {})
        pids = _int(resources.get("pids") or {}, "limit", "pids")
        if pids:  # 0 is "unset"; any negative value means "max", as runc reads it
            res.pids_limit = max(pids, -1)
        res.devices = [DeviceRule.from_oci(d) for d in resources.get("devices") or []]
        for key, value in (resources.get("unified") or {}).items():
            if "/" in key or key.startswith(".") or not isinstance(value, str):
                raise CgroupError(f"invalid linux.resources.unified entry {key!r}: {value!r}")
        res.unified = dict(resources.get("unified") or {})
        return res

    def _memory(self, memory: Mapping[str, Any]) -> None:
        limit = _int(memory, "limit", "memory")
        swap = _int(memory, "swap", "memory")
        reservation = _int(memory, "reservation", "memory")
        swappiness = _int(memory, "swappiness", "memory")
        for name, value in (("limit", limit), ("swap", swap), ("reservation", reservation)):
            if value is not None and value < -1:
                raise CgroupError(f"memory {name} {value} is negative (use -1 for unlimited)")
        self.memory = limit or None
        self.memory_swap = swap or None
        self.memory_reservation = reservation or None
        if self.memory_swap is not None and self.memory_swap > 0:
            if self.memory is None or self.memory < 0:
                raise CgroupError("a memory+swap limit needs a memory limit too")
            if self.memory_swap < self.memory:
                raise CgroupError(f"memory+swap limit {mib(self.memory_swap)} is below the "
                                  f"memory limit {mib(self.memory)}")
        if (self.memory_reservation and self.memory_reservation > 0 and self.memory
                and 0 < self.memory < self.memory_reservation):
            raise CgroupError(f"memory reservation {mib(self.memory_reservation)} is above the "
                              f"memory limit {mib(self.memory)}")
        if swappiness is not None and not 0 <= swappiness <= 100:
            raise CgroupError(f"memory swappiness {swappiness} is not within 0-100")
        self.memory_swappiness = swappiness

    def _cpu(self, cpu: Mapping[str, Any]) -> None:
        shares = _int(cpu, "shares", "cpu")
        if shares and not MIN_CPU_SHARES <= shares <= MAX_CPU_SHARES:
            raise CgroupError(f"cpu shares {shares} is not within {MIN_CPU_SHARES}-{MAX_CPU_SHARES}")
        self.cpu_shares = shares or None
        quota = _int(cpu, "quota", "cpu")
        period = _int(cpu, "period", "cpu")
        if quota is not None and 0 < quota < 1000:
            raise CgroupError(f"cpu quota {quota}us is below the kernel's minimum of 1000us")
        if period and not 1000 <= period <= 1_000_000:
            raise CgroupError(f"cpu period {period}us is not within 1000-1000000us")
        self.cpu_quota = (quota if quota > 0 else -1) if quota else None
        self.cpu_period = period or None
        for key in ("cpus", "mems"):
            value = cpu.get(key)
            if value:
                parse_cpu_list(value, f"cpuset {key}")
                setattr(self, key, value)

    def controllers(self) -> set[str]:
        """The controllers these limits need; a host without one of them cannot honour them.

        Device rules are not listed: cgroup v2 has no devices controller, and
        the hierarchies decide for themselves what to do with them.
        """
        needed = set()
        if any(v is not None for v in (self.memory, self.memory_swap, self.memory_reservation,
                                       self.memory_swappiness)):
            needed.add("memory")
        if any(v is not None for v in (self.cpu_shares, self.cpu_quota, self.cpu_period)):
            needed.add("cpu")
        if self.cpus or self.mems:
            needed.add("cpuset")
        if self.pids_limit is not None:
            needed.add("pids")
        return needed
