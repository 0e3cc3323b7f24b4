"""What a container started by ``dockyard run`` can see and do, and the limits it runs under."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from runtime.capabilities import CAPABILITIES, DEFAULT_CAPABILITIES, all_capabilities
from tests.helpers.busybox_image import BUSYBOX


def sh(dockyard, script: str, *flags: str) -> str:
    """Run a shell script in a fresh --rm container; its stdout (it must exit 0)."""
    return dockyard.ok("run", "--rm", *flags, BUSYBOX, "sh", "-c", script)


def test_the_command_is_pid_1_and_host_processes_are_invisible(dockyard) -> None:
    pid, count = sh(dockyard, "echo $$; ls -d /proc/[0-9]* | wc -l").split()
    assert pid == "1"
    assert int(count) <= 3  # sh, ls, wc


def test_hostname_is_the_short_id_or_the_given_one(dockyard) -> None:
    assert sh(dockyard, "hostname; cat /etc/hostname", "--hostname", "box-42").split() == \
        ["box-42", "box-42"]
    container_id = dockyard.ok("run", "-d", BUSYBOX, "hostname").strip()
    assert dockyard.ok("wait", container_id).strip() == "0"
    assert dockyard.ok("logs", container_id).strip() == container_id[:12]


def test_host_files_are_invisible_and_etc_files_are_the_containers(dockyard, tmp_path) -> None:
    (tmp_path / "host-secret").write_text("x")
    out = sh(dockyard, f"ls {tmp_path}/host-secret 2>&1; cat /etc/hosts; "
                       "cut -d' ' -f5 /proc/self/mountinfo")
    assert "No such file" in out.splitlines()[0]
    assert "127.0.0.1\tlocalhost" in out
    mount_points = set(out.splitlines())
    assert {"/", "/proc", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} <= mount_points


def test_privileged_operations_fail_and_proc_sys_is_read_only(dockyard) -> None:
    out = sh(dockyard, "mount -t tmpfs none /mnt 2>&1; echo mount=$?; hostname other 2>&1; "
                       "echo hostname=$?; (echo 1 > /proc/sys/kernel/domainname) 2>&1; echo sys=$?")
    assert "mount=1" in out and "hostname=1" in out and "sys=1" in out
    assert "Read-only file system" in out


def test_seccomp_blocks_what_docker_blocks(dockyard) -> None:
    """unshare(CLONE_NEWUSER) needs no capability, so only the seccomp profile can stop it."""
    out = sh(dockyard, "grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo unshare=$?")
    assert "Seccomp:\t2" in out and "unshare=1" in out
    out = sh(dockyard, "grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?",
             "--security-opt", "seccomp=unconfined")
    assert "Seccomp:\t0" in out and "unshare=0" in out


def _capabilities(dockyard, *flags: str) -> dict[str, int]:
    out = sh(dockyard, "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status", *flags)
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}


def _mask(names) -> int:
    return sum(1 << CAPABILITIES.index(name) for name in names)


def test_capabilities_are_docker_defaults_adjusted_by_flags(dockyard) -> None:
    default = _mask(DEFAULT_CAPABILITIES)
    assert _capabilities(dockyard) == {"CapInh": 0, "CapPrm": default, "CapEff": default,
                                       "CapBnd": default, "CapAmb": 0}
    adjusted = _capabilities(dockyard, "--cap-add", "NET_ADMIN", "--cap-drop", "chown")
    expected = (default | _mask(["CAP_NET_ADMIN"])) & ~_mask(["CAP_CHOWN"])
    assert adjusted["CapEff"] == adjusted["CapBnd"] == expected
    assert _capabilities(dockyard, "--privileged")["CapEff"] == _mask(all_capabilities())


def test_memory_limit_oom_kills_a_hog(dockyard) -> None:
    result = dockyard("run", "--name", "hog", "--memory", "32m", BUSYBOX, "tail", "/dev/zero")
    assert result.returncode == 137
    state = dockyard.inspect("hog")["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    assert dockyard.inspect("hog")["HostConfig"]["Memory"] == 32 * 1024 * 1024


def test_pids_limit_stops_a_fork_bomb(dockyard) -> None:
    """The inner shell forks until the limit refuses; the outer one counts (globbing
    needs no fork) what is running then."""
    out = sh(dockyard, 'sh -c "while :; do sleep 30 & done" 2>/dev/null; set -- /proc/[0-9]*; '
                       'echo $#', "--pids-limit", "12")
    assert 8 <= int(out) <= 12
    assert subprocess.run(["true"]).returncode == 0  # the host is unaffected


def _cpu_seconds(container_id: str) -> float:
    from runtime.cgroups import open_manager
    return open_manager(f"/dockyard/{container_id}").stats().cpu_usage_ns / 1e9


def test_cpu_quota_holds_usage_near_the_limit(dockyard) -> None:
    container_id = dockyard.ok("run", "-d", "--cpus", "0.5", BUSYBOX, "sh", "-c",
                               "while :; do :; done").strip()
    time.sleep(0.3)  # past start-up
    before, started = _cpu_seconds(container_id), time.monotonic()
    time.sleep(1.5)
    used = (_cpu_seconds(container_id) - before) / (time.monotonic() - started)
    dockyard.ok("rm", "-f", container_id)
    assert 0.35 < used < 0.6, f"used {used:.2f} CPUs with a 0.5 CPU quota"


def test_cpuset_and_ulimits_apply(dockyard) -> None:
    out = sh(dockyard, "grep Cpus_allowed_list /proc/self/status; ulimit -n; ulimit -Hn",
             "--cpuset-cpus", "0", "--ulimit", "nofile=100:200")
    assert out.split() == ["Cpus_allowed_list:", "0", "100", "200"]


def test_exit_codes_propagate(dockyard) -> None:
    assert dockyard("run", "--rm", BUSYBOX, "sh", "-c", "exit 7").returncode == 7
    missing = dockyard("run", "--rm", BUSYBOX, "no-such-command")
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    assert dockyard("run", "--rm", BUSYBOX, "/etc/passwd").returncode == 126
    assert dockyard("run", "--rm", "localhost/no-such-image").returncode == 125
    assert dockyard("run", "--rm", "--memory", "lots", BUSYBOX, "true").returncode == 125


def test_signals_are_forwarded_to_the_container(dockyard) -> None:
    client = dockyard.popen("run", "--rm", "--name", "trap", BUSYBOX, "sh", "-c",
                            'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done',
                            stdout=subprocess.PIPE)
    assert client.stdout.readline() == "ready\n"
    client.send_signal(signal.SIGTERM)
    assert client.wait(timeout=10) == 42


def test_a_killed_container_exits_128_plus_the_signal(dockyard) -> None:
    client = dockyard.popen("run", "--name", "victim", BUSYBOX, "sh", "-c", "echo up; sleep 30",
                            stdout=subprocess.PIPE)
    assert client.stdout.readline() == "up\n"
    assert dockyard.ok("kill", "victim").strip() == "victim"
    assert client.wait(timeout=10) == 137
    assert dockyard.inspect("victim")["State"]["ExitCode"] == 137


def test_read_only_root_leaves_volumes_and_tmpfs_writable(dockyard, tmp_path) -> None:
    out = sh(dockyard, "touch /x 2>/dev/null; echo root=$?; touch /data/x; echo data=$?; "
                       "touch /scratch/x; echo scratch=$?",
             "--read-only", "-v", f"{tmp_path}:/data", "--tmpfs", "/scratch")
    assert out.split() == ["root=1", "data=0", "scratch=0"]


@pytest.mark.parametrize("network", ["none", "host"])
def test_network_modes(dockyard, network) -> None:
    out = sh(dockyard, "cat /sys/class/net/lo/operstate; ls /sys/class/net | wc -l; hostname",
             "--network", network)
    state, interfaces, hostname = out.split()
    assert state in ("unknown", "up")  # lo is up (its operstate reads "unknown")
    if network == "none":
        assert interfaces == "1"
    else:
        assert int(interfaces) == len(os.listdir("/sys/class/net"))
        assert hostname == os.uname().nodename


def test_init_reaps_zombies_and_forwards_signals(dockyard) -> None:
    from client.containers.bundle import find_init
    try:
        find_init()
    except Exception as err:
        pytest.skip(str(err))
    out = sh(dockyard, "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                       "(sleep 0.1 &) ; sleep 0.3; cut -d' ' -f3 /proc/[0-9]*/stat | grep -c Z; true", "--init")
    first, zombies = out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh -c")
    assert zombies == "0"
