"""What runs in the forked child, from fork to execve of the user's process.

Two children share this: the container's init (`init_main`, made by create)
and a process joining a running container (`exec_main`).  Both talk to the
runtime over a `Channel` of two pipes: they wait for "go" (the parent has put
them into the cgroup), set themselves up, and either report "error <text>" and
exit, or reach execve.  The child's end of the channel is close-on-exec, so
for an exec'd process an EOF on the parent's side means the execve
succeeded.

Order inside the child follows runc, because each step needs privileges the
next one takes away: namespaces and mounts (CAP_SYS_ADMIN), console, rlimits,
seccomp when no_new_privs is off (loading a filter then needs CAP_SYS_ADMIN),
user and capabilities, no_new_privs, [wait for start], seccomp when
no_new_privs is on (as late as possible, so the filter sees only the user's
process), execve.
"""

from __future__ import annotations

import os
import _signal as signal  # the signal module's ints, without its enum import (start-up time)

from runtime import capabilities, fds, mounts, namespaces, spec
from runtime import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the interpreter sets to SIG_IGN at start-up (subprocess restores the same)
PYTHON_IGNORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def prepare(process: dict, linux: dict, seccomp_cache: str | None = None,
            init: bool = False):
    """Ready in the runtime, before fork, what the child cannot get itself
    after pivot_root (the host's Python library and libseccomp are out of its
    reach there): imports, and the compiled seccomp filter, returned (or
    None) for the child to load; compiled programs are kept in seccomp_cache.
    A container's init without a user namespace (`init`) imports rlimits
    itself, before its mounts, while the runtime makes the cgroup (in a user
    namespace the host's Python library may be out of its reach)."""
    if process.get("terminal"):
        import fcntl, socket, struct, termios  # noqa: E401,F401 - for setup_console
    if process.get("rlimits") and not init:
        from runtime import rlimits  # noqa: F401
    capabilities.last_cap()  # read here, where /proc is the host's, and cached for the child
    if not linux.get("seccomp"):
        return None
    from runtime import seccomp
    return seccomp.prepare(linux["seccomp"], seccomp_cache)


class Channel:
    """A message line each way between the runtime and its child: "<kind> <text>"."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._buffer = b""

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        """(parent's end, child's end); each side closes the other's after fork."""
        down_r, down_w = os.pipe2(os.O_CLOEXEC)
        up_r, up_w = os.pipe2(os.O_CLOEXEC)
        return Channel(up_r, down_w), Channel(down_r, up_w)

    def send(self, kind: str, text: str = "") -> None:
        os.write(self.write_fd, f"{kind} {text}".replace("\n", " ").encode() + b"\n")

    def recv(self) -> tuple[str, str]:
        """The next message; ("eof", "") once the other side closed its end."""
        while b"\n" not in self._buffer:
            chunk = os.read(self.read_fd, 4096)
            if not chunk:
                return "eof", ""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        kind, _, text = line.decode().partition(" ")
        return kind, text

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            os.close(fd)


def child_main(body, chan: Channel, *args) -> None:
    """Run body(chan, *args) in the child; never return into the parent's code."""
    try:
        body(chan, *args)
    except BaseException as e:  # everything becomes a message: the parent owns the reporting
        try:
            chan.send("error", str(e) or type(e).__name__)
        finally:
            os._exit(1)
    os._exit(0)


def init_main(chan: Channel, config: dict, fifo_fd: int | None, console_fd: int | None,
              seccomp_filter, keep_fds: int = 3) -> None:
    """The container's init: PID 1 of its namespace, waits for `start` on exec.fifo
    (without a fifo_fd it is started at once), then execs.

    What does not need the cgroup (closing fds, the namespaces but cgroup's,
    the hostname, the mounts before the first cgroup file system) is done
    while the runtime makes the cgroup and moves us into it; the cgroup
    namespace comes after "go", as in runc, so its root is the container's
    cgroup.  The prestart and createRuntime hooks run after the mounts,
    before pivot_root, as runc runs them."""
    fds.keep_only(keep_fds)  # here, while /proc is still the host's
    ns = spec.namespaces(config)
    if config["process"].get("rlimits") and "user" not in ns:
        from runtime import rlimits  # noqa: F401 - see prepare
    namespaces.enter(ns, but=("cgroup",))
    if "uts" in ns:
        if config.get("hostname"):
            sc.sethostname(config["hostname"])
        if config.get("domainname"):
            sc.setdomainname(config["domainname"])
    mounted = mounts.mount_early(config)
    expect(chan, "go")  # we are in the cgroup, and the runtime's child (see runtime.userns)
    parent = os.getppid()
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # a runtime killed mid-create takes us along
    if os.getppid() != parent:
        os._exit(1)
    namespaces.enter({"cgroup": ns["cgroup"]} if "cgroup" in ns else {})
    if config.get("hooks", {}).get("createRuntime") or config.get("hooks", {}).get("prestart"):
        chan.send("hooks")
        expect(chan, "go")
    mounts.prepare_rootfs(config, "cgroup" in ns, mounted)
    for key, value in (config.get("linux", {}).get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    mounts.finalize_rootfs(config)
    process = config["process"]
    argv0, env = prepare_process(process, console_fd, seccomp_filter)
    # From here on the runtime may exit (create) without killing us.
    sc.prctl(sc.PR_SET_PDEATHSIG, 0)
    if os.getppid() != parent:
        os._exit(1)
    chan.send("ready")
    if fifo_fd is not None:  # else started at once (run)
        fifo = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)  # blocks until start
        os.write(fifo, b"0")
        os.close(fifo)
        os.close(fifo_fd)
    execute(argv0, env, process, seccomp_filter)


def exec_main(chan: Channel, process: dict, ns_fds: list[tuple[int, int]],
              console_fd: int | None, seccomp_filter, keep_fds: int = 3) -> None:
    """A process joining a running container (`exec`), with the container's restrictions."""
    fds.keep_only(keep_fds)
    expect(chan, "go")
    namespaces.join(ns_fds)
    argv0, env = prepare_process(process, console_fd, seccomp_filter)
    execute(argv0, env, process, seccomp_filter)


def prepare_process(process: dict, console_fd: int | None,
                    seccomp_filter) -> tuple[str, dict[str, str]]:
    """Session, console, limits, identity and privileges; returns the resolved
    executable and the environment to run it with."""
    os.setsid()
    if process.get("terminal"):
        if console_fd is None:
            raise RuntimeError("process.terminal is set but no console socket was given")
        setup_console(console_fd, process.get("consoleSize"))
    if "oomScoreAdj" in process:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    if process.get("rlimits"):
        from runtime import rlimits
        rlimits.apply(process["rlimits"])
    if seccomp_filter is not None and not process.get("noNewPrivileges"):
        seccomp_filter.load()
    _set_identity(process)
    if process.get("noNewPrivileges"):
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    env = _environment(process)
    try:
        os.chdir(process["cwd"])
    except OSError as e:
        raise RuntimeError(f"cannot change to working directory {process['cwd']!r}: {e.strerror}") from None
    return find_executable(process["args"][0], env.get("PATH", DEFAULT_PATH)), env


def execute(argv0: str, env: dict[str, str], process: dict, seccomp_filter) -> None:
    """The last steps: the signals Python ignores back to their defaults, the late
    seccomp filter (with no_new_privs), then execve."""
    for sig in PYTHON_IGNORED_SIGNALS:  # an ignored signal stays ignored across execve
        signal.signal(sig, signal.SIG_DFL)
    if seccomp_filter is not None and process.get("noNewPrivileges"):
        seccomp_filter.load()
    try:
        os.execve(argv0, process["args"], env)
    except OSError as e:  # a file that is no program, or not ours to run: say which and why
        raise RuntimeError(f"exec {argv0}: {e.strerror}") from None


def _set_identity(process: dict) -> None:
    """Groups, gid and uid, inside the capabilities library's sequence: the
    bounding set must be cut while still root, and the switch happens with
    PR_SET_KEEPCAPS on so the configured capabilities survive leaving root."""
    user = process.get("user", {})
    uid, gid = user.get("uid", 0), user.get("gid", 0)

    def switch_user() -> None:
        os.setgroups(user.get("additionalGids") or [])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)

    capabilities.apply(process.get("capabilities"), switch_user=switch_user)


def _environment(process: dict) -> dict[str, str]:
    """process.env, with HOME added when it has none, as runc and crun add it:
    the user's home in the container's /etc/passwd, else /.  Read in the
    container's root, as the user the process runs as."""
    env = {}
    for entry in process.get("env") or []:
        key, _, value = entry.partition("=")
        env[key] = value
    if not env.get("HOME"):
        env["HOME"] = _home(process.get("user", {}).get("uid", 0))
    return env


def _home(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5]
    except OSError:  # no passwd, or not readable by this user
        pass
    return "/"


def find_executable(name: str, path: str) -> str:
    """execvp's search, done in the container's filesystem before start, so a
    missing command fails `create` rather than the container."""
    if "/" in name:
        return name
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(f"exec: {name!r}: executable file not found in $PATH")


def setup_console(socket_fd: int, size: dict | None) -> None:
    """Open a pty in the container's devpts, send its master to the console
    socket (SCM_RIGHTS, as runc) and make the slave our controlling terminal."""
    import fcntl
    import socket
    import struct
    import termios

    master, slave = os.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0))
    sock = socket.socket(fileno=socket_fd)
    try:
        socket.send_fds(sock, [os.ttyname(slave).encode()], [master])
    finally:
        sock.close()
        os.close(master)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def expect(chan: Channel, kind: str) -> None:
    """Read the next message; anything but `kind` is an error (EOF: the runtime is gone)."""
    got, text = chan.recv()
    if got != kind:
        raise RuntimeError(f"runtime said {got!r} {text}, expected {kind!r}")
