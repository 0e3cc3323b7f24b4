"""Containers over their life: create, start, ps, logs, exec, stop, kill, wait, rm, prune, and
what happens when the process supervising one is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from client.containers import procs
from tests.helpers.busybox_image import BUSYBOX
from tests.helpers.crun import crun_on_hybrid_host  # noqa: F401 - a fixture

from .conftest import REPO


def test_detached_output_goes_to_a_json_file_log(dockyard) -> None:
    container_id = dockyard.ok("run", "-d", "--name", "talker", BUSYBOX, "sh", "-c",
                               "echo one; echo two >&2; printf partial").strip()
    assert len(container_id) == 64
    assert dockyard.ok("wait", "talker") == "0\n"
    result = dockyard("logs", "talker")
    assert result.stdout == "one\npartial" and result.stderr == "two\n"
    assert dockyard.ok("logs", "--tail", "1", "talker") == "partial"
    stamped = dockyard.ok("logs", "-t", "talker").splitlines()
    assert stamped[0].startswith("20") and stamped[0].endswith("Z one")
    log_path = dockyard.inspect("talker")["LogPath"]
    with open(log_path) as f:
        records = [json.loads(line) for line in f]
    assert [(r["log"], r["stream"]) for r in records] == [
        ("one\n", "stdout"), ("two\n", "stderr"), ("partial", "stdout")]
    assert all(r["time"].endswith("Z") and len(r["time"]) == 30 for r in records)


def test_logs_follow_until_the_container_exits(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "ticker", BUSYBOX, "sh", "-c",
                "for i in 1 2 3; do echo tick $i; sleep 0.2; done")
    assert dockyard.ok("logs", "-f", "ticker", timeout=20) == "tick 1\ntick 2\ntick 3\n"


def test_ps_inspect_and_names(dockyard) -> None:
    container_id = dockyard.ok("run", "-d", "--name", "web", BUSYBOX, "sleep", "30").strip()
    dockyard.ok("create", "--name", "later", BUSYBOX, "true")
    generated = dockyard.ok("create", BUSYBOX, "true").strip()
    table = dockyard.ok("ps").splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                "PORTS", "NAMES"]
    assert len(table) == 2 and table[1].startswith(container_id[:12])
    assert '"sleep 30"' in table[1] and "Up " in table[1] and table[1].endswith("web")
    assert dockyard.ok("ps", "-q") == f"{container_id[:12]}\n"
    assert dockyard.ok("ps", "-aq", "--no-trunc").split()[-1] == container_id
    names = dockyard.ok("container", "ls", "-a", "--format", "{{.Names}} {{.State}}").splitlines()
    assert "web running" in names and "later created" in names and len(names) == 3
    auto_name = dockyard.inspect(generated)["Name"]
    assert auto_name.startswith("/") and "_" in auto_name
    taken = dockyard("create", "--name", "web", BUSYBOX, "true")
    assert taken.returncode == 125 and 'name "/web" is already in use' in taken.stderr
    document = dockyard.inspect(container_id[:5])  # a unique prefix will do
    assert document["Id"] == container_id and document["Name"] == "/web"
    assert document["State"]["Running"] is True and document["State"]["Pid"] > 0
    assert document["Config"]["Cmd"] == ["sleep", "30"] and document["Path"] == "sleep"
    assert document["HostConfig"]["NetworkMode"] == "bridge" and "Dockyard" not in document
    assert dockyard.ok("container", "inspect", "-f", "{{.State.Status}}", "web") == "running\n"
    assert dockyard("container", "inspect", "nothing-here").returncode == 1
    # the top-level inspect finds containers first, then images
    both = json.loads(dockyard.ok("inspect", "web", BUSYBOX))
    assert both[0]["Id"] == container_id and both[1]["Id"] == document["Image"]
    assert dockyard("inspect", "--type", "image", "web").returncode == 1


def test_stop_start_again_and_remove(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "svc", BUSYBOX, "sh", "-c",
                'trap "exit 3" TERM; echo started; while :; do sleep 0.1; done')
    assert dockyard.ok("stop", "-t", "5", "svc") == "svc\n"
    state = dockyard.inspect("svc")["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 3 and not state["Running"]
    assert "Exited (3)" in dockyard.ok("ps", "-a")
    assert dockyard.ok("start", "svc") == "svc\n"
    assert dockyard.inspect("svc")["State"]["Running"]
    running = dockyard("rm", "svc")
    assert running.returncode == 1 and "cannot remove a running container" in running.stderr
    assert dockyard.ok("rm", "-f", "svc") == "svc\n"
    assert dockyard("wait", "svc").returncode == 1  # no such container


def test_stop_kills_what_ignores_the_stop_signal(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "stubborn", BUSYBOX, "sleep", "30")  # PID 1 ignores TERM
    started = time.monotonic()
    dockyard.ok("stop", "-t", "1", "stubborn")
    assert time.monotonic() - started < 5
    assert dockyard.inspect("stubborn")["State"]["ExitCode"] == 137


def test_start_attached_and_the_upper_layer_persists(dockyard) -> None:
    dockyard.ok("create", "--name", "counter", BUSYBOX, "sh", "-c",
                "echo x >> /count; wc -l < /count")
    assert dockyard.ok("start", "-a", "counter") == "1\n"
    assert dockyard.ok("start", "-a", "counter") == "2\n"
    assert dockyard.inspect("counter")["State"]["Status"] == "exited"


def test_exec_into_a_running_container(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "box", "-e", "FROM_RUN=1", BUSYBOX, "sleep", "30")
    out = dockyard.ok("exec", "-e", "FROM_EXEC=2", "-w", "/tmp", "box", "sh", "-c",
                      "echo $$ $FROM_RUN $FROM_EXEC; pwd; hostname; cat /proc/1/cmdline")
    pid, run_env, exec_env, cwd, hostname, init = out.split()
    assert pid != "1" and (run_env, exec_env, cwd) == ("1", "2", "/tmp")
    assert init.startswith("sleep")
    assert dockyard.ok("exec", "-u", "nobody", "box", "id", "-u") == "65534\n"
    assert dockyard.ok("exec", "-i", "box", "cat", input="to exec\n", stdin=None) == "to exec\n"
    assert dockyard("exec", "box", "sh", "-c", "exit 9").returncode == 9
    assert dockyard("exec", "box", "no-such-command").returncode == 127
    dockyard.ok("kill", "box")
    stopped = dockyard("exec", "box", "true")
    assert stopped.returncode == 1 and "is not running" in stopped.stderr


def test_remove_on_exit_and_prune(dockyard) -> None:
    dockyard.ok("run", "-d", "--rm", "--name", "waited", BUSYBOX, "sh", "-c", "sleep 0.3; exit 4")
    assert dockyard.ok("wait", "waited") == "4\n"  # reported, though --rm removed it
    dockyard.ok("run", "--rm", "--name", "gone", BUSYBOX, "true")
    dockyard.ok("run", "-d", "--rm", "--name", "gone-too", BUSYBOX, "true")
    dockyard.wait_for(lambda: "gone" not in dockyard.ok("ps", "-a"), what="--rm removals")
    dockyard.ok("create", "--name", "old", BUSYBOX, "true")
    dockyard.ok("run", "-d", "--name", "alive", BUSYBOX, "sleep", "30")
    out = dockyard.ok("container", "prune", "-f")
    assert out.startswith("Deleted Containers:\n") and "Total reclaimed space" in out
    assert dockyard.ok("ps", "-a", "--format", "{{.Names}}") == "alive\n"


def _supervisor(dockyard, name: str) -> dict:
    from client.containers.records import ContainerStore
    return ContainerStore(dockyard.root).find(name)["Dockyard"]


def test_a_sigkilled_client_leaves_a_container_that_later_commands_clean_up(dockyard) -> None:
    client = dockyard.popen("run", "--name", "orphan", BUSYBOX, "sh", "-c", "echo up; sleep 30",
                            stdout=subprocess.PIPE)
    assert client.stdout.readline() == "up\n"
    client.kill()
    client.wait()
    assert "Up " in dockyard.ok("ps")  # still running, without its supervisor
    init = _supervisor(dockyard, "orphan")["Init"]
    os.kill(init["Pid"], signal.SIGKILL)  # now it dies with nobody watching
    dockyard.wait_for(lambda: not procs.alive(init), what="the container's end")
    assert "Exited (255)" in dockyard.ok("ps", "-a")  # ps found it and released it
    assert dockyard.leftovers() == []
    assert dockyard.ok("rm", "orphan") == "orphan\n"


def test_rm_force_cleans_up_after_a_killed_client(dockyard) -> None:
    client = dockyard.popen("run", "--rm", "--name", "stray", BUSYBOX, "sh", "-c",
                            "echo up; sleep 30", stdout=subprocess.PIPE)
    assert client.stdout.readline() == "up\n"
    client.kill()
    client.wait()
    assert dockyard.ok("rm", "-f", "stray") == "stray\n"
    assert dockyard.leftovers() == []


def test_a_killed_supervisor_is_noticed_by_stop(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "daemon", BUSYBOX, "sh", "-c",
                'trap "exit 0" TERM; while :; do sleep 0.1; done')
    os.kill(_supervisor(dockyard, "daemon")["Supervisor"]["Pid"], signal.SIGKILL)
    assert dockyard.ok("stop", "daemon") == "daemon\n"
    assert dockyard.inspect("daemon")["State"]["Status"] == "exited"
    assert dockyard.leftovers() == []


@pytest.mark.parametrize("runtime", ["crun", "runc", "dockyard-runtime"])
def test_other_oci_runtimes_run_the_same_bundle(dockyard, runtime, request, tmp_path) -> None:
    if runtime == "dockyard-runtime":  # our own runtime through its runc-compatible CLI
        runtime = str(tmp_path / "dockyard-runtime")
        with open(runtime, "w") as f:
            f.write(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m runtime \"$@\"\n")
        os.chmod(runtime, 0o755)
    elif shutil.which(runtime) is None:
        pytest.skip(f"{runtime} is not installed (apt-get install {runtime})")
    if runtime == "crun":
        request.getfixturevalue("crun_on_hybrid_host")
    assert dockyard.ok("run", "--rm", "--runtime", runtime, "--hostname", "x", BUSYBOX, "sh",
                       "-c", "echo $$; hostname") == "1\nx\n"
    assert dockyard("run", "--rm", "--runtime", runtime, BUSYBOX, "sh", "-c",
                    "exit 5").returncode == 5
    dockyard.ok("run", "-d", "--name", "svc", "--runtime", runtime, "--memory", "64m",
                BUSYBOX, "sleep", "30")
    assert dockyard.ok("exec", "svc", "sh", "-c", "echo $$") != "1\n"
    dockyard.ok("stop", "-t", "0", "svc")
    assert dockyard.inspect("svc")["State"]["ExitCode"] == 137


def test_images_that_containers_use_are_kept(dockyard) -> None:
    dockyard.ok("create", "--name", "user", BUSYBOX, "echo", "still runs")
    refused = dockyard("rmi", BUSYBOX)
    assert refused.returncode == 1 and "used by container" in refused.stderr
    dockyard.ok("image", "prune", "-a", "-f")
    assert dockyard.ok("start", "-a", "user") == "still runs\n"  # its layers are all there
    dockyard.ok("rm", "user")
    assert "Untagged: localhost/busybox:latest" in dockyard.ok("rmi", BUSYBOX)
