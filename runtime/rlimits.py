"""OCI process.rlimits: applied as asked, and never silently beyond what is permitted.

Raising a hard limit needs CAP_SYS_RESOURCE, which some hosts (this project's
CI among them) do not give even to root; there the kernel answers a bare
EPERM.  Checking first lets the error name the limit, the value asked for
and the ceiling, the way a user can act on it ("ask for nofile=20000:20000").
Limits are applied only when the config lists them: an absent rlimit keeps
what the runtime inherited.
"""

from __future__ import annotations

import resource

from .capabilities import status

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

#: OCI's "unlimited": RLIM_INFINITY as the spec's uint64.
UNLIMITED = (1 << 64) - 1

LIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}


class RlimitError(Exception):
    """An rlimit is unknown, malformed, or beyond what this process may set."""


def _to_kernel(value: int) -> int:
    """OCI's uint64 (or -1) as Python's resource value; the top half of uint64 is unlimited."""
    return resource.RLIM_INFINITY if value < 0 or value >= 1 << 63 else value


def _show(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def _above(value: int, ceiling: int) -> bool:
    if ceiling == resource.RLIM_INFINITY:
        return False
    return value == resource.RLIM_INFINITY or value > ceiling


def can_raise_hard_limits() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE in its effective set."""
    return "CAP_SYS_RESOURCE" in status()["effective"]


def apply(rlimits: Iterable[Mapping[str, Any]] | None, pid: int = 0) -> None:
    """Set each OCI rlimit ({"type", "soft", "hard"}) on process `pid` (0: this one).

    Checks every entry before changing any, so a refused limit leaves the
    process as it was.
    """
    privileged = None
    planned = []
    for entry in rlimits or []:
        name = entry.get("type", "")
        if name not in LIMITS:
            raise RlimitError(f"unknown rlimit {name!r}")
        try:
            soft, hard = _to_kernel(int(entry["soft"])), _to_kernel(int(entry["hard"]))
        except (KeyError, TypeError, ValueError):
            raise RlimitError(f"{name} needs integer soft and hard values, "
                              f"not {dict(entry)!r}") from None
        if _above(soft, hard):
            raise RlimitError(f"{name}: soft limit {_show(soft)} is above the hard limit "
                              f"{_show(hard)}")
        current_hard = resource.prlimit(pid, LIMITS[name])[1]
        if _above(hard, current_hard):
            if privileged is None:
                privileged = can_raise_hard_limits()
            if not privileged:
                raise RlimitError(f"cannot raise {name} to {_show(hard)}: the hard limit is "
                                  f"{_show(current_hard)} and raising it needs CAP_SYS_RESOURCE, "
                                  "which this process lacks")
        planned.append((name, soft, hard))
    for name, soft, hard in planned:
        try:
            resource.prlimit(pid, LIMITS[name], (soft, hard))
        except (OSError, ValueError) as e:
            raise RlimitError(f"cannot set {name} to {_show(soft)}:{_show(hard)}: {e}") from None


def parse_ulimit(text: str) -> dict[str, Any]:
    """Docker's --ulimit NAME=SOFT[:HARD] (-1: unlimited) as an OCI rlimit entry."""
    name, sep, values = text.partition("=")
    kind = f"RLIMIT_{name.strip().upper()}"
    if not sep or kind not in LIMITS:
        raise RlimitError(f"invalid ulimit {text!r}: expected NAME=SOFT[:HARD] with a known NAME")
    soft_text, _, hard_text = values.partition(":")
    try:
        soft, hard = int(soft_text), int(hard_text or soft_text)
    except ValueError:
        raise RlimitError(f"invalid ulimit {text!r}: limits must be integers") from None
    soft, hard = (UNLIMITED if v < 0 else v for v in (soft, hard))
    if soft > hard:
        raise RlimitError(f"invalid ulimit {text!r}: soft limit above hard limit")
    return {"type": kind, "soft": soft, "hard": hard}
