"""``exec``: another process in a running container, as ``docker exec`` starts it.

The process is the container's own (config.json: capabilities, seccomp,
rlimits, environment) with the flags' changes: its argv, ``-e`` merged into
the environment, ``-u`` resolved in the container's /etc/passwd, ``-w``, and
a pty with ``-t``.  Its output is not logged (Docker logs only the main
process); without ``-t`` it writes straight to our stdout and stderr.
"""

from __future__ import annotations

import json
import os

from client.errors import DockyardError

from . import runtimes
from .options import merge_env, user_env
from .records import ContainerConflict

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .records import ContainerStore


def exec_process(store: ContainerStore, record: dict, argv: list[str], *, interactive: bool,
                 tty: bool, env: list[str], user: str | None, workdir: str | None,
                 detach: bool) -> int:
    """Run ``argv`` in the container; its exit code (0 at once with ``detach``)."""
    from . import rootfs

    container_id = record["Id"]
    if not record["State"]["Running"]:
        raise ContainerConflict(f"Container {container_id} is not running")
    if workdir is not None and not workdir.startswith("/"):
        raise DockyardError(f"the working directory {workdir!r} is invalid, it needs to be an "
                            "absolute path")
    root = store.path(container_id, "rootfs")
    process = _process(store, record, argv, tty, env, user, workdir)
    search = next((e[5:] for e in process["env"] if e.startswith("PATH=")), "")
    rootfs.check_command(root, argv[0], search, process["cwd"])
    process_file = store.path(container_id, f"exec-{os.urandom(8).hex()}.json")
    with open(process_file, "w") as f:
        json.dump(process, f)
    runtime = runtimes.get(record["HostConfig"].get("Runtime") or runtimes.BUILTIN,
                           store.runtime_root)
    console = None
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        if tty:
            from .terminal import ConsoleSocket
            console = ConsoleSocket()
        stdio = [0 if interactive and not tty else null, *((null, null) if tty else (1, 2))]
        pid = runtime.exec(container_id, process_file, stdio, console and console.path)
        master = console.receive_master() if console is not None else -1
    finally:
        os.close(null)
        if console is not None:
            console.close()
    try:
        if detach:
            return 0
        return _wait(pid, master, interactive)
    finally:
        if master >= 0:
            os.close(master)
        os.unlink(process_file)


def _process(store: ContainerStore, record: dict, argv: list[str], tty: bool, env: list[str],
             user: str | None, workdir: str | None) -> dict:
    with open(store.path(record["Id"], "config.json")) as f:
        process = json.load(f)["process"]
    process.update(args=argv, terminal=tty)
    process.pop("consoleSize", None)
    overrides = user_env(env, [])
    if user is not None:
        from .users import resolve
        identity = resolve(store.path(record["Id"], "rootfs"), user)
        process["user"] = identity.oci()
        overrides = [f"HOME={identity.home}", *overrides]
    process["env"] = merge_env(process["env"], overrides)
    if workdir:
        process["cwd"] = workdir
    if tty:
        from .terminal import console_size
        size = console_size()
        if size:
            process["consoleSize"] = size
    return process


def _wait(pid: int, master: int, interactive: bool) -> int:
    """Forward signals (and with a pty, relay it) until ``pid`` exits; its exit code."""
    import signal

    from .supervisor import FORWARDED_SIGNALS

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        if master >= 0:
            _relay_terminal(pid, master, interactive)
        _, status = os.waitpid(pid, 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _relay_terminal(pid: int, master: int, interactive: bool) -> None:
    import signal

    from .relay import Relay
    from .terminal import copy_size, raw_mode

    pidfd = os.pidfd_open(pid)
    relay = Relay(None, pidfd)
    relay.output(master, "stdout", 1)
    restore = lambda: None  # noqa: E731
    if interactive:
        relay.input(0, master, close_sink_at_eof=False)
        restore = raw_mode(0)
    copy_size(0, master)
    previous = signal.signal(signal.SIGWINCH, lambda *_: copy_size(0, master))
    try:
        relay.run()
    finally:
        signal.signal(signal.SIGWINCH, previous)
        restore()
        os.close(pidfd)
