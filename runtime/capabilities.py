"""Linux capabilities: Docker's default set, capability names, and applying an
OCI process.capabilities to the calling process just before it execs.

The order is runc's, and it matters: the bounding set is cut first (that needs
CAP_SETPCAP, which the final sets may drop); PR_SET_KEEPCAPS then holds the
permitted set across the switch to a non-root user; capset(2) sets
effective/permitted/inheritable; ambient capabilities are raised last, since
the kernel only allows ambient bits that are already permitted and
inheritable.  Without the bounding cut a root process would regain every
capability at exec, whatever capset said.

runtime.libc is imported with the module, not on first use: the calls run
in the container's child after pivot_root, where the host's Python library
is out of reach.
"""

from __future__ import annotations

import os

from runtime.libc import Structure, byref, c_int, c_uint32, c_ulong, get_errno
from runtime.libc import libc as _libc

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

# Index = capability number (linux/capability.h).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
_NUMBER = {name: number for number, name in enumerate(CAPABILITIES)}

#: What Docker grants a container unless told otherwise (moby's oci/caps defaults).
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

OCI_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class CapabilityError(Exception):
    """A capability name is unknown, or the process cannot take the capabilities asked for."""


def normalize(name: str) -> str:
    """"net_admin", "NET_ADMIN" or "cap_net_admin" as "CAP_NET_ADMIN"; "all" as "ALL"."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    canonical = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if canonical not in _NUMBER:
        raise CapabilityError(f"unknown capability {name!r}")
    return canonical


_last_cap: list[int] = []  # read once: the kernel's answer cannot change under us


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    if not _last_cap:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap.append(min(int(f.read()), len(CAPABILITIES) - 1))
        except OSError:
            _last_cap.append(len(CAPABILITIES) - 1)
    return _last_cap[0]


def all_capabilities() -> list[str]:
    """Every capability this process could hand on: known to the kernel and in our bounding set.

    This is what "ALL" and --privileged mean here: a host that took
    CAP_SYS_RESOURCE away from us cannot give it to a container.
    """
    bounding = status()["bounding"]
    return [name for name in CAPABILITIES[:last_cap() + 1] if name in bounding]


def parse(names: Iterable[str]) -> list[str]:
    """Names in any accepted spelling as canonical ones, "ALL" expanded, duplicates dropped."""
    result: list[str] = []
    for name in names:
        canonical = normalize(name)
        for cap in all_capabilities() if canonical == "ALL" else [canonical]:
            if cap not in result:
                result.append(cap)
    return result


def adjust(base: Iterable[str], add: Iterable[str] = (), drop: Iterable[str] = ()) -> list[str]:
    """--cap-add/--cap-drop as Docker applies them to `base`.

    "ALL" in add grants everything but what drop names; "ALL" in drop starts
    from nothing but what add names; otherwise drop from base, then add.
    """
    adds = [normalize(n) for n in add]
    drops = [normalize(n) for n in drop]
    if "ALL" in adds:
        return [cap for cap in all_capabilities() if cap not in drops]
    if "ALL" in drops:
        return parse(adds)
    return parse([cap for cap in parse(base) if cap not in drops] + adds)


def oci_capabilities(caps: Iterable[str]) -> dict[str, list[str]]:
    """The OCI process.capabilities Docker writes for a root process: no inheritable, no ambient."""
    names = parse(caps)
    return {"bounding": names, "effective": list(names), "permitted": list(names),
            "inheritable": [], "ambient": []}


def _mask(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << _NUMBER[name]
    return mask


def _names(mask: int) -> list[str]:
    return [name for number, name in enumerate(CAPABILITIES) if mask >> number & 1]


def status(pid: int | str = "self") -> dict[str, list[str]]:
    """The capability sets of a process as /proc/<pid>/status shows them, by OCI set name."""
    fields = {"CapBnd": "bounding", "CapEff": "effective", "CapPrm": "permitted",
              "CapInh": "inheritable", "CapAmb": "ambient"}
    result: dict[str, list[str]] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in fields:
                result[fields[key]] = _names(int(value, 16))
    return result


# -- applying them -------------------------------------------------------------



def _call(what: str, function: str, *args: Any) -> int:
    """A libc call whose failure raises CapabilityError saying `what` failed and why."""
    ret = getattr(_libc, function)(*args)
    if ret < 0:
        raise CapabilityError(f"{what}: {os.strerror(get_errno())}")
    return ret


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    """prctl(2), its error message formatted only on failure (a container start makes ~20 calls)."""
    ulong = c_ulong
    ret = _libc.prctl(option, ulong(arg2), ulong(arg3), ulong(0), ulong(0))
    if ret < 0:
        raise CapabilityError(f"prctl({option}, {arg2}): {os.strerror(get_errno())}")
    return ret


def set_no_new_privileges() -> None:
    """PR_SET_NO_NEW_PRIVS: exec can never grant more (setuid bits, file capabilities)."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_keep_caps(keep: bool) -> None:
    """PR_SET_KEEPCAPS: keep the permitted set across setuid() from root to another user."""
    _prctl(PR_SET_KEEPCAPS, int(keep))


def drop_bounding(keep: Iterable[str], bounding: Iterable[str]) -> None:
    """Remove every capability not in `keep` from the bounding set (needs CAP_SETPCAP).
    `bounding` is the set now, as /proc/self/status shows it: dropping only what
    is held saves asking prctl cap by cap, and fails for lack of CAP_SETPCAP
    only when there is something to drop."""
    kept = set(keep)
    for name in bounding:
        if name not in kept:
            _prctl(PR_CAPBSET_DROP, _NUMBER[name])


class _CapHeader(Structure):
    _fields_ = [("version", c_uint32), ("pid", c_int)]


class _CapData(Structure):
    _fields_ = [("effective", c_uint32), ("permitted", c_uint32), ("inheritable", c_uint32)]


def capset(effective: Iterable[str], permitted: Iterable[str], inheritable: Iterable[str]) -> None:
    """capset(2) on this process with the 64-bit (_LINUX_CAPABILITY_VERSION_3) structures."""
    masks = [_mask(effective), _mask(permitted), _mask(inheritable)]
    data = (_CapData * 2)(_CapData(*(m & 0xFFFFFFFF for m in masks)),
                          _CapData(*(m >> 32 for m in masks)))
    _call("capset", "capset", byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), data)


def set_ambient(names: Iterable[str]) -> None:
    """Make the ambient set exactly `names` (each must be permitted and inheritable already)."""
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for name in names:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, _NUMBER[name])


def apply(capabilities: Mapping[str, Iterable[str]] | None,
          switch_user: Callable[[], None] | None = None) -> None:
    """Give this process exactly the OCI process.capabilities, in runc's order; call before exec.

    `switch_user`, if given, changes uid/gid/groups; it runs between the
    bounding cut and capset with PR_SET_KEEPCAPS on, so the permitted set
    survives leaving root.  Names the running kernel does not know are
    skipped (as runc does); a capability this process does not hold itself
    is an error naming it rather than capset's bare EPERM.
    """
    sets = {key: [n for n in parse((capabilities or {}).get(key) or [])
                  if _NUMBER[n] <= last_cap()] for key in OCI_SETS}
    own = status()
    missing = set(sets["permitted"]) - set(own["permitted"])
    if missing:
        raise CapabilityError(f"cannot grant {', '.join(sorted(missing))}: the runtime does not hold "
                              "them itself (not in its permitted set)")
    drop_bounding(sets["bounding"], own["bounding"])
    if switch_user is not None:
        set_keep_caps(True)
        switch_user()
        set_keep_caps(False)
    capset(sets["effective"], sets["permitted"], sets["inheritable"])
    set_ambient(sets["ambient"])
