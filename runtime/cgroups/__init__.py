"""cgroups for containers on v1, v2 and hybrid hosts, chosen from what the host mounts.

    manager = open_manager(cgroups_path(container_id, spec["linux"].get("cgroupsPath")))
    manager.create(spec["linux"].get("resources"))   # limits written, nothing inside yet
    manager.add(child_pid)                           # before the child execs
    ...
    manager.oom_killed()                             # after exit, before destroy
    manager.kill_all(); manager.destroy()

Only the cgroup filesystem is used (no systemd).  Implementations are
imported on first use, so importing this package costs next to nothing.
"""

from __future__ import annotations

from .base import CgroupError, CgroupManager, CgroupStats
from .layout import Layout, detect

__all__ = ["CgroupError", "CgroupManager", "CgroupStats", "Layout", "cgroups_path", "detect",
           "open_manager"]

DEFAULT_PARENT = "dockyard"


def cgroups_path(container_id: str, configured: str | None = None) -> str:
    """The OCI cgroupsPath to use: the configured one, else /dockyard/<id>.

    systemd's "slice:prefix:name" form is refused: there is no systemd driver.
    """
    if configured:
        if ":" in configured:
            raise CgroupError(f"cgroupsPath {configured!r} is in systemd's slice:prefix:name form; "
                              "only the cgroupfs driver is supported")
        return configured
    return f"/{DEFAULT_PARENT}/{container_id}"


def open_manager(path: str, layout: Layout | None = None) -> CgroupManager:
    """The manager for cgroupsPath `path` on this host (or on `layout`), without creating anything."""
    layout = layout or detect()
    mode = layout.mode
    if mode == "v2":
        from .v2 import V2Manager

        assert layout.v2 is not None
        return V2Manager(path, layout.v2)
    from .v1 import V1Manager

    v1 = V1Manager(path, layout.v1)
    if mode == "v1":
        return v1
    from .hybrid import HybridManager
    from .v2 import V2Manager

    assert layout.v2 is not None
    return HybridManager(v1, V2Manager(path, layout.v2, layout.v2.controllers - set(layout.v1),
                                       devices="devices" not in layout.v1))
