"""Slowing down password guessing: failed logins counted per remote address.

After ``attempts`` failures within ``window`` seconds an address is refused
(429 with ``Retry-After``) until its oldest failure is ``window`` old, and
refused *before* its password is checked, so guessing stops costing the
server bcrypt rounds.  A success does not wipe the count: an attacker who
owns one account could otherwise reset it between guesses at another.

The count lives in the worker's memory; with several workers each counts
its own connections, which at worst multiplies the allowance by their number.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

MAX_ADDRESSES = 10_000
"""Addresses remembered at once; the longest idle are forgotten first."""


class LoginThrottle:
    def __init__(self, attempts: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int | None:
        """Whole seconds ``address`` must wait before trying again, or None if it may try now."""
        failures = self._recent(address)
        if len(failures) < self.attempts:
            return None
        return max(1, math.ceil(failures[-self.attempts] + self.window - self.clock()))

    def failed(self, address: str) -> None:
        """Count a failed login from ``address``."""
        failures = self._recent(address)
        failures.append(self.clock())
        self._failures.pop(address, None)  # re-inserted last: the dict is kept in idle order
        self._failures[address] = failures
        while len(self._failures) > MAX_ADDRESSES:
            del self._failures[next(iter(self._failures))]
