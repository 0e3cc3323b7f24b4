"""Fixtures for tests that run real containers: a shared busybox rootfs and a
`runtime` helper whose state root lives under the test's tmp_path.

Every container a test creates goes through the helper, which deletes it
(force) at teardown and then checks that nothing is left: no state
directory, no cgroup, no process.  Container ids are unique per test run,
so the cgroups (/dockyard/<id>) never collide with anything else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runtime import engine, state
from runtime.cgroups import cgroups_path, open_manager

from .bundle import INSTALL_HINT, have_busybox, make_bundle, make_rootfs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("running containers needs root (namespaces, mounts, cgroups)")
    if not have_busybox():
        pytest.skip(INSTALL_HINT)
    return make_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


class RuntimeHelper:
    """Bundles, container ids and `dockyard-runtime` invocations for one test."""

    def __init__(self, tmp_path: Path, rootfs: Path) -> None:
        self.tmp = tmp_path
        self.rootfs = rootfs
        self.root = str(tmp_path / "state")
        self.ids: list[str] = []

    def new_id(self) -> str:
        container_id = f"dytest-{uuid.uuid4().hex[:12]}"
        self.ids.append(container_id)
        return container_id

    def bundle(self, args: list[str], edit=None) -> Path:
        return make_bundle(self.tmp / f"bundle-{uuid.uuid4().hex[:8]}", args, rootfs=self.rootfs, edit=edit)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "runtime", "--root", self.root, *args]

    def cli(self, *args: str, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.command(*args), text=True, timeout=timeout, cwd=REPO, **kwargs)

    def cli_leaving_container(self, *args: str) -> subprocess.CompletedProcess:
        """For create and run -d: the container inherits stdout/stderr and keeps
        them open, so they go to files (captured pipes would never see EOF)."""
        out, err = self.tmp / f"out-{uuid.uuid4().hex[:8]}", self.tmp / f"err-{uuid.uuid4().hex[:8]}"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            result = self.cli(*args, capture_output=False, stdout=stdout, stderr=stderr)
        result.stdout, result.stderr = out.read_text(), err.read_text()
        return result

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), text=True, cwd=REPO, **kwargs)

    def run(self, args: list[str], edit=None) -> subprocess.CompletedProcess:
        """`dockyard-runtime run` of a fresh bundle; output captured."""
        return self.cli("run", "-b", str(self.bundle(args, edit)), self.new_id())

    def cleanup(self) -> list[str]:
        """Delete every container; return what was still left afterwards."""
        left = []
        for container_id in self.ids:
            try:
                engine.delete(container_id, self.root, force=True)
            except state.StateError:
                pass
            if os.path.exists(os.path.join(self.root, container_id)):
                left.append(f"state directory of {container_id}")
            if open_manager(cgroups_path(container_id)).exists():
                left.append(f"cgroup of {container_id}")
        return left


@pytest.fixture
def runtime(tmp_path, busybox_rootfs) -> RuntimeHelper:
    helper = RuntimeHelper(tmp_path, busybox_rootfs)
    yield helper
    assert helper.cleanup() == []
