"""What every benchmark needs: free ports, servers it owns by PID, HTTP calls, medians, tables.

Benchmarks run on a small shared machine next to their load generators, so this
module keeps the harness itself cheap and predictable: plain ``http.client`` for
set-up calls, subprocesses started in their own session so that they (and any
workers they fork) can be ended by the PID we got back, and medians rather than
means because one noisy run must not move the result.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout carries only the result table."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def missing_tools(*names: str) -> list[str]:
    """The named executables that are not on PATH (absolute paths are checked as files)."""
    return [name for name in names if shutil.which(name) is None]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants (Linux /proc).

    Servers share the cores with the load generator and with whatever else runs,
    so requests per second swing from run to run; the server's CPU per request
    hardly does, which makes it the steadier figure for comparing two servers.
    """
    total, pending = 0.0, [pid]
    while pending:
        proc = Path("/proc", str(pending.pop()))
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
            for task in (proc / "task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited meanwhile
    return total


def with_cpu(pid: int, action: Callable[[], T]) -> tuple[T, float]:
    """``action()``'s result and the CPU seconds that process tree ``pid`` spent meanwhile."""
    before = tree_cpu_seconds(pid)
    result = action()
    return result, tree_cpu_seconds(pid) - before


def clean_env() -> dict[str, str]:
    """This process's environment without ``REGISTRY_*`` overrides.

    Both distribution and Dockyard read ``REGISTRY_*`` variables over their config
    file; a stray one in the caller's shell would silently change what is measured.
    """
    return {key: value for key, value in os.environ.items() if not key.startswith("REGISTRY_")}


# --- HTTP -------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def http_request(method: str, url: str, body: bytes | IO[bytes] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float = 300) -> Response:
    """One request on a fresh connection; a file ``body`` is streamed in 1 MiB blocks.

    Set-up calls only: measured traffic comes from curl, wrk and skopeo, which are
    faster than anything written in Python and so never become the bottleneck.
    """
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                      blocksize=1 << 20)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def expect(resp: Response, status: int, what: str) -> Response:
    """Fail loudly with the server's own words when a set-up call does not succeed."""
    if resp.status != status:
        detail = resp.body[:500].decode("utf-8", "replace")
        raise RuntimeError(f"{what}: expected HTTP {status}, got {resp.status}: {detail}")
    return resp


# --- processes --------------------------------------------------------------------------


def run(argv: Sequence[str], *, timeout: float = 1800, **kwargs) -> str:
    """Run a command to completion and return its stdout; a failure carries its stderr."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout


def timed_run(argv: Sequence[str], **kwargs) -> float:
    """Wall-clock seconds for one command run to completion."""
    start = time.perf_counter()
    run(argv, **kwargs)
    return time.perf_counter() - start


@dataclass
class Server:
    """An HTTP server process this benchmark started and therefore may end.

    It runs in its own session so that the PID we hold is also its process group:
    a server with worker processes is asked to stop with SIGTERM on that PID, and
    only if it does not finish in time is its own group killed.
    """

    name: str
    argv: list[str]
    port: int
    log_path: Path
    cwd: Path = REPO_ROOT
    ready_path: str = "/v2/"
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def start(self, timeout: float = 30) -> "Server":
        with open(self.log_path, "ab") as logfile:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=clean_env(),
                                         stdin=subprocess.DEVNULL, stdout=logfile,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        log(f"started {self.name} (pid {self.pid}) on {self.base_url}")
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start:\n"
                                   f"{self.log_tail()}")
            try:
                if http_request("GET", self.base_url + self.ready_path, timeout=2).status < 500:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM by PID, then SIGKILL to the server's own process group if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {timeout}s; killing its group")
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- results ----------------------------------------------------------------------------


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the numbers right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(cell) for cell in cells)
        return "  ".join([first.ljust(widths[0]),
                          *(cell.rjust(width) for cell, width in zip(rest, widths[1:]))])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
