"""The runtime as a library: create, start, run, exec, pause, resume, update, kill, delete,
state, list, ps.

Process tree (no user namespace):

    runtime (create/run)                 host PID namespace
      └── container init  [fork]        PID 1 of a new PID namespace; unshares
                                         mount/uts/ipc/net/cgroup, builds the
                                         rootfs, waits on exec.fifo, execs the
                                         user's process in place

`fork_into_pid_namespace` makes the init a direct child of the runtime, so
`run` waits for it and gets its real exit status, and forwards signals to it.
`create` returns once the init reports "ready"; a CLI `create` then exits and
the init is reparented (as with runc).  `exec` forks the same way into the
running container's PID namespace, and the child setns()es into the rest.

Life cycle on disk (see state.py): create claims <root>/<id>/, makes exec.fifo
and writes state.json right after the fork; start opens the fifo, which
releases the init, and removes it (run, which starts at once, tells the init
not to wait on it); delete kills what is left, removes the
cgroup and the directory.  Mounts live only in the container's mount
namespace, so they vanish with its last process: nothing to unmount.
"""

from __future__ import annotations

import os
import _signal as signal  # the signal module's ints, without its enum import (start-up time)
import time

from runtime import fds, namespaces, spec, state
from runtime.cgroups import warmup
from runtime.process import Channel, child_main, exec_main, init_main, prepare
from runtime.state import DEFAULT_ROOT, StateError

SECCOMP_CACHE = ".seccomp"  # under the state root; list_ids skips it (no state.json)

# Signals `run` and `exec` pass on to the container instead of dying of them.
FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)


class RuntimeFailure(Exception):
    """Setting up or driving a container failed; the message is for the user."""


def create(container_id: str, bundle: str, root: str = DEFAULT_ROOT,
           console_socket: str | None = None, pid_file: str | None = None,
           preserve_fds: int = 0, terminal_here: bool = False, start: bool = False) -> dict:
    """Create the container and leave its init waiting for `start`; returns its state.

    The init is a child of the calling process.  It keeps stdin, stdout and
    stderr, the socket-activation fds this process was given (LISTEN_FDS,
    passed on as runc does) and `preserve_fds` more after those; every other
    inherited descriptor is closed at exec.  A process.terminal goes to
    `console_socket`; with none and terminal_here, to a socket pair whose
    end the returned dict holds as "console" (see runtime.console).  With
    start, the init goes on to exec the user's process once it is ready,
    without waiting on exec.fifo (`run`: create and start in one).  On any
    failure everything made so far (process, cgroup, state directory) is
    removed again.
    """
    bundle = os.path.abspath(bundle)
    config = spec.load(bundle)
    if "process" not in config:
        raise spec.SpecError("process: required to create a container")
    listen = fds.listen_fds()
    if listen:
        config["process"]["env"] = [*(config["process"].get("env") or []),
                                    f"LISTEN_FDS={listen}", "LISTEN_PID=1"]
    keep_fds = fds.count(listen + preserve_fds)
    ns = spec.namespaces(config)
    if "mount" not in ns:
        raise spec.SpecError("linux.namespaces: a mount namespace is required")
    directory = state.create_dir(root, container_id)
    cgroup = pid = own_console = None
    try:
        fifo = os.path.join(directory, state.FIFO)
        os.mkfifo(fifo)
        # The init opens it for writing as the process's user, after the switch: world-
        # writable as runc makes it (a writer only waits; start is the reader, root's).
        os.chmod(fifo, 0o622)
        if "user" in ns:  # the init opens it as the user namespace's root
            from runtime.userns import host_root

            os.chown(fifo, *host_root(config["linux"]))
        console, own_console = _console(config["process"], console_socket, terminal_here)
        seccomp_filter = prepare(config["process"], config.get("linux", {}), _seccomp_cache(root),
                                 init="user" not in ns)
        fifo_fd = None if start else os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        # The cgroup managers are imported after the fork, but the layout module here: the
        # init reads it to mount the container's cgroups, and in a user namespace the
        # host's Python library may be out of its reach by then.
        from runtime.cgroups import layout  # noqa: F401
        ours, theirs = Channel.pair()
        init_args = (config, fifo_fd, console, seccomp_filter, keep_fds)
        if "user" in ns:
            from runtime import userns

            try:
                pid = userns.fork_init(ns, config.get("linux", {}), ours, theirs, init_main,
                                       *init_args)
            except BaseException:
                ours.close()
                theirs.close()
                raise
        else:
            pid = namespaces.fork_into_pid_namespace(ns.get("pid"), "pid" in ns and not ns["pid"])
            if pid == 0:
                ours.close()
                child_main(init_main, theirs, *init_args)
        theirs.close()
        if fifo_fd is not None:
            os.close(fifo_fd)
        if console is not None:
            os.close(console)
        st = {
            "ociVersion": config["ociVersion"], "id": container_id, "pid": pid,
            "status": "creating", "bundle": bundle, "rootfs": config["root"]["path"],
            "created": _timestamp(), "owner": "", "annotations": config.get("annotations") or {},
            "pidStartTime": state.process_start_time(pid), "config": config,
        }
        try:
            try:
                cgroup = _cgroup(container_id, config)  # imported and made while the init sets up
                cgroup.create(spec.cgroup_resources(config))
                cgroup.add(pid)
                warmup.stop()
                ours.send("go")
            except OSError:
                _raise_init_failure(pid, ours)
                raise
            state.save(root, st)  # while the init sets itself up
            if not start:
                import select  # noqa: F401 - for _release (start), at no cost here: the init is busy
            _drive_init(ours, config, st)
            if start:
                _await_exec(ours)
        finally:
            ours.close()
        if start:
            _started(root, st)
        else:
            st["status"] = "created"
        if pid_file:
            _write_atomically(pid_file, str(pid))
        return st if own_console is None else dict(st, console=own_console)
    except BaseException:
        if own_console is not None:
            os.close(own_console)
        _destroy(directory, pid, cgroup, our_child=True)
        raise


def start(container_id: str, root: str = DEFAULT_ROOT) -> dict:
    """Release a created container's init to exec the user's process."""
    st = state.load(root, container_id)
    if st["status"] != "created":
        raise StateError(f"cannot start a container that is {st['status']}")
    _release(root, st)
    return st


def run(container_id: str, bundle: str, root: str = DEFAULT_ROOT, console_socket: str | None = None,
        pid_file: str | None = None, detach: bool = False, keep: bool = False,
        preserve_fds: int = 0) -> int:
    """create + start + wait + delete, as `runc run`: the container's exit
    code (128+N when killed by signal N).  With detach, returns 0 once
    started; with keep, the stopped container is left for `delete`.  A
    terminal without a console socket is relayed to our own stdin/stdout."""
    forwarder = None if detach else SignalForwarder()  # before the process can start
    try:
        st = create(container_id, bundle, root, console_socket, pid_file, preserve_fds,
                    terminal_here=not detach, start=True)
    except BaseException:
        if forwarder is not None:
            forwarder.restore()
        raise
    if forwarder is None:
        return 0
    forwarder.to(st["pid"])
    exited = False
    try:
        if "console" in st:
            from runtime import console as terminal

            terminal.relay(terminal.receive_master(st.pop("console")))
        code = wait_exit_code(st["pid"])
        exited = True
        return code
    finally:
        forwarder.restore()
        if not keep:  # as delete --force, from the state we hold rather than state.json
            _remove(root, dict(st, status="stopped") if exited else st, our_child=True)


def exec_process(container_id: str, process: dict, root: str = DEFAULT_ROOT,
                 console_socket: str | None = None, pid_file: str | None = None,
                 detach: bool = False, preserve_fds: int = 0) -> int:
    """Run `process` (an OCI process object) inside a running container, in
    its namespaces and cgroup with the given capabilities, seccomp and
    rlimits, keeping stdio and `preserve_fds` more descriptors; returns its
    exit code (0 right away with detach)."""
    spec.validate_process(process)
    st = state.load(root, container_id)
    if st["status"] not in ("created", "running"):
        raise StateError(f"cannot exec in a {st['status']} container")
    init = st["pid"]
    config = st["config"]
    console, own_console = _console(process, console_socket, not detach)
    seccomp_filter = prepare(process, config.get("linux", {}), _seccomp_cache(root))
    ns_fds = namespaces.open_process_namespaces(init)
    ours, theirs = Channel.pair()
    pid = -1
    forwarder = None if detach else SignalForwarder()  # before the process can start
    try:
        pid = namespaces.fork_into_pid_namespace(f"/proc/{init}/ns/pid", False)
        if pid == 0:
            ours.close()
            child_main(exec_main, theirs, process, ns_fds, console, seccomp_filter,
                       fds.count(preserve_fds))
        theirs.close()
        _cgroup(container_id, config).add(pid)
        warmup.stop()
        ours.send("go")
        _await_exec(ours)
    except BaseException:
        if forwarder is not None:
            forwarder.restore()
        if pid > 0:
            _kill_and_reap(pid)
        if own_console is not None:
            os.close(own_console)
        raise
    finally:
        ours.close()
        for fd, _ in ns_fds:
            os.close(fd)
        if console is not None:
            os.close(console)
    if pid_file:
        _write_atomically(pid_file, str(pid))
    if forwarder is None:
        return 0
    forwarder.to(pid)
    try:
        if own_console is not None:
            from runtime import console as terminal

            terminal.relay(terminal.receive_master(own_console))
        return wait_exit_code(pid)
    finally:
        forwarder.restore()


def pause(container_id: str, root: str = DEFAULT_ROOT) -> None:
    """Freeze every process of a running container (runc pause, docker pause)."""
    st = state.load(root, container_id)
    if st["status"] != "running":
        raise StateError(f"cannot pause a container that is {st['status']}")
    marker = os.path.join(state.container_dir(root, container_id), state.PAUSED)
    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    try:
        _cgroup(container_id, st["config"]).freeze()
    except BaseException:
        os.unlink(marker)
        raise


def resume(container_id: str, root: str = DEFAULT_ROOT) -> None:
    """Thaw a paused container."""
    st = state.load(root, container_id)
    if st["status"] != "paused":
        raise StateError(f"cannot resume a container that is {st['status']}")
    _cgroup(container_id, st["config"]).thaw()
    os.unlink(os.path.join(state.container_dir(root, container_id), state.PAUSED))


def update(container_id: str, resources: dict, root: str = DEFAULT_ROOT) -> None:
    """Change a container's limits (runc update, docker update): `resources` (OCI
    linux.resources, only what changes) merged over what it has, written to
    its cgroup and kept in its state.  Device rules are left as they are, as
    runc leaves them: rewriting them would cut a running container's devices
    off for a moment."""
    st = state.load(root, container_id)
    if st["status"] == "stopped":
        raise StateError(f"cannot update a container that is {st['status']}")
    linux = st["config"].setdefault("linux", {})
    merged = dict(linux.get("resources") or {})
    for section, value in resources.items():
        old = merged.get(section)
        merged[section] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) \
            else value
    _cgroup(container_id, st["config"]).apply({k: v for k, v in merged.items() if k != "devices"})
    linux["resources"] = merged
    state.save(root, st)


def kill(container_id: str, sig: int = signal.SIGTERM, root: str = DEFAULT_ROOT,
         all_processes: bool = False) -> None:
    """Send sig to the init (or, with all_processes, to every process in its cgroup)."""
    st = state.load(root, container_id)
    if st["status"] == "stopped":
        raise StateError(f"container {container_id!r} is not running")
    if all_processes:
        _cgroup(container_id, st["config"]).kill_all(sig, freeze=st["status"] != "paused")
    else:
        os.kill(st["pid"], sig)


def delete(container_id: str, root: str = DEFAULT_ROOT, force: bool = False) -> None:
    """Remove a stopped (or created) container; force also kills a running one.
    Works after the runtime that made it was SIGKILLed at any point."""
    directory = state.container_dir(root, container_id)
    try:
        st = state.load(root, container_id)
    except StateError:
        if force and os.path.isdir(directory):  # killed between mkdir and state.json
            _destroy(directory, None, None, our_child=False)
            return
        raise
    if st["status"] in ("running", "paused") and not force:
        raise StateError(f"cannot delete container {container_id!r} that is {st['status']} "
                         "(use --force)")
    _remove(root, st, our_child=False)


def container_state(container_id: str, root: str = DEFAULT_ROOT) -> dict:
    """runc's `state` document: ociVersion, id, pid, status, bundle, rootfs, created, owner, annotations."""
    st = state.load(root, container_id)
    if st["status"] == "stopped":
        st["pid"] = 0
    return state.public(st)


def load_config(container_id: str, root: str = DEFAULT_ROOT) -> dict:
    """The configuration the container was created with."""
    return state.load(root, container_id)["config"]


def list_containers(root: str = DEFAULT_ROOT) -> list[dict]:
    found = []
    for container_id in state.list_ids(root):
        try:
            found.append(container_state(container_id, root))
        except StateError:  # deleted while we listed
            continue
    return found


def pids(container_id: str, root: str = DEFAULT_ROOT) -> list[int]:
    """Host pids of every process in the container's cgroup."""
    st = state.load(root, container_id)
    return _cgroup(container_id, st["config"]).pids()


def wait_exit_code(pid: int) -> int:
    """waitpid for our child, as a shell reports it: the code, or 128+signal."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# -- internals --------------------------------------------------------------

def _seccomp_cache(root: str) -> str:
    """Compiled seccomp programs, beside the containers' state (see runtime.seccomp)."""
    return os.path.join(root, SECCOMP_CACHE)


def _cgroup(container_id: str, config: dict):
    from runtime.cgroups import cgroups_path, open_manager

    return open_manager(cgroups_path(container_id, config.get("linux", {}).get("cgroupsPath")))


def _drive_init(chan: Channel, config: dict, st: dict) -> None:
    """Answer the (released) init until it is ready: hooks on request, errors raised."""
    while True:
        kind, text = chan.recv()
        if kind == "ready":
            return
        if kind == "hooks":
            public = dict(state.public(st), status="creating")
            _hooks(config, "prestart", public)
            _hooks(config, "createRuntime", public)
            chan.send("go")
        elif kind == "error":
            raise RuntimeFailure(text)
        else:
            raise RuntimeFailure("container init exited during set-up")


def _await_exec(chan: Channel) -> None:
    """Until the child's execve: its end of the channel is close-on-exec, so
    end-of-file means the user's process runs; an error it reports instead
    (a file that is no program, say) is raised."""
    kind, text = chan.recv()
    if kind != "eof":
        raise RuntimeFailure(text or "the container's process did not start")


def _raise_init_failure(pid: int, chan: Channel) -> None:
    """After a failed hand-off to the init: raise its own error if it failed
    first (it sets up before "go": the broken pipe or vanished pid is then only
    the consequence).  Kills it, so the channel reaches its end."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    kind, text = chan.recv()
    if kind == "error":
        raise RuntimeFailure(text)


def _release(root: str, st: dict) -> None:
    """Open exec.fifo for reading: the init's blocked open for writing returns,
    it writes one byte and execs.  The fifo is then removed (status: running)."""
    import select

    fifo = os.path.join(state.container_dir(root, st["id"]), state.FIFO)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(100):
            if state.process_start_time(st["pid"]) != st["pidStartTime"]:
                raise RuntimeFailure("container init exited before start")
        if os.read(fd, 1) != b"0":
            raise RuntimeFailure("container init exited before start")
    finally:
        os.close(fd)
    _started(root, st)


def _started(root: str, st: dict) -> None:
    """The init is past exec.fifo, on its way to exec: remove the fifo (status:
    running) and run the poststart hooks."""
    os.unlink(os.path.join(state.container_dir(root, st["id"]), state.FIFO))
    st["status"] = "running"
    _hooks(st["config"], "poststart", dict(state.public(st), status="running"))


def _remove(root: str, st: dict, our_child: bool) -> None:
    """delete's work on a loaded state: kill the init unless stopped (thawed first if
    paused: a frozen process does not die), remove the cgroup and the state
    directory, run the poststop hooks."""
    alive = st["status"] != "stopped"
    if st["status"] == "paused":
        _cgroup(st["id"], st["config"]).thaw()
    _destroy(state.container_dir(root, st["id"]), st["pid"] if alive else None,
             _cgroup(st["id"], st["config"]), our_child=our_child)
    _hooks(st["config"], "poststop", state.public(st))


def _hooks(config: dict, stage: str, st: dict) -> None:
    """config.hooks[stage] with the state `st`; the hooks module only for a config that has some."""
    if (config.get("hooks") or {}).get(stage):
        from runtime import hooks

        hooks.run(config, stage, st)


def _destroy(directory: str, pid: int | None, cgroup, our_child: bool) -> None:
    """Kill the init and everything in the cgroup, remove the cgroup, then the directory."""
    if pid:
        if our_child:
            _kill_and_reap(pid)
        else:
            _kill_and_await(pid)
    if cgroup is not None and cgroup.exists() and not cgroup.remove_if_empty():
        cgroup.kill_all(signal.SIGKILL)
        cgroup.destroy()
    state.remove_dir(directory)


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _kill_and_await(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL a process that may not be our child (its reaper is not us);
    reap it if it is, otherwise wait until it is dead or a zombie."""
    from runtime.cgroups.base import wait_until

    started = state.process_start_time(pid)
    if started is None:
        return
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:
            pass
        return state.process_start_time(pid) != started

    wait_until(gone, timeout, f"process {pid} to die after SIGKILL")


class SignalForwarder:
    """Passes FORWARDED_SIGNALS on to the container's process (`to`).  Made before
    that process can start: a signal arriving earlier, while it is being made,
    is kept and passed on once it runs, never lost, nor fatal to us."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.pid: int | None = None
        self.pending: list[int] = []
        self.previous = {sig: signal.signal(sig, self._handle) for sig in FORWARDED_SIGNALS}

    def to(self, pid: int) -> None:
        self.pid = pid
        while self.pending:
            self._handle(self.pending.pop(0), None)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame) -> None:
        if os.getpid() != self.owner:  # in a child forked since, before its exec: as without us
            self.restore()
            os.kill(os.getpid(), signum)
            return
        if self.pid is None:
            self.pending.append(signum)
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass


def _console(process: dict, console_socket: str | None, here: bool) -> tuple[int | None, int | None]:
    """(the child's console fd, ours) for process.terminal: the --console-socket
    connected, or, with none and `here`, a socket pair whose master we relay."""
    if not process.get("terminal"):
        return None, None
    if console_socket is None and here:
        from runtime import console as terminal

        size = terminal.console_size()
        if size:  # the pty starts at our size: the process may read it before the relay begins
            process["consoleSize"] = size
        ours, theirs = terminal.socket_pair()
        return theirs, ours
    return _connect_console(console_socket), None


def _connect_console(path: str | None) -> int:
    """Connect to the --console-socket; the child sends the pty master over it."""
    import socket

    if not path:
        raise RuntimeFailure("process.terminal needs --console-socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise RuntimeFailure(f"cannot connect to console socket {path}: {e.strerror}") from None
    return sock.detach()


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def _timestamp() -> str:
    """RFC 3339 with nanoseconds, UTC, as runc writes `created`."""
    now = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"
