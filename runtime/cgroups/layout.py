"""Which cgroup hierarchies this host mounts, read from /proc/self/mountinfo.

Hosts come in three shapes: pure v2 (/sys/fs/cgroup is a cgroup2 mount), pure
v1 (one cgroup mount per controller or group of co-mounted controllers) and
hybrid (v1 controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified,
holding whatever controllers no v1 hierarchy took).  Nothing is assumed from
paths: the mount table says what is mounted where, and the v2 hierarchy's
cgroup.controllers says which controllers it can actually use.
"""

from __future__ import annotations

from .base import CgroupError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable

# Controllers a v1 mount can carry; other super options (rw, name=systemd,
# clone_children, ...) are flags, not controllers.
V1_CONTROLLERS = frozenset({
    "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory",
    "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma",
})


class Mount:
    """One cgroup filesystem mount: where it is, which cgroup it shows as its top, what it controls."""

    __slots__ = ("mountpoint", "root", "controllers")

    def __init__(self, mountpoint: str, root: str, controllers: frozenset[str]) -> None:
        self.mountpoint = mountpoint
        # Not "/" when the mount shows a sub-tree (cgroup namespace, bind mount):
        # own cgroup paths from /proc/self/cgroup must then be taken relative to it.
        self.root = root
        self.controllers = controllers

    def __repr__(self) -> str:
        return f"Mount({self.mountpoint!r}, root={self.root!r}, {sorted(self.controllers)})"


class Layout:
    """The cgroup hierarchies of this host: v1 mounts by controller, and the v2 mount if any."""

    __slots__ = ("v1", "v2")

    def __init__(self, v1: dict[str, Mount], v2: Mount | None) -> None:
        self.v1 = v1
        self.v2 = v2

    @property
    def mode(self) -> str:
        """"v2", "v1" or "hybrid" (v1 controllers with a cgroup2 hierarchy beside them)."""
        if self.v1 and self.v2 is not None:
            return "hybrid"
        if self.v2 is not None:
            return "v2"
        if self.v1:
            return "v1"
        raise CgroupError("no cgroup filesystem is mounted (nothing of type cgroup or cgroup2 "
                          "in /proc/self/mountinfo)")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")


def _read_v2_controllers(mountpoint: str) -> frozenset[str]:
    try:
        with open(f"{mountpoint}/cgroup.controllers") as f:
            return frozenset(f.read().split())
    except OSError:
        return frozenset()


def parse_mountinfo(text: str,
                    v2_controllers: Callable[[str], frozenset[str]] = _read_v2_controllers) -> Layout:
    """Build the Layout from mountinfo text; v2_controllers(mountpoint) reads cgroup.controllers.

    The reader is a parameter so that pure-v1, pure-v2 and hybrid tables can be
    checked on any machine.  A cgroup2 mount at /sys/fs/cgroup wins over others
    (containers sometimes see several); otherwise the first one counts.
    """
    v1: dict[str, Mount] = {}
    v2_candidates: list[tuple[str, str]] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        if sep < 6 or len(fields) < sep + 4:
            continue
        fstype, super_options = fields[sep + 1], fields[sep + 3]
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            v2_candidates.append((mountpoint, root))
        elif fstype == "cgroup":
            controllers = V1_CONTROLLERS.intersection(super_options.split(","))
            mount = Mount(mountpoint, root, frozenset(controllers))
            for name in controllers:
                v1.setdefault(name, mount)
    v2 = None
    if v2_candidates:
        mountpoint, root = next((c for c in v2_candidates if c[0] == "/sys/fs/cgroup"),
                                v2_candidates[0])
        v2 = Mount(mountpoint, root, v2_controllers(mountpoint))
    return Layout(v1, v2)


_detected: Layout | None = None


def detect() -> Layout:
    """This process's cgroup layout, read once per process (mounts do not change under a runtime)."""
    global _detected
    if _detected is None:
        with open("/proc/self/mountinfo") as f:
            _detected = parse_mountinfo(f.read())
    return _detected


def own_cgroups(text: str | None = None) -> dict[str, str]:
    """This process's cgroup per v1 controller, and under "" its v2 cgroup (/proc/self/cgroup)."""
    if text is None:
        with open("/proc/self/cgroup") as f:
            text = f.read()
    result: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            result[name] = path
    return result


def cgroup_dir(mount: Mount, path: str, own: str) -> str:
    """The directory of cgroup `path` on `mount`, as runc resolves an OCI cgroupsPath.

    An absolute path is taken from the top of the hierarchy as mounted; a
    relative one is taken from this process's own cgroup `own` (as listed in
    /proc/self/cgroup, so relative to the mount's root).
    """
    if not path.startswith("/"):
        if mount.root != "/" and own.startswith(mount.root):
            own = own[len(mount.root):]
        path = f"{own.rstrip('/')}/{path}"
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise CgroupError(f"cgroupsPath {path!r} must not contain '.' or '..'")
    return "/".join([mount.mountpoint.rstrip("/"), *parts])
