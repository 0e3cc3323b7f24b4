"""The process that owns a running container: starts it, copies its streams, records its end.

Docker has a daemon and containerd-shim for this; dockyard has no daemon, so
the supervisor is either the ``dockyard run``/``start -a`` process itself
(foreground: the client's terminal is attached) or, for ``-d``, a process of
its own, double-forked and in a new session so that it outlives the client
(conmon's role for podman).  Either way it is the parent of the container's
init, so it learns the real exit status, and it is the one that gives back
what the run held.

A run holds: the overlay mount on ``rootfs/``, a pinned network namespace,
the runtime's state and the cgroup.  The record says so ("Held") *before*
the first of them is taken, and names the supervisor and the init by
{pid, start time, boot}; if the supervisor is killed, the next dockyard
command to look at the container (``lifecycle.refresh``) sees a dead
supervisor holding resources and releases them, so nothing leaks whatever
was killed when.
"""

from __future__ import annotations

import os
import signal
import sys

from client.errors import DockyardError

from . import networking, procs, runtimes
from .records import ContainerConflict, timestamp

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .records import ContainerStore

# What `docker run` proxies to the container (the rest are the client's own business).
FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                     signal.SIGUSR1, signal.SIGUSR2)
UNKNOWN_EXIT = 255  # exit status of a container that ended while nobody supervised it


class Session:
    """One run of a container: ``start``, then ``supervise`` until it exits, then ``finish``."""

    def __init__(self, store: ContainerStore, container_id: str, attached: bool,
                 attach_stdin: bool = False, network: networking.NetworkChild | None = None) -> None:
        """``attached``: our stdout/stderr get the container's output (``attach_stdin``: and
        our stdin is its input, if it was created with -i).  ``network``: a network child
        forked ahead (see ``networking.NetworkChild``) for a container on a bridge network;
        without, ``start`` forks it as soon as it has claimed such a container."""
        self.store = store
        self.id = container_id
        self.attached = attached
        self.attach_stdin = attached and attach_stdin
        self.record = store.load(container_id)
        self.runtime = runtimes.get(self.record["HostConfig"].get("Runtime") or runtimes.BUILTIN,
                                    store.runtime_root)
        self.init = 0
        self.pidfd = -1
        self.master = -1  # pty master with -t
        self.pipes: dict[str, int] = {}  # our ends of the container's stdio pipes
        self.log = None
        self.network = network

    @property
    def tty(self) -> bool:
        return bool(self.record["Config"].get("Tty"))

    def run(self) -> int:
        """The whole run in this process (the foreground): the container's exit status."""
        self.start()
        code = self.supervise()
        self.finish(code)
        return code

    # -- start -----------------------------------------------------------------

    def start(self) -> None:
        """Take the container's resources and start its process; on failure give them back."""
        self._claim()
        if self.network is None and networking.uses_library(self.record):
            self.network = networking.NetworkChild()  # loads the library while we prepare
        try:
            self._create()
            if self.network is not None:
                self.network.wait()
            self.runtime.start(self.id)
        except BaseException as err:
            if self.network is not None:
                self.network.wait(check=False)  # before release gives back what it made
                if self.network.id is None:  # failed before it was asked for anything
                    self.network.close()
            code = getattr(err, "exit_code", 125)
            message = str(err) or type(err).__name__
            self._close_streams()
            if self.init:
                self._reap_after(signal.SIGKILL)
            finish(self.store, self.record, code, error=message, started=False)
            raise

    def _claim(self) -> None:
        """Become the container's supervisor, unless another live one is."""
        with self.store.lock(self.id):
            record = self.store.load(self.id)
            private = record["Dockyard"]
            if procs.alive(private.get("Supervisor")) or procs.alive(private.get("Init")):
                raise ContainerConflict(f"container {self.id[:12]} is already running")
            private.update(Supervisor=procs.identity(os.getpid()), Held=True, Init=None)
            record["State"]["Error"] = ""
            self.store.save(record)
            self.record = record

    def _create(self) -> None:
        from . import bundle, rootfs, users

        record, path = self.record, self.store.path
        config, host = record["Config"], record["HostConfig"]
        root = path(self.id, "rootfs")
        rootfs.mount_overlay(record["Dockyard"]["Layers"], path(self.id, "upper"),
                             path(self.id, "work"), root, volatile=bool(host.get("AutoRemove")))
        rootfs.write_etc_files(path(self.id), config["Hostname"], host.get("NetworkMode") == "host")
        namespace = networking.namespace(self.store, record)  # pinned for this run, or joined
        if self.network is not None:  # veth, address, ports, /etc files: in the background
            self.network.attach(self.store, record, namespace)
        user = users.resolve(root, config.get("User") or "")
        spec = bundle.oci_config(record, user, path(self.id), namespace)
        process = spec["process"]
        command = process["args"][2] if host.get("Init") else process["args"][0]
        search = next((e[5:] for e in process["env"] if e.startswith("PATH=")), "")
        rootfs.check_command(root, command, search, process["cwd"])
        from runtime.mounts import secure_join
        os.makedirs(secure_join(root, process["cwd"]), 0o755, exist_ok=True)
        _write_json(path(self.id, "config.json"), spec)
        stdio, console = self._open_streams()
        try:
            self.init = self.runtime.create(self.id, path(self.id), stdio, console and console.path)
            self.pidfd = os.pidfd_open(self.init)
            if console is not None:
                self.master = console.receive_master()
        finally:
            for fd in stdio:
                os.close(fd)
            if console is not None:
                console.close()
        with self.store.lock(self.id):
            record = self.store.load(self.id)
            record["Dockyard"]["Init"] = procs.identity(self.init)
            record["State"].update(Status="running", Running=True, Pid=self.init, ExitCode=0,
                                   OOMKilled=False, Error="", StartedAt=timestamp())
            self.store.save(record)
            self.record = record

    def _open_streams(self):
        """The container's fds 0-2 (ours to close after create), and the console socket with -t."""
        from .logs import JsonLogWriter

        self.log = JsonLogWriter(self.store.path(self.id, f"{self.id}-json.log"))
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        if self.tty:
            from .terminal import ConsoleSocket
            return [null, os.dup(null), os.dup(null)], ConsoleSocket()
        stdio = []
        if self.record["Config"].get("OpenStdin"):
            read_end, self.pipes["stdin"] = os.pipe()
            stdio.append(read_end)
        else:
            stdio.append(os.dup(null))
        for stream in ("stdout", "stderr"):
            self.pipes[stream], write_end = os.pipe()
            stdio.append(write_end)
        os.close(null)
        return stdio, None

    # -- supervise ---------------------------------------------------------------

    def supervise(self) -> int:
        """Relay streams until the init exits; its exit status (128+N when killed by signal N)."""
        from .relay import Relay

        relay = Relay(self.log, self.pidfd)
        attached_stdin = self.attach_stdin and self.record["Config"].get("OpenStdin")
        restore_terminal = None
        if self.tty:
            from .terminal import copy_size, raw_mode
            relay.output(self.master, "stdout", 1 if self.attached else None)
            if attached_stdin:
                relay.input(0, self.master, close_sink_at_eof=False)
                restore_terminal = raw_mode(0)
        else:
            relay.output(self.pipes["stdout"], "stdout", 1 if self.attached else None)
            relay.output(self.pipes["stderr"], "stderr", 2 if self.attached else None)
            if "stdin" in self.pipes and attached_stdin:
                relay.input(0, self.pipes.pop("stdin"), close_sink_at_eof=True)
        handlers = {sig: self._forward for sig in FORWARDED_SIGNALS}
        if self.tty and self.attached:
            handlers[signal.SIGWINCH] = lambda *_: copy_size(0, self.master)
            copy_size(0, self.master)
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            relay.run()
            _, status = os.waitpid(self.init, 0)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if restore_terminal is not None:
                restore_terminal()
            self._close_streams()
        return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def _forward(self, signum: int, _frame: object) -> None:
        try:
            os.kill(self.init, signum)
        except ProcessLookupError:
            pass

    def finish(self, exit_code: int) -> None:
        """Record the exit and give back everything the run held (remove it with --rm)."""
        finish(self.store, self.record, exit_code)

    # -- internals -----------------------------------------------------------------

    def _reap_after(self, sig: int) -> None:
        try:
            os.kill(self.init, sig)
            os.waitpid(self.init, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _close_streams(self) -> None:
        for fd in [*self.pipes.values(), self.master, self.pidfd]:
            if fd >= 0:
                os.close(fd)
        self.pipes.clear()
        self.master = self.pidfd = -1
        if self.log is not None:
            self.log.close()
            self.log = None


def finish(store: ContainerStore, record: dict, exit_code: int, error: str = "",
           started: bool = True) -> None:
    """Release a run's resources and record how it ended; with AutoRemove, remove the container.

    Used by the supervisor when its container exits, and by anyone who
    finds a container whose supervisor died (``lifecycle.refresh``).
    """
    container_id = record["Id"]
    oom = _cgroup(container_id).oom_killed() if started else False
    release(store, record)
    with store.lock(container_id):
        record = store.load(container_id)
        state = record["State"]
        state.update(Running=False, Pid=0, ExitCode=exit_code, Error=error, OOMKilled=oom)
        if started or state["Status"] != "created":
            state.update(Status="exited", FinishedAt=timestamp())
        record["Dockyard"].update(Held=False, Supervisor=None, Init=None)
        store.save(record)
    if record["HostConfig"].get("AutoRemove"):
        store.note_exit(container_id, exit_code)
        store.remove(record)


def release(store: ContainerStore, record: dict) -> None:
    """Give back the runtime state, cgroup, network namespace and root mount; each may be gone."""
    from . import netns, rootfs

    container_id = record["Id"]
    try:
        runtime = runtimes.get(record["HostConfig"].get("Runtime") or runtimes.BUILTIN,
                               store.runtime_root)
        runtime.delete(container_id)
    except DockyardError as err:  # a runtime uninstalled since: the cgroup goes below anyway
        print(f"warning: {err}", file=sys.stderr)
    cgroup = _cgroup(container_id)
    if cgroup.exists():
        cgroup.kill_all(signal.SIGKILL)
        cgroup.destroy()
    netns.remove(store.path(container_id, "netns"))
    networking.release(store, record)  # after the unpin: the kernel takes the veth with it
    rootfs.unmount(store.path(container_id, "rootfs"))


def _cgroup(container_id: str):
    from runtime.cgroups import open_manager
    return open_manager(f"/dockyard/{container_id}")


def _write_json(path: str, document: dict) -> None:
    import json
    with open(path, "w") as f:
        f.write(json.dumps(document))  # json.dump would encode in Python, dumps in C


def run_detached(session: Session) -> None:
    """Start the container under a supervisor of its own; return once it runs, or raise why not.

    The supervisor is a grandchild in a new session (so no terminal signal
    and no exit of ours reaches it); it reports the start's outcome over a
    pipe: "0" or "<exit code> <message>".
    """
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked supervisor
        os.close(read_end)
        try:
            os.setsid()
            if os.fork():
                os._exit(0)
            _detach_stdio()
            _supervise_detached(session, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as report:
        outcome = report.read().decode(errors="replace")
    code, _, message = outcome.partition(" ")
    if code != "0":
        raise runtimes.RuntimeError_(message.strip() or "the supervisor died before the container "
                                     "started", int(code) if code.isdigit() else 125)


def _supervise_detached(session: Session, report: int) -> None:
    try:
        session.start()
    except BaseException as err:
        os.write(report, f"{getattr(err, 'exit_code', 125)} {err}".encode())
        return
    os.write(report, b"0")
    os.close(report)
    session.finish(session.supervise())


def _detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.chdir("/")
