"""cgroup managers: layout detection, limit checks, and real cgroups on this host's hierarchies.

Detection and limit parsing run anywhere.  The rest creates real cgroups
under a unique top-level name, puts forked children in them and checks that
limits are written and enforced; it needs root, and runs once per hierarchy
the host offers: v1 controllers, the v2 hierarchy (on hybrid hosts that one
holds few controllers, so its limit tests skip) and the manager
`open_manager` picks for the host.  Every cgroup and process a test creates
is removed by the fixture, processes by PID.
"""

from __future__ import annotations

import errno
import os
import signal
import uuid

import pytest

from runtime.cgroups import CgroupError, cgroups_path, detect, open_manager
from runtime.cgroups.base import CgroupManager, wait_until
from runtime.cgroups.layout import Mount, cgroup_dir, own_cgroups, parse_mountinfo
from runtime.cgroups.resources import DeviceRule, Resources
from runtime.cgroups.v1 import V1Manager
from runtime.cgroups.v2 import V2Manager, cpu_weight

from .childproc import Child, run_in_child, sleep_after

MiB = 1 << 20

# -- layout detection, on synthetic mount tables ------------------------------

PURE_V2 = """\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""

PURE_V1 = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
"""

HYBRID = PURE_V1 + """\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_detects_pure_v2() -> None:
    layout = parse_mountinfo(PURE_V2, lambda mnt: frozenset({"cpu", "memory", "pids"}))
    assert layout.mode == "v2"
    assert layout.v2 is not None and layout.v2.mountpoint == "/sys/fs/cgroup"
    assert layout.v2.controllers == {"cpu", "memory", "pids"}


def test_detects_pure_v1_with_co_mounted_controllers() -> None:
    layout = parse_mountinfo(PURE_V1, lambda mnt: frozenset())
    assert layout.mode == "v1"
    assert set(layout.v1) == {"cpu", "cpuacct", "memory", "pids"}  # name=systemd is no controller
    assert layout.v1["cpu"] is layout.v1["cpuacct"]
    assert layout.v1["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"


def test_detects_hybrid_and_leaves_v1_controllers_to_v1() -> None:
    layout = parse_mountinfo(HYBRID, lambda mnt: frozenset({"hugetlb"}))
    assert layout.mode == "hybrid"
    assert layout.v2 is not None and layout.v2.mountpoint == "/sys/fs/cgroup/unified"
    manager = open_manager("/dockyard/x", layout)
    assert manager.dirs() == ["/sys/fs/cgroup/cpu,cpuacct/dockyard/x",
                              "/sys/fs/cgroup/memory/dockyard/x",
                              "/sys/fs/cgroup/pids/dockyard/x",
                              "/sys/fs/cgroup/unified/dockyard/x"]
    assert manager.controllers == {"cpu", "cpuacct", "memory", "pids"}


def test_detects_what_this_host_mounts() -> None:
    """The mode agrees with the file system types statfs reports, independent of mountinfo."""
    cgroup2_magic = 0x63677270

    def is_cgroup2(path: str) -> bool:
        import ctypes

        buffer = ctypes.create_string_buffer(128)  # struct statfs; f_type is the first field
        if ctypes.CDLL(None, use_errno=True).statfs(path.encode(), buffer) != 0:
            return False
        return int.from_bytes(buffer.raw[:8], "little") == cgroup2_magic

    layout = detect()
    if is_cgroup2("/sys/fs/cgroup"):
        assert layout.mode == "v2"
    elif is_cgroup2("/sys/fs/cgroup/unified"):
        assert layout.mode == "hybrid" and layout.v2.mountpoint == "/sys/fs/cgroup/unified"
    else:
        assert layout.mode == "v1"
    if layout.v2 is not None:
        with open(f"{layout.v2.mountpoint}/cgroup.controllers") as f:
            assert layout.v2.controllers == frozenset(f.read().split())


def test_no_cgroup_mounts_is_a_clear_error() -> None:
    with pytest.raises(CgroupError, match="no cgroup filesystem"):
        parse_mountinfo("24 30 0:22 / /sys rw - sysfs sysfs rw\n").mode


def test_paths_resolve_like_runc() -> None:
    mount = Mount("/sys/fs/cgroup/my mem", "/outer", frozenset({"memory"}))
    escaped = PURE_V2.replace("/sys/fs/cgroup ", "/sys/fs/cgroup/my\\040mem ")
    assert parse_mountinfo(escaped, lambda m: frozenset()).v2.mountpoint == "/sys/fs/cgroup/my mem"
    assert cgroup_dir(mount, "/dockyard/c1", "/outer/me") == "/sys/fs/cgroup/my mem/dockyard/c1"
    # relative paths hang below this process's own cgroup, taken relative to the mount's root
    assert cgroup_dir(mount, "sub/c1", "/outer/me") == "/sys/fs/cgroup/my mem/me/sub/c1"
    with pytest.raises(CgroupError, match=r"'\.\.'"):
        cgroup_dir(mount, "/dockyard/../escape", "/")
    assert own_cgroups("4:memory:/a\n2:cpu,cpuacct:/b\n0::/c\n") == {
        "memory": "/a", "cpu": "/b", "cpuacct": "/b", "": "/c"}
    assert cgroups_path("abc") == "/dockyard/abc"
    assert cgroups_path("abc", "/custom/abc") == "/custom/abc"
    with pytest.raises(CgroupError, match="systemd"):
        cgroups_path("abc", "system.slice:dockyard:abc")


# -- limit checks ----------------------------------------------------------------

@pytest.mark.parametrize("resources, message", [
    ({"memory": {"limit": 128 * MiB, "swap": 64 * MiB}}, "below the memory limit"),
    ({"memory": {"swap": 64 * MiB}}, "needs a memory limit"),
    ({"memory": {"limit": 64 * MiB, "reservation": 128 * MiB}}, "above the memory limit"),
    ({"memory": {"limit": "1g"}}, "must be an integer"),
    ({"cpu": {"shares": 1}}, "cpu shares 1"),
    ({"cpu": {"quota": 500}}, "minimum of 1000us"),
    ({"cpu": {"cpus": "0-x"}}, "invalid cpuset cpus"),
    ({"devices": [{"allow": True, "type": "x"}]}, "invalid device rule"),
    ({"unified": {"../memory.max": "1"}}, "invalid linux.resources.unified"),
])
def test_bad_limits_are_refused_clearly(resources: dict, message: str) -> None:
    with pytest.raises(CgroupError, match=message):
        Resources.from_oci(resources)


def test_limits_parse_to_what_the_hierarchies_write() -> None:
    res = Resources.from_oci({"memory": {"limit": 64 * MiB, "swap": -1},
                              "cpu": {"quota": -1, "period": 50000, "cpus": "0"},
                              "pids": {"limit": -5},
                              "devices": [{"allow": False, "access": "rwm"},
                                          {"allow": True, "type": "c", "major": 1, "minor": 3,
                                           "access": "rw"}]})
    assert (res.memory, res.memory_swap, res.cpu_quota, res.cpu_period) == (64 * MiB, -1, -1, 50000)
    assert res.pids_limit == -1
    assert [str(d) for d in res.devices] == ["a *:* rwm", "c 1:3 rw"]
    assert res.controllers() == {"memory", "cpu", "cpuset", "pids"}
    assert Resources.from_oci({"pids": {"limit": 0}}).controllers() == set()
    assert str(DeviceRule(True, "b", 8, None, "r")) == "b 8:* r"


def test_cpu_shares_convert_to_weight_as_runc_does() -> None:
    assert [cpu_weight(s) for s in (2, 1024, 262144)] == [1, 100, 10000]
    assert cpu_weight(512) < 100 < cpu_weight(2048)


def test_v2_writes_converted_limits(tmp_path) -> None:
    """The v2 file formats, on a stand-in tree (this host's v2 hierarchy has no such controllers)."""
    (tmp_path / "dockyard").mkdir()
    for level in (tmp_path, tmp_path / "dockyard"):
        (level / "cgroup.controllers").write_text("cpu cpuset memory pids\n")
        (level / "cgroup.subtree_control").write_text("")
    (tmp_path / "dockyard" / "cpuset.cpus.effective").write_text("0-3\n")
    (tmp_path / "dockyard" / "cpuset.mems.effective").write_text("0\n")
    leaf = tmp_path / "dockyard" / "c1"
    leaf.mkdir()
    (leaf / "memory.swap.max").write_text("max\n")
    manager = V2Manager("/dockyard/c1", Mount(str(tmp_path), "/", frozenset({"cpu", "cpuset",
                                                                          "memory", "pids"})))
    manager.create({"memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 32 * MiB},
                    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "1-2",
                            "mems": "0"},
                    "pids": {"limit": -1}})
    written = {f.name: f.read_text() for f in leaf.iterdir()}
    assert written == {"memory.max": str(64 * MiB), "memory.swap.max": str(32 * MiB),
                       "memory.low": str(32 * MiB), "cpu.weight": "100", "cpu.max": "50000 100000",
                       "cpuset.cpus": "1-2", "cpuset.mems": "0", "pids.max": "max"}
    with pytest.raises(CgroupError, match=r"cpuset cpus '2-5' is out of range: \[4, 5\]"):
        manager.apply({"cpu": {"cpus": "2-5"}})


# -- real cgroups -------------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating cgroups needs root")


def _flavours() -> list:
    """One manager factory per hierarchy this host offers, plus the one open_manager picks."""
    try:
        layout = detect()
        layout.mode
    except (OSError, CgroupError) as e:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no cgroups here: {e}"))]
    flavours = [pytest.param(lambda p: open_manager(p), id=f"host-{layout.mode}")]
    if layout.v1:
        flavours.append(pytest.param(lambda p: V1Manager(p, layout.v1), id="v1"))
    if layout.v2 is not None:
        v2 = layout.v2
        flavours.append(pytest.param(lambda p: V2Manager(p, v2), id="v2"))
    return flavours


@pytest.fixture(params=_flavours())
def make(request):
    """A factory of managers under a unique top-level cgroup, all removed at teardown."""
    top = f"dockyard-test-{uuid.uuid4().hex[:12]}"
    made: list[CgroupManager] = []

    def factory(name: str = "c") -> CgroupManager:
        manager = request.param(f"/{top}/{name}")
        made.append(manager)
        return manager

    yield factory
    for manager in made:
        if manager.exists():
            manager.kill_all()
            manager.destroy()
        for directory in manager.dirs():
            try:
                os.rmdir(os.path.dirname(directory))
            except FileNotFoundError:
                pass


def _needs(manager: CgroupManager, *controllers: str) -> None:
    missing = set(controllers) - manager.controllers
    if not missing:
        return
    layout = detect()
    if isinstance(manager, V2Manager) and layout.mode == "hybrid":
        held = ", ".join(sorted(layout.v2.controllers)) or "none"
        pytest.skip(f"the v2 hierarchy of this hybrid host ({layout.v2.mountpoint}) holds few "
                    f"controllers ({held}); "
                    f"{', '.join(sorted(missing))} limits on v2 need a pure v2 host (there the "
                    "host-v2 case runs them)")
    pytest.skip(f"this hierarchy has no {', '.join(sorted(missing))} controller")


@needs_root
def test_lifecycle_add_freeze_kill_destroy(make) -> None:
    manager = make()
    manager.create()
    with Child(sleep_after(), setup=manager.add) as child:
        assert manager.pids() == [child.pid]
        manager.freeze()
        manager.thaw()
        manager.kill_all()
        assert child.wait(10).killed_by == signal.SIGKILL
    manager.destroy()
    assert not manager.exists()
    assert not any(os.path.exists(d) for d in manager.dirs())


@needs_root
def test_limits_are_written(make) -> None:
    manager = make()
    _needs(manager, "memory", "pids", "cpu")
    manager.create({"memory": {"limit": 64 * MiB}, "pids": {"limit": 20},
                    "cpu": {"shares": 512, "quota": 50000, "period": 100000}})
    stats = manager.stats()
    assert (stats.memory_limit, stats.pids_limit, stats.pids_current) == (64 * MiB, 20, 0)
    if isinstance(manager, V1Manager):
        assert open(manager.file("cpu", "cpu.cfs_quota_us")).read().strip() == "50000"
        assert open(manager.file("cpu", "cpu.shares")).read().strip() == "512"


@needs_root
def test_pids_limit_stops_forks(make) -> None:
    manager = make()
    _needs(manager, "pids")
    manager.create({"pids": {"limit": 4}})

    def fork_many() -> list:
        outcomes, children = [], []
        for _ in range(8):
            try:
                pid = os.fork()
            except OSError as e:
                outcomes.append(errno.errorcode[e.errno])
                continue
            if pid == 0:
                os.read(os.open("/dev/null", os.O_RDONLY), 1)
                os._exit(0)
            children.append(pid)
            outcomes.append("forked")
        for pid in children:
            os.waitpid(pid, 0)
        return outcomes

    outcomes = run_in_child(fork_many, setup=manager.add).unwrap()
    assert outcomes.count("forked") == 3  # the child itself is the 4th task
    assert set(outcomes) == {"forked", "EAGAIN"}


@needs_root
def test_memory_limit_oom_kills_and_is_detected(make) -> None:
    manager = make()
    _needs(manager, "memory")
    # memory+swap = memory, so the hog cannot swap its way past the limit
    manager.create({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    assert not manager.oom_killed()
    result = run_in_child(lambda: len(bytearray(256 * MiB)), setup=manager.add)
    assert result.killed_by == signal.SIGKILL
    assert manager.oom_killed()
    assert manager.stats().oom_kills >= 1


@needs_root
def test_limit_below_usage_and_bad_cpuset_are_refused(make) -> None:
    manager = make()
    _needs(manager, "memory", "cpuset")
    with pytest.raises(CgroupError, match="out of range"):
        manager.create({"cpu": {"cpus": f"0-{os.cpu_count() + 8}"}})
    assert not manager.exists()  # a refused create leaves nothing behind
    manager.create({"memory": {"limit": 256 * MiB}})
    with Child(sleep_after(lambda: bytearray(24 * MiB)), setup=manager.add):
        wait_until(lambda: manager.stats().memory_usage > 20 * MiB, 10, "the child's allocation")
        with pytest.raises(CgroupError, match="below the current usage"):
            manager.apply({"memory": {"limit": 8 * MiB}})
        manager.apply({"memory": {"limit": 128 * MiB}})
    assert manager.stats().memory_limit == 128 * MiB


@needs_root
def test_device_rules_are_enforced(make) -> None:
    """v1 through devices.allow/deny, v2 through an attached eBPF program: same outcome."""
    manager = make()
    if isinstance(manager, V1Manager) and "devices" not in manager.controllers:
        pytest.skip("no v1 devices controller is mounted")
    manager.create({"devices": [{"allow": False, "access": "rwm"},
                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                 "access": "rwm"},
                                {"allow": True, "type": "c", "major": 1, "minor": 5,
                                 "access": "r"}]})

    def open_devices() -> dict:
        outcome = {}
        for name, flags in (("null", os.O_RDWR), ("zero", os.O_RDONLY), ("zero", os.O_WRONLY),
                            ("full", os.O_RDONLY)):
            key = f"{name}:{'rw' if flags == os.O_RDWR else 'w' if flags == os.O_WRONLY else 'r'}"
            try:
                os.close(os.open(f"/dev/{name}", flags))
                outcome[key] = "ok"
            except OSError as e:
                outcome[key] = errno.errorcode[e.errno]
        return outcome

    assert run_in_child(open_devices, setup=manager.add).unwrap() == {
        "null:rw": "ok", "zero:r": "ok", "zero:w": "EPERM", "full:r": "EPERM"}


@needs_root
def test_warmup_only_rewrites_our_own_cgroup() -> None:
    """The lock warm-up's no-op moves leave this process where it was."""
    import time

    from runtime.cgroups import warmup

    before = open("/proc/self/cgroup").read()
    with open(warmup.own_procs_file()) as f:
        assert str(os.getpid()) in f.read().split()
    warmup.start()
    time.sleep(3 * warmup.KEEP_WARM_EVERY)
    warmup.stop()
    time.sleep(2 * warmup.KEEP_WARM_EVERY)
    assert open("/proc/self/cgroup").read() == before
