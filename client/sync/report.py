"""What a sync did, counted as it goes, and the summary line a cron mail or journal shows."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..formatting import human_size


@dataclass
class SyncReport:
    tags_copied: int = 0
    tags_current: int = 0  # the destination had the tag at the same digest already
    manifests_copied: int = 0
    manifests_skipped: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str, err: BaseException) -> None:
        """Record a failure and say it at once, on one line of stderr."""
        line = f"{what}: {' '.join(str(err).split()) or type(err).__name__}"
        self.failures.append(line)
        print(f"Error: {line}", file=sys.stderr, flush=True)

    def summary(self) -> str:
        tags = self.tags_copied + self.tags_current
        failed = f", {len(self.failures)} failed" if self.failures else ""
        return (f"Synced {tags} tag{'s' * (tags != 1)} ({self.tags_copied} copied, "
                f"{self.tags_current} up to date{failed}): manifests {self.manifests_copied} "
                f"copied, {self.manifests_skipped} skipped; blobs {self.blobs_copied} copied "
                f"({human_size(self.bytes_copied)}), {self.blobs_mounted} mounted, "
                f"{self.blobs_skipped} skipped")
