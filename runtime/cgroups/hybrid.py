"""Hybrid hosts: v1 controllers with a cgroup2 hierarchy beside them.

The container joins both trees, as runc does on such hosts: v1 carries the
controllers mounted there (on most hybrid hosts all of them), the unified
tree carries whatever controllers only it holds, plus freezing when no v1
freezer is mounted.  Each part applies only the limits of its own
controllers, so this class only fans calls out.
"""

from __future__ import annotations

from .base import CgroupManager, CgroupStats
from .v1 import V1Manager
from .v2 import V2Manager

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .resources import Resources


class HybridManager(CgroupManager):
    """The same cgroup path in the v1 hierarchies and in the unified one."""

    supports_unified = True

    def __init__(self, v1: V1Manager, v2: V2Manager) -> None:
        super().__init__(v1.path)
        self.v1, self.v2 = v1, v2
        self.controllers = v1.controllers | v2.controllers
        self._freezer: CgroupManager = v1 if "freezer" in v1.controllers else v2

    def dirs(self) -> list[str]:
        return self.v1.dirs() + self.v2.dirs()

    def _create(self, res: Resources) -> None:
        self.v1._create(res)
        self.v2._create(res)

    def _apply(self, res: Resources) -> None:
        self.v1._apply(res)
        self.v2._apply(res)

    def stats(self) -> CgroupStats:
        return self.v1.stats().merge(self.v2.stats())

    def oom_killed(self) -> bool:
        return self.v1.oom_killed() or self.v2.oom_killed()

    def freeze(self) -> None:
        self._freezer.freeze()

    def thaw(self) -> None:
        self._freezer.thaw()
