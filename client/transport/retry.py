"""How long to wait before trying a request again.

Registries shed load with 429/503 and sometimes say when to come back
(``Retry-After``); connections get reset mid-transfer. Both are worth a few
more tries, spaced out exponentially with jitter so parallel layer downloads
do not retry in lockstep, and bounded so a broken registry fails in seconds,
not hours.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# 501 and 505 are answers, not hiccups: trying again cannot change them.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5           # tries in all, the first included
    base_delay: float = 0.5     # seconds before the first retry; doubles each time
    max_delay: float = 10.0
    max_retry_after: float = 60.0  # never wait longer than this, whatever the server says

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after)
        backoff = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return backoff * random.uniform(0.5, 1.0)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
