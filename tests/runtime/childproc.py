"""Forked children for tests, so process-wide changes (capabilities, seccomp,
rlimits, cgroup membership) never touch the test process itself.

A child waits on a pipe until the parent's `setup(pid)` has run (putting it
into a cgroup, say), then runs its function and sends back the JSON result.
Leaving the `Child` context kills it by PID if it is still running and reaps
it, whatever the test did.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any


def _run(fn: Callable[[], Any], go: int, result: int) -> None:
    code = 1
    try:
        os.read(go, 1)
        try:
            payload = {"value": fn()}
            code = 0
        except BaseException as e:  # reported to the parent, never raised into pytest's copy
            payload = {"error": f"{type(e).__name__}: {e}"}
        os.write(result, json.dumps(payload).encode())
    finally:
        os._exit(code)


class Child:
    """fn() running in a forked child once setup(pid) has run in the parent."""

    def __init__(self, fn: Callable[[], Any], setup: Callable[[int], None] | None = None) -> None:
        self.fn, self.setup = fn, setup
        self.pid = 0
        self.status: int | None = None
        self.value: Any = None
        self.error: str | None = None

    def __enter__(self) -> Child:
        go_r, go_w = os.pipe()
        res_r, self._result = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(go_w)
            os.close(res_r)
            _run(self.fn, go_r, self._result)
        os.close(go_r)
        os.close(self._result)
        self._result = res_r
        try:
            if self.setup is not None:
                self.setup(self.pid)
            os.write(go_w, b"x")
        except BaseException:
            self.__exit__()
            raise
        finally:
            os.close(go_w)
        return self

    def wait(self, timeout: float = 60.0) -> Child:
        """Wait for the child to end and collect its result (wait status, value or error)."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            ready, _, _ = select.select([self._result], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"child {self.pid} did not finish within {timeout}s")
            chunk = os.read(self._result, 65536)
            if not chunk:
                break
            data += chunk
        _, self.status = os.waitpid(self.pid, 0)
        payload = json.loads(data) if data else {}
        self.value, self.error = payload.get("value"), payload.get("error")
        return self

    @property
    def killed_by(self) -> int | None:
        assert self.status is not None, "wait() first"
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    def unwrap(self) -> Any:
        """fn's result; a child that failed or died fails the test with what happened."""
        assert self.status is not None, "wait() first"
        assert self.error is None and os.WIFEXITED(self.status), (
            f"child failed: {self.error or f'wait status {self.status:#x}'}")
        return self.value

    def __exit__(self, *exc: object) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, self.status = os.waitpid(self.pid, 0)
        os.close(self._result)


def run_in_child(fn: Callable[[], Any], setup: Callable[[int], None] | None = None,
                 timeout: float = 60.0) -> Child:
    """Run fn() in a forked child to completion; see Child for setup."""
    with Child(fn, setup) as child:
        return child.wait(timeout)


def sleep_after(work: Callable[[], Any] | None = None) -> Callable[[], None]:
    """A child body that does `work` (keeping what it returns alive), then sleeps until killed."""
    def body() -> None:
        kept = work() if work is not None else None  # noqa: F841 - held while sleeping
        while True:
            time.sleep(60)
    return body
