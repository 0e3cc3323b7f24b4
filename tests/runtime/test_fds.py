"""Which descriptors reach the container's process: stdio only, plus --preserve-fds and
socket activation's LISTEN_FDS, as runc passes them."""

from __future__ import annotations

import os
import shlex
import subprocess

from .conftest import REPO

LIST_FDS = "ls /proc/self/fd | sort -n | tr '\\n' ' '"  # ls's own directory fd is 3


def _run_with_fds(runtime, script: str, *flags: str, fds: dict[int, bytes], env_prefix: str = ""):
    """`dockyard-runtime run` with the given descriptors open (fd number -> pipe content)."""
    pipes = {}
    for number, content in fds.items():
        r, w = os.pipe()
        os.write(w, content)
        os.close(w)
        pipes[number] = r
    bundle = runtime.bundle(["sh", "-c", script])
    argv = runtime.command("run", *flags, "-b", str(bundle), runtime.new_id())

    def place() -> None:  # in the child: the pipes at their fd numbers, inheritable
        for number, r in pipes.items():
            os.dup2(r, number)
    try:
        return subprocess.run(["sh", "-c", f"{env_prefix}exec {shlex.join(argv)}"],
                              preexec_fn=place, pass_fds=list(pipes), capture_output=True, text=True,
                              timeout=30, cwd=REPO)
    finally:
        for r in pipes.values():
            os.close(r)


def test_inherited_descriptors_are_closed(runtime) -> None:
    result = _run_with_fds(runtime, LIST_FDS, fds={5: b"secret", 9: b"secret"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1", "2", "3"]


def test_preserve_fds_passes_the_next_descriptors(runtime) -> None:
    result = _run_with_fds(runtime, f"{LIST_FDS}; cat <&4", "--preserve-fds", "2",
                           fds={3: b"three", 4: b"four", 5: b"five"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 1 2 3 4 5 four"  # 5: ls's directory


def test_socket_activation_descriptors_and_environment(runtime) -> None:
    result = _run_with_fds(runtime, 'echo "$LISTEN_FDS $LISTEN_PID"; cat <&3',
                           fds={3: b"socket"}, env_prefix="LISTEN_FDS=1 LISTEN_PID=$$ ")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 1\nsocket"


def test_listen_fds_meant_for_another_process_are_ignored(runtime) -> None:
    result = _run_with_fds(runtime, 'echo "${LISTEN_FDS:-none}"; ' + LIST_FDS,
                           fds={3: b"socket"}, env_prefix="LISTEN_FDS=1 LISTEN_PID=1 ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["none", "0", "1", "2", "3"]
