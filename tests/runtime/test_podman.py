"""podman drives the installed `dockyard-runtime` as it drives runc (`podman --runtime PATH`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers.busybox_image import busybox_layer

from .bundle import have_busybox

RUNTIME = Path(sys.executable).parent / "dockyard-runtime"
# see DESIGN.md, notes on this machine: podman starts containers here only with these
PODMAN_FLAGS = ["--network", "none", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768"]
IMAGE = "localhost/dockyard-runtime-test:latest"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="running containers needs root"),
    pytest.mark.skipif(shutil.which("podman") is None,
                       reason="podman is not installed (apt-get install podman)"),
    pytest.mark.skipif(not RUNTIME.exists(), reason=f"{RUNTIME} is not installed (pip install .)"),
    pytest.mark.skipif(not have_busybox(), reason="busybox-static is not installed"),
]


@pytest.fixture
def podman(tmp_path):
    """podman with its storage under tmp_path (its runroot in a short /tmp directory, as
    podman requires) and a busybox image; everything is removed afterwards."""
    runroot = tempfile.mkdtemp(prefix="pm-")
    base = ["podman", "--root", str(tmp_path / "storage"), "--runroot", runroot,
            "--tmpdir", str(tmp_path / "tmp"), "--runtime", str(RUNTIME)]
    layer = tmp_path / "busybox.tar"
    layer.write_bytes(busybox_layer())
    subprocess.run([*base, "import", str(layer), IMAGE], check=True, capture_output=True)
    try:
        yield base
    finally:
        subprocess.run([*base, "rm", "--all", "--force"], capture_output=True, timeout=60)
        subprocess.run([*base, "rmi", "--all", "--force"], capture_output=True, timeout=60)
        shutil.rmtree(runroot, ignore_errors=True)


def test_podman_run_rm_true(podman):
    result = subprocess.run([*podman, "run", "--rm", *PODMAN_FLAGS, IMAGE, "true"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_podman_run_output_and_exit_code(podman):
    result = subprocess.run([*podman, "run", "--rm", *PODMAN_FLAGS, IMAGE,
                             "sh", "-c", "echo hello; cat /proc/1/cmdline; exit 7"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 7, result.stderr
    assert result.stdout.startswith("hello\nsh\0-c\0")


def test_podman_run_as_a_user_with_a_read_only_root_and_tmpfs_mounts(podman):
    """podman's configuration for -u, --read-only and --tmpfs: a non-root process
    without effective capabilities, and tmpfs mounts with rprivate and runc's
    tmpcopyup option."""
    result = subprocess.run([*podman, "run", "--rm", *PODMAN_FLAGS, "-u", "65534", "--read-only",
                             "--tmpfs", "/data", IMAGE, "sh", "-c",
                             "id -u; touch /tmp/x /run/x /data/x && echo writable; "
                             "touch /x 2>/dev/null || echo read-only"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["65534", "writable", "read-only"]


def test_podman_pause_and_unpause(podman):
    def podman_ok(*args: str) -> str:
        result = subprocess.run([*podman, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    podman_ok("run", "-d", "--name", "paused", *PODMAN_FLAGS, IMAGE, "sleep", "60")
    podman_ok("pause", "paused")
    assert podman_ok("inspect", "--format", "{{.State.Status}}", "paused") == "paused"
    podman_ok("unpause", "paused")
    assert podman_ok("inspect", "--format", "{{.State.Status}}", "paused") == "running"
    podman_ok("rm", "--force", "--time", "0", "paused")


def test_podman_update_changes_a_running_containers_limits(podman):
    def podman_ok(*args: str) -> str:
        result = subprocess.run([*podman, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    podman_ok("run", "-d", "--name", "limited", *PODMAN_FLAGS, "--memory", "64m", IMAGE,
              "sleep", "60")
    podman_ok("update", "--memory", "96m", "--memory-swap", "-1", "--cpu-quota", "30000",
              "limited")
    limits = podman_ok("exec", "limited", "sh", "-c",  # cgroup v1, else v2
                       "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes 2>/dev/null || "
                       "cat memory.max; cat cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 cpu.max")
    assert limits.split() == [str(96 << 20), "30000"]
    podman_ok("rm", "--force", "--time", "0", "limited")
