"""`dockyard-runtime` as podman and containerd drive it: runc's commands, flags and output."""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from runtime import state
from runtime.cgroups import cgroups_path, open_manager
from runtime.cli import parse
from tests.helpers.crun import crun_on_hybrid_host  # noqa: F401 - a fixture

STATE_KEYS = {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"}


def _state(runtime, container_id: str) -> dict:
    result = runtime.cli("state", container_id)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- without containers -----------------------------------------------------

def test_flags_are_read_as_runc_reads_them() -> None:
    table = {"bundle": ("bundle", "str"), "b": ("bundle", "str"), "d": ("detach", "bool"),
             "e": ("env", "list")}
    assert parse(["-b", "x", "--d", "-e=A=1", "-e", "B=2", "id", "-l"], table) == (
        {"bundle": "x", "detach": True, "env": ["A=1", "B=2"]}, ["id", "-l"])


def test_errors_are_one_line_and_exit_1(tmp_path) -> None:
    log = tmp_path / "log.json"
    cmd = ["-m", "runtime", "--root", str(tmp_path), "--log", str(log), "--log-format", "json",
           "create", "-b", str(tmp_path / "nowhere"), "c1"]
    result = subprocess.run([os.sys.executable, *cmd], capture_output=True, text=True)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "config.json" in result.stderr
    assert json.loads(log.read_text())["level"] == "error"
    refused = subprocess.run([os.sys.executable, "-m", "runtime", "--systemd-cgroup", "list"],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "systemd" in refused.stderr


# -- with containers --------------------------------------------------------

def test_exit_code_propagates(runtime) -> None:
    assert runtime.run(["sh", "-c", "exit 7"]).returncode == 7


def test_missing_command_fails_create_and_leaves_nothing(runtime) -> None:
    bundle = runtime.bundle(["no-such-command"])
    container_id = runtime.new_id()
    result = runtime.cli_leaving_container("create", "-b", str(bundle), container_id)
    assert result.returncode == 1
    assert "executable file not found" in result.stderr
    assert not os.path.exists(os.path.join(runtime.root, container_id))
    assert not open_manager(cgroups_path(container_id)).exists()


def test_a_file_that_cannot_be_executed_fails_run_with_the_reason(runtime) -> None:
    result = runtime.run(["/etc/passwd"])
    assert result.returncode == 1
    assert result.stderr.strip() == "dockyard-runtime: exec /etc/passwd: Permission denied"


def test_init_failing_before_its_cgroup_reports_its_own_error(runtime) -> None:
    """The init mounts while the runtime makes the cgroup: its mount error, not the
    runtime's broken pipe or vanished pid, is what create reports."""
    def bad_mount(config: dict) -> None:
        config["mounts"].insert(0, {"destination": "/x", "type": "bind", "options": ["bind"],
                                    "source": str(runtime.tmp / "no-such-source")})

    container_id = runtime.new_id()
    result = runtime.cli_leaving_container("create", "-b", str(runtime.bundle(["true"], bad_mount)),
                                           container_id)
    assert result.returncode == 1
    assert "no-such-source" in result.stderr and "No such file" in result.stderr
    assert not os.path.exists(os.path.join(runtime.root, container_id))
    assert not open_manager(cgroups_path(container_id)).exists()


def test_run_forwards_signals_and_reports_signal_deaths(runtime) -> None:
    bundle = runtime.bundle(["sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"])
    proc = runtime.popen("run", "-b", str(bundle), runtime.new_id(), stdout=subprocess.PIPE)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 42

    container_id = runtime.new_id()
    proc = runtime.popen("run", "-b", str(runtime.bundle(["sleep", "60"])), container_id)
    _wait_for(lambda: runtime.cli("state", container_id).returncode == 0
              and _state(runtime, container_id)["status"] == "running")
    assert runtime.cli("kill", container_id, "KILL").returncode == 0
    assert proc.wait(timeout=10) == 128 + signal.SIGKILL


def test_lifecycle_create_start_state_kill_delete(runtime) -> None:
    bundle = runtime.bundle(["sh", "-c", "echo started > /dev/shm/mark; exec sleep 60"])
    container_id = runtime.new_id()
    pid_file = runtime.tmp / "pid"
    assert runtime.cli_leaving_container("create", "-b", str(bundle), "--pid-file", str(pid_file),
                                         container_id).returncode == 0
    created = _state(runtime, container_id)
    assert set(created) == STATE_KEYS
    assert created["status"] == "created" and created["bundle"] == str(bundle)
    assert created["pid"] == int(pid_file.read_text())
    assert runtime.cli("start", container_id).returncode == 0
    assert _state(runtime, container_id)["status"] == "running"
    assert runtime.cli("start", container_id).returncode == 1  # only once

    listed = json.loads(runtime.cli("list", "-f", "json").stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(container_id, "running")]
    assert runtime.cli("list", "-q").stdout.split() == [container_id]
    assert container_id in runtime.cli("list").stdout
    assert json.loads(runtime.cli("ps", "-f", "json", container_id).stdout) == [created["pid"]]

    refused = runtime.cli("delete", container_id)
    assert refused.returncode == 1 and "running" in refused.stderr
    assert runtime.cli("kill", container_id, "SIGKILL").returncode == 0
    _wait_for(lambda: _state(runtime, container_id)["status"] == "stopped")
    assert runtime.cli("delete", container_id).returncode == 0
    assert runtime.cli("state", container_id).returncode == 1
    assert not open_manager(cgroups_path(container_id)).exists()


def test_create_and_start_a_process_that_runs_as_another_user(runtime) -> None:
    """The init waits on exec.fifo as the process's user, after it switched to it and,
    as podman and Docker configure a non-root user, without effective capabilities."""
    out = runtime.tmp / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)

    def as_nobody(config: dict) -> None:
        config["process"]["user"] = {"uid": 65534, "gid": 65534}
        config["process"]["capabilities"].update(effective=[], permitted=[])
        config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                 "options": ["rbind"]})

    container_id = runtime.new_id()
    bundle = runtime.bundle(["sh", "-c", "id -u > /out/uid"], as_nobody)
    assert runtime.cli_leaving_container("create", "-b", str(bundle), container_id).returncode == 0
    started = runtime.cli("start", container_id)
    assert started.returncode == 0, started.stderr
    _wait_for(lambda: _state(runtime, container_id)["status"] == "stopped")
    assert (out / "uid").read_text() == "65534\n"
    assert runtime.cli("delete", container_id).returncode == 0


def _frozen(container_id: str) -> bool:
    """What the kernel says: the v1 freezer's state, or v2's cgroup.events."""
    for directory in open_manager(cgroups_path(container_id)).dirs():
        freezer = os.path.join(directory, "freezer.state")
        if os.path.exists(freezer):
            with open(freezer) as f:
                return f.read().strip() == "FROZEN"
    for directory in open_manager(cgroups_path(container_id)).dirs():
        events = os.path.join(directory, "cgroup.events")
        if os.path.exists(events):
            with open(events) as f:
                return "frozen 1" in f.read().splitlines()
    raise AssertionError("no freezer found")


def test_pause_and_resume_freeze_and_thaw_the_container(runtime) -> None:
    container_id = runtime.new_id()
    bundle = runtime.bundle(["sleep", "60"])
    assert runtime.cli_leaving_container("create", "-b", str(bundle), container_id).returncode == 0
    assert runtime.cli("pause", container_id).returncode == 1  # created, not running
    assert runtime.cli("start", container_id).returncode == 0
    assert runtime.cli("pause", container_id).returncode == 0
    assert _state(runtime, container_id)["status"] == "paused" and _frozen(container_id)
    assert "paused" in runtime.cli("list").stdout
    refused = runtime.cli("exec", container_id, "true")
    assert refused.returncode == 1 and "paused" in refused.stderr
    assert runtime.cli("resume", container_id).returncode == 0
    assert _state(runtime, container_id)["status"] == "running" and not _frozen(container_id)
    assert runtime.cli("resume", container_id).returncode == 1  # not paused

    assert runtime.cli("pause", container_id).returncode == 0
    assert runtime.cli("kill", "--all", container_id, "CONT").returncode == 0
    assert _frozen(container_id)  # signalling every process leaves it paused
    refused = runtime.cli("delete", container_id)
    assert refused.returncode == 1 and "paused" in refused.stderr
    assert runtime.cli("delete", "--force", container_id).returncode == 0  # thaws to kill
    assert not open_manager(cgroups_path(container_id)).exists()


def test_update_changes_the_limits_of_a_running_container(runtime) -> None:
    def limited(config: dict) -> None:
        config["linux"]["resources"].update(memory={"limit": 64 << 20}, pids={"limit": 50})

    container_id = runtime.new_id()
    bundle = runtime.bundle(["sleep", "60"], limited)
    assert runtime.cli_leaving_container("create", "-b", str(bundle), container_id).returncode == 0
    assert runtime.cli("start", container_id).returncode == 0
    manager = open_manager(cgroups_path(container_id))
    assert manager.stats().memory_limit == 64 << 20

    assert runtime.cli("update", "--memory", "128m", "--pids-limit=20", container_id).returncode == 0
    document = runtime.cli("update", "-r", "-", container_id, input='{"cpu": {"quota": 50000}}')
    assert document.returncode == 0, document.stderr
    assert manager.stats().memory_limit == 128 << 20 and manager.stats().pids_limit == 20
    kept = state.load(runtime.root, container_id)["config"]["linux"]["resources"]
    assert kept["memory"] == {"limit": 128 << 20} and kept["pids"] == {"limit": 20}
    assert kept["cpu"]["quota"] == 50000 and kept["devices"]  # device rules untouched

    refused = runtime.cli("update", "--memory", "1k", container_id)  # below what it uses
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert runtime.cli("delete", "--force", container_id).returncode == 0


def test_a_signal_while_run_creates_the_container_reaches_it_once_it_runs(runtime) -> None:
    """SIGTERM to `run` from a prestart hook, before the process exists, is kept for it
    (which is no PID 1 here: one would ignore a signal that came before its handler)."""
    def edit(config: dict) -> None:
        config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "kill -TERM $PPID"]}]}
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "pid"]

    started = time.monotonic()
    assert runtime.run(["sleep", "60"], edit).returncode == 128 + signal.SIGTERM
    assert time.monotonic() - started < 30


def test_the_init_being_set_up_dies_of_a_signal_as_without_forwarding(runtime) -> None:
    """run's forwarding is the runtime's own: its child, not yet exec'd, keeps its default
    SIGTERM (a prestart hook signals it, by the pid in the state on its stdin; no PID 1
    here, which would ignore it either way)."""
    hook = runtime.tmp / "kill-init"
    hook.write_text("#!/bin/sh\nkill -TERM \"$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')\"\n")
    hook.chmod(0o755)

    def edit(config: dict) -> None:
        config["hooks"] = {"prestart": [{"path": str(hook)}]}
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "pid"]

    result = runtime.run(["true"], edit)
    assert result.returncode == 1
    assert "container init exited during set-up" in result.stderr


def test_exec_joins_the_running_container(runtime) -> None:
    def edit(config):
        config["hostname"] = "exec-target"
    container_id = runtime.new_id()
    bundle = runtime.bundle(["sleep", "60"], edit)
    assert runtime.cli_leaving_container("run", "-d", "-b", str(bundle), container_id).returncode == 0
    result = runtime.cli("exec", "-e", "X=from-exec", container_id,
                         "sh", "-c", "hostname; tr \"\\\\0\" \" \" < /proc/1/cmdline; echo; echo $X; exit 3")
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["exec-target", "sleep 60 ", "from-exec"]
    pids = json.loads(runtime.cli("ps", "-f", "json", container_id).stdout)
    assert len(pids) == 1  # the exec'd process was in the cgroup, and is gone
    with_cap = runtime.cli("exec", "--cap", "CAP_NET_ADMIN", container_id, "grep", "CapEff",
                           "/proc/self/status")  # runc's flags, as containerd passes them
    assert with_cap.returncode == 0, with_cap.stderr
    assert int(with_cap.stdout.split()[1], 16) & (1 << 12)  # CAP_NET_ADMIN is 12
    assert runtime.cli("delete", "--force", container_id).returncode == 0


def test_sigkill_of_run_leaves_a_container_that_delete_force_removes(runtime) -> None:
    container_id = runtime.new_id()
    proc = runtime.popen("run", "-b", str(runtime.bundle(["sleep", "60"])), container_id)
    _wait_for(lambda: runtime.cli("state", container_id).returncode == 0
              and _state(runtime, container_id)["status"] == "running")
    init = _state(runtime, container_id)["pid"]
    proc.kill()
    proc.wait()
    assert _state(runtime, container_id)["status"] == "running"
    assert runtime.cli("delete", "--force", container_id).returncode == 0
    assert state.process_start_time(init) is None
    assert not open_manager(cgroups_path(container_id)).exists()
    assert not os.path.exists(os.path.join(runtime.root, container_id))


def test_console_socket_receives_the_pty_master(runtime) -> None:
    def edit(config):
        config["process"]["terminal"] = True
    bundle = runtime.bundle(["sh", "-c", "tty; echo done"], edit)
    path = str(runtime.tmp / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        container_id = runtime.new_id()
        proc = runtime.popen("run", "--console-socket", path, "-b", str(bundle), container_id)
        conn, _ = server.accept()
        with conn:
            fds = array.array("i")
            _, ancillary, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
            fds.frombytes(ancillary[0][2])
        master = fds[0]
        output = b""
        try:
            while b"done" not in output:
                output += os.read(master, 1024)
        finally:
            assert proc.wait(timeout=10) == 0
            os.close(master)
    assert b"/dev/pts/0" in output


def test_terminal_without_console_socket_is_relayed(runtime) -> None:
    """As `runc run` in a shell: our terminal in raw mode, bytes and window size passed on."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    def edit(config):
        config["process"]["terminal"] = True
    bundle = runtime.bundle(["sh", "-c", "tty; stty size; read x; echo got:$x; exit 5"], edit)
    argv = runtime.command("run", "-b", str(bundle), runtime.new_id())
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs
        os.chdir(runtime.tmp)
        os.execv(argv[0], argv)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 120, 0, 0))
    output = b""
    deadline = time.monotonic() + 20

    def read_until(done) -> None:
        nonlocal output
        while not done():
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"timed out; the terminal showed {output!r}"
            output += os.read(master, 1024)

    try:
        read_until(lambda: b"33 120" in output)
        os.write(master, b"hello\r")
        read_until(lambda: b"got:" in output and output.endswith(b"\n"))
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # its pty closes, and the container's shell with it
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 5
    assert output.replace(b"\r", b"").splitlines()[-4:] == [b"/dev/pts/0", b"33 120", b"hello",
                                                             b"got:hello"]


@pytest.mark.parametrize("peer", ["runc", "crun"])
def test_same_bundle_same_output_on_runc_and_crun(runtime, peer, request) -> None:
    import shutil
    if not shutil.which(peer):
        pytest.skip(f"{peer} is not installed (apt-get install -y {peer})")
    if peer == "crun":
        request.getfixturevalue("crun_on_hybrid_host")
    # /dev/core: runc makes it only where /proc/kcore exists, crun always
    script = "hostname; echo $$; id; grep CapEff /proc/self/status; ls /dev | grep -vx core | sort | tr '\\n' ' '"
    bundle = runtime.bundle(["sh", "-c", script])
    ours = runtime.cli("run", "-b", str(bundle), runtime.new_id())
    theirs = subprocess.run([peer, "--root", str(runtime.tmp / peer), "run", "-b", str(bundle),
                             runtime.new_id()], capture_output=True, text=True, timeout=30)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_installed_launcher_runs_under_its_names_and_through_links(tmp_path) -> None:
    """bin/dockyard as pip installs it: dockyard-runtime, and a link named as runc elsewhere."""
    import sys
    from pathlib import Path

    installed = Path(sys.executable).parent / "dockyard-runtime"
    if not installed.exists():
        pytest.skip(f"{installed} is not installed (pip install .)")
    link = tmp_path / "runc"
    link.symlink_to(installed)
    for command in (installed, link):
        result = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                                timeout=30, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("dockyard-runtime version")
