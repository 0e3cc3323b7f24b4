"""Dockyard as a real server process (``python -m registry serve CONFIG``) for tests that must
see what users run (config, workers, signals, logs), kill it, restart it on the same storage,
or measure its memory.  The in-process fixtures cannot: a SIGKILL has to hit a process of its
own, and peak RSS is only meaningful for one that does nothing but serve.

    from tests.registry.server_process import run_registry

    def test_something(tmp_path):
        with run_registry(tmp_path, workers=2, config={"http": {"draintimeout": "5s"}}) as server:
            urllib.request.urlopen(server.url + "/v2/")
            server.kill()          # SIGKILL, workers included: a crash
            server.start()         # same port, same storage: a restart
            assert "GET /v2/" in server.output()

or the ``registry_server`` fixture (one worker, started, over ``tmp_path``).
The server gets a config file in its work directory with its storage at
``root``, a free 127.0.0.1 port, delete enabled, whatever ``config`` adds
(merged key by key), and an environment without
``REGISTRY_*`` variables (they would override the config).  It runs in its
own session, so its PID is also its process group and killing that kills its
workers too.  Output (log lines, one access line per request) goes to
``log_path``, never a pipe that could fill up and stall the server.  Leaving
the ``with`` block stops it (SIGTERM, then SIGKILL if it hangs).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.common import LOOPBACK, REPO_ROOT, clean_env, free_port

def _merged(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it, mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (worker processes), from /proc."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            pending.extend(int(child) for child in task.read_text().split())
    return found


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class RegistryProcess:
    """A Dockyard server over filesystem storage at ``root``, on a free port of 127.0.0.1.

    ``config`` is laid over the defaults (distribution's keys).  ``start`` may
    be called again after ``kill`` or ``stop``: a restart on the same storage
    and port.
    """

    def __init__(self, root: Path, workdir: Path, *, workers: int = 1,
                 config: Mapping[str, Any] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.log_path = workdir / "server.log"
        settings = _merged({
            "version": "0.1",
            "log": {"level": "info"},
            "http": {"addr": f"{LOOPBACK}:{self.port}"},
            "storage": {"filesystem": {"rootdirectory": str(root)},
                        "delete": {"enabled": True}},
            "dockyard": {"workers": workers},
        }, config or {})
        self.config_path = workdir / "config.yml"
        self.config_path.write_text(yaml.safe_dump(settings))
        scheme = "https" if "tls" in settings["http"] else "http"
        self.url = f"{scheme}://{LOOPBACK}:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "registry", "serve", str(self.config_path)],
                cwd=REPO_ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        unverified = ssl._create_unverified_context()  # readiness only; tests check certificates
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=unverified):
                    return
            except urllib.error.HTTPError:
                return  # an answer, if only "401: authenticate first", means it serves
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server not ready (exit status {self.process.returncode}):\n"
                           + self.output()[-4000:])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if the server hangs: a graceful shutdown; the exit status."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return None if self.process is None else self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the server and its workers (its own process group): a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        """Everything the server has logged so far, restarts included."""
        return self.log_path.read_text(errors="replace")

    def peak_rss(self) -> int:
        """The largest peak resident set size (VmHWM) of the server's processes, in bytes."""
        return max(_peak_rss(pid) for pid in _process_tree(self.pid))

    def __enter__(self) -> "RegistryProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_registry(workdir: Path, *, workers: int = 1,
                 config: Mapping[str, Any] | None = None) -> RegistryProcess:
    """A server over ``workdir/storage``, started by entering it as a context manager."""
    return RegistryProcess(workdir / "storage", workdir, workers=workers, config=config)


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[RegistryProcess]:
    """A started one-worker server over ``tmp_path/storage``, stopped after the test."""
    with run_registry(tmp_path) as server:
        yield server
