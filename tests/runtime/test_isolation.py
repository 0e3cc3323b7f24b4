"""What a process inside a dockyard-runtime container can see and do.

Each test runs a real container (busybox rootfs, `runc spec`'s default
configuration) through `dockyard-runtime run` and checks its output.
"""

from __future__ import annotations

import os

from runtime.capabilities import CAPABILITIES, DEFAULT_CAPABILITIES


def _sh(runtime, script: str, edit=None) -> str:
    result = runtime.run(["sh", "-c", script], edit)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_command_is_pid_1_and_host_processes_are_invisible(runtime) -> None:
    out = _sh(runtime, "echo $$; ls -d /proc/[0-9]* | wc -l")
    pid, count = out.split()
    assert pid == "1"
    assert int(count) <= 3  # sh, ls, wc: nothing of the host's


def test_hostname_comes_from_the_config(runtime) -> None:
    def edit(config):
        config["hostname"] = "box-42"
    assert _sh(runtime, "hostname; cat /proc/sys/kernel/hostname", edit).split() == ["box-42", "box-42"]


def test_host_files_are_invisible_and_the_old_root_is_gone(runtime, tmp_path) -> None:
    (tmp_path / "host-secret").write_text("x")
    out = _sh(runtime, f"ls {tmp_path}/host-secret 2>&1; cut -d' ' -f5 /proc/self/mountinfo")
    lines = out.splitlines()
    assert "No such file" in lines[0]
    mount_points = set(lines[1:])
    expected = {"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/firmware"}
    assert expected <= mount_points
    strays = [m for m in mount_points
              if m not in expected and not m.startswith(("/proc/", "/sys/fs/cgroup"))]
    assert strays == []  # in particular no old root kept under some directory


def test_the_process_starts_with_no_signal_ignored(runtime) -> None:
    """Python ignores SIGPIPE and SIGXFSZ; the container's process must not inherit that
    (`yes | head -1` would otherwise see EPIPE instead of dying of SIGPIPE)."""
    result = runtime.run(["grep", "^SigIgn:", "/proc/self/status"])
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[1], 16) == 0


def test_home_is_set_from_the_container_passwd_when_the_config_has_none(runtime) -> None:
    """As runc and crun do: the uid's home in the container's /etc/passwd, else /;
    a HOME in the config stays."""
    def as_user(uid: int, env: list[str] = ()):
        def edit(config):
            config["process"]["user"] = {"uid": uid, "gid": uid}
            config["process"]["env"] += env
        return edit

    def home(edit) -> str:
        return _sh(runtime, "echo $HOME", edit).strip()

    assert home(as_user(0)) == "/root"
    assert home(as_user(65534)) == "/nonexistent"
    assert home(as_user(4321)) == "/"
    assert home(as_user(0, ["HOME=/srv"])) == "/srv"


def test_privileged_operations_fail(runtime) -> None:
    out = _sh(runtime, "mount -t tmpfs none /tmp 2>&1; hostname other 2>&1; hostname")
    mount_error, hostname_error, hostname = out.splitlines()
    assert "permission denied" in mount_error
    assert "Operation not permitted" in hostname_error
    assert hostname == "dockyard"


def test_capabilities_are_the_default_set(runtime) -> None:
    out = _sh(runtime, "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status")
    caps = {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}
    default = sum(1 << CAPABILITIES.index(name) for name in DEFAULT_CAPABILITIES)
    assert caps == {"CapInh": 0, "CapPrm": default, "CapEff": default, "CapBnd": default, "CapAmb": 0}


def test_proc_sys_is_read_only_and_masked_paths_are_masked(runtime) -> None:
    out = _sh(runtime, "echo 1 > /proc/sys/kernel/domainname 2>/dev/null; echo write=$?; "
                       "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; "
                       "grep -c ' /proc/sys ro,' /proc/self/mountinfo")
    assert out.split() == ["write=1", "0", "0", "1"]


def test_root_is_read_only_and_config_mounts_apply(runtime, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("hello\n")

    def edit(config):
        config["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind", "ro"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        ]
    out = _sh(runtime, "touch /newfile 2>/dev/null; echo root=$?; cat /data/from-host; "
                       "touch /data/x 2>/dev/null; echo data=$?; touch /scratch/x; echo scratch=$?", edit)
    assert out.split() == ["root=1", "hello", "data=1", "scratch=0"]
    assert sorted(p.name for p in shared.iterdir()) == ["from-host"]


def test_tmpfs_takes_the_covered_directory_mode_and_with_tmpcopyup_its_contents(runtime,
                                                                                tmp_path) -> None:
    """runc's tmpfs rules, which podman relies on (--read-only, --tmpfs): the root
    of a tmpfs over a directory has that directory's mode, and "tmpcopyup" starts
    it with a copy of what it covers: owners, modes, symlinks as symlinks, fifos."""
    seed = tmp_path / "seed"
    (seed / "d").mkdir(parents=True)
    (seed / "f").write_text("x\n")
    (seed / "d" / "g").write_text("g\n")
    os.chown(seed / "f", 1234, 5678)
    os.chmod(seed / "f", 0o640)
    os.chmod(seed / "d", 0o750)
    os.symlink("/etc/passwd", seed / "l")
    os.mkfifo(seed / "p")
    os.chmod(seed, 0o711)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "hidden").write_text("")

    def edit(config):
        config["mounts"] += [
            {"destination": "/seed", "type": "bind", "source": str(seed), "options": ["rbind"]},
            {"destination": "/seed", "type": "tmpfs", "source": "tmpfs",
             "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]},
            {"destination": "/ro", "type": "bind", "source": str(seed), "options": ["rbind"]},
            {"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "tmpcopyup"]},
            {"destination": "/private", "type": "bind", "source": str(private), "options": ["rbind"]},
            {"destination": "/private", "type": "tmpfs", "source": "tmpfs",
             "options": ["rprivate", "notmpcopyup"]},
        ]
    out = _sh(runtime, "cd /seed; stat -c '%n %a %u %g %F' . f d d/g l p; readlink l; cat f; "
                       "touch new && echo written; cat /ro/d/g; touch /ro/x 2>/dev/null || echo ro; "
                       "stat -c '%a' /private; ls -A /private | wc -l", edit)
    assert out.splitlines() == [
        ". 711 0 0 directory", "f 640 1234 5678 regular file", "d 750 0 0 directory",
        "d/g 644 0 0 regular file", "l 777 0 0 symbolic link", "p 644 0 0 fifo",
        "/etc/passwd", "x", "written", "g", "ro", "700", "0"]
    assert sorted(p.name for p in seed.iterdir()) == ["d", "f", "l", "p"]  # the host's untouched


def test_default_devices_exist(runtime) -> None:
    out = _sh(runtime, "for d in null zero full random urandom tty ptmx; do test -e /dev/$d && echo $d; done; "
                       "echo x > /dev/null && head -c 4 /dev/zero | wc -c")
    assert out.split() == ["null", "zero", "full", "random", "urandom", "tty", "ptmx", "4"]


def test_seccomp_filter_blocks_syscalls_and_rlimits_apply(runtime) -> None:
    from runtime.seccomp import default_oci

    def edit(config):
        config["linux"]["seccomp"] = default_oci(config["process"]["capabilities"]["bounding"])
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}]
    out = _sh(runtime, "grep Seccomp: /proc/self/status; ulimit -n; ulimit -Hn; "
                       "unshare -U true 2>/dev/null; echo unshare=$?", edit)
    assert out.split() == ["Seccomp:", "2", "512", "1024", "unshare=1"]
    # without the filter the same unprivileged unshare works: the filter made the difference
    assert _sh(runtime, "unshare -U true; echo unshare=$?").split() == ["unshare=0"]


def test_process_is_in_its_cgroup_on_every_hierarchy_the_host_mounts(runtime) -> None:
    """v1 controllers, and the v2 hierarchy beside them (hybrid) or alone (pure v2), as
    detected: the process is already inside when it starts."""
    from runtime.cgroups import detect

    bundle = runtime.bundle(["cat", "/proc/self/cgroup"])
    container_id = runtime.new_id()
    result = runtime.cli("run", "-b", str(bundle), container_id)
    assert result.returncode == 0, result.stderr
    paths = {}
    for line in result.stdout.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else ["(v2)"]:
            paths[name] = path
    layout = detect()
    expected = set(layout.v1) | ({"(v2)"} if layout.v2 is not None else set())
    assert {name for name, path in paths.items() if path == f"/dockyard/{container_id}"} == expected
