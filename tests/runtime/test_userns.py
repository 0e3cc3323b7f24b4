"""Containers in a user namespace (linux.namespaces "user" with uid/gid mappings), as runc
runs them: root inside is an unprivileged host uid, every other namespace belongs to the
user namespace, exec joins it."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from .bundle import make_bundle, make_rootfs

HOST_BASE = 100000
MAPPING = [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]


def mapped(config: dict) -> None:
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = MAPPING
    config["linux"]["gidMappings"] = MAPPING


@pytest.fixture(scope="module")
def reachable_rootfs(busybox_rootfs):
    """A rootfs the mapped root can reach: pytest's tmp directories are 0700 and owned by
    the host's root, which is nobody inside the user namespace."""
    top = Path(tempfile.mkdtemp(prefix="dockyard-userns-"))
    top.chmod(0o755)
    try:
        yield make_rootfs(top / "rootfs")
    finally:
        shutil.rmtree(top)


def _run(runtime, rootfs, args, edit=mapped):
    bundle = make_bundle(runtime.tmp / f"bundle-{uuid.uuid4().hex[:8]}", args, rootfs=rootfs,
                         edit=edit)
    return runtime.cli("run", "-b", str(bundle), runtime.new_id())


def _host_ids(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return fields["Uid"].split()[0], fields["Gid"].split()[0]


def test_root_inside_is_a_mapped_host_uid(runtime, reachable_rootfs) -> None:
    result = _run(runtime, reachable_rootfs,
                  ["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
                               "echo $$; ls /proc | grep -c '^[0-9]'"])
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[:5] == [["0"], ["0"], ["0", str(HOST_BASE), "65536"],
                         ["0", str(HOST_BASE), "65536"], ["1"]]  # PID 1 of its own namespace
    assert 1 <= int(lines[5][0]) <= 3  # /proc mounted for it: sh, ls, grep at most


def test_init_runs_as_the_host_uid_and_exec_joins_the_namespace(runtime, reachable_rootfs) -> None:
    def user_1000(config: dict) -> None:
        mapped(config)
        config["process"]["user"] = {"uid": 1000, "gid": 1000}
    container_id = runtime.new_id()
    bundle = make_bundle(runtime.tmp / "bundle", ["sleep", "60"], rootfs=reachable_rootfs,
                         edit=user_1000)
    assert runtime.cli_leaving_container("create", "-b", str(bundle), container_id).returncode == 0
    pid = json.loads(runtime.cli("state", container_id).stdout)["pid"]
    assert _host_ids(pid) == (str(HOST_BASE + 1000), str(HOST_BASE + 1000))
    assert runtime.cli("start", container_id).returncode == 0
    result = runtime.cli("exec", "-u", "0:0", container_id,
                         "sh", "-c", "id -u; cat /proc/self/uid_map; ps -o user,comm | grep sleep")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0", str(HOST_BASE), "65536", "1000", "sleep"]
    assert runtime.cli("delete", "--force", container_id).returncode == 0


def test_devices_are_the_hosts_bound_in(runtime, reachable_rootfs) -> None:
    result = _run(runtime, reachable_rootfs,
                  ["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4"]
