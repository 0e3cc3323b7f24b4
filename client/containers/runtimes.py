"""The OCI runtimes a container can run on: dockyard's own engine, or any runc-compatible command.

``dockyard`` (the default) calls ``runtime.engine`` in-process: no second
interpreter to start, which is most of a short container's cost.  ``crun``,
``runc`` or a path run as commands with runc's contract (``create`` then
``start``, ``kill``, ``delete --force``, ``exec --process``), as containerd
and podman drive them.

Either way the container's init ends up a child of the supervising process,
which is how it learns the exit status: the engine forks it directly, and a
command's ``create`` leaves it orphaned, to be adopted by the supervisor, a
child subreaper (conmon's arrangement).  The init inherits stdin, stdout and
stderr from the process that creates it, so the supervisor passes the
container's streams as those.
"""

from __future__ import annotations

import os

from client.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Sequence

BUILTIN = "dockyard"
KNOWN_COMMANDS = ("crun", "runc", "dockyard-runtime")


class RuntimeError_(DockyardError):
    """The runtime refused or failed; ``exit_code`` is what ``run`` exits with (Docker's 125-127)."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exec_failure(message: str) -> RuntimeError_:
    """A failure to start the command: 127 when it is missing, 126 when it cannot be run."""
    lowered = message.lower()
    if "not found" in lowered or "no such file" in lowered:
        return RuntimeError_(message, 127)
    if "permission denied" in lowered or "is a directory" in lowered:
        return RuntimeError_(message, 126)
    return RuntimeError_(message)


def get(name: str, state_root: str) -> Runtime:
    """The runtime ``--runtime name`` means; its state lives under ``state_root/<name>``."""
    if name == BUILTIN:
        return EngineRuntime(os.path.join(state_root, BUILTIN))
    from shutil import which

    path = which(name) if "/" not in name else name
    if not path or not os.access(path, os.X_OK):
        raise DockyardError(f"unknown or missing runtime {name!r}: use dockyard, "
                            f"{', '.join(KNOWN_COMMANDS)} or the path of an OCI runtime")
    return CommandRuntime(path, os.path.join(state_root, os.path.basename(name)))


class Runtime:
    """What the supervisor and the commands need of an OCI runtime."""

    def __init__(self, root: str) -> None:
        self.root = root

    def create(self, container_id: str, bundle: str, stdio: Sequence[int],
               console_socket: str | None) -> int:
        """Create the container with ``stdio`` as its fds 0-2; returns the init's pid (our child)."""
        raise NotImplementedError

    def start(self, container_id: str) -> None:
        raise NotImplementedError

    def kill(self, container_id: str, signal: int) -> None:
        """Signal the init; a container that is gone is not an error."""
        raise NotImplementedError

    def delete(self, container_id: str) -> None:
        """Remove the container's runtime state and cgroup, killing what is left; absent is fine."""
        raise NotImplementedError

    def exec(self, container_id: str, process_file: str, stdio: Sequence[int],
             console_socket: str | None) -> int:
        """Start the OCI process in ``process_file`` in the container, with ``stdio`` as fds 0-2.

        Returns a pid to wait for (our child), whose exit status is the process's.
        """
        raise NotImplementedError


class EngineRuntime(Runtime):
    """runtime.engine in this process."""

    def create(self, container_id: str, bundle: str, stdio: Sequence[int],
               console_socket: str | None) -> int:
        from runtime import engine

        with _stdio_as(stdio):
            try:
                return engine.create(container_id, bundle, self.root, console_socket)["pid"]
            except Exception as err:  # every engine error is the user's to read
                raise exec_failure(str(err)) from None

    def start(self, container_id: str) -> None:
        from runtime import engine
        try:
            engine.start(container_id, self.root)
        except Exception as err:
            raise RuntimeError_(str(err)) from None

    def kill(self, container_id: str, signal: int) -> None:
        from runtime import engine
        from runtime.state import StateError
        try:
            engine.kill(container_id, signal, self.root)
        except (StateError, ProcessLookupError):
            pass

    def delete(self, container_id: str) -> None:
        from runtime import engine
        from runtime.state import StateError
        try:
            engine.delete(container_id, self.root, force=True)
        except StateError:
            pass

    def exec(self, container_id: str, process_file: str, stdio: Sequence[int],
             console_socket: str | None) -> int:
        import json

        from runtime import engine

        with open(process_file) as f:
            process = json.load(f)
        pid_file = os.path.join(self.root, f"{container_id}.exec-{os.getpid()}.pid")
        try:
            with _stdio_as(stdio):
                engine.exec_process(container_id, process, self.root, console_socket, pid_file,
                                    detach=True)
            with open(pid_file) as f:
                return int(f.read())
        except Exception as err:
            raise exec_failure(str(err)) from None
        finally:
            _unlink(pid_file)


class CommandRuntime(Runtime):
    """A runc-compatible command (crun, runc, dockyard-runtime)."""

    def __init__(self, path: str, root: str) -> None:
        super().__init__(root)
        self.path = path

    def create(self, container_id: str, bundle: str, stdio: Sequence[int],
               console_socket: str | None) -> int:
        from runtime import syscalls as sc

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # adopt the init once `create` exits
        pid_file = os.path.join(bundle, "init.pid")
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._call([*args, container_id], stdio, exec_errors=True)
        with open(pid_file) as f:
            return int(f.read())

    def start(self, container_id: str) -> None:
        self._call(["start", container_id])

    def kill(self, container_id: str, signal: int) -> None:
        try:
            self._call(["kill", container_id, str(signal)])
        except RuntimeError_:
            pass  # stopped or gone already

    def delete(self, container_id: str) -> None:
        try:
            self._call(["delete", "--force", container_id])
        except RuntimeError_ as err:
            if "not exist" not in str(err) and "not found" not in str(err):
                raise

    def exec(self, container_id: str, process_file: str, stdio: Sequence[int],
             console_socket: str | None) -> int:
        args = [self.path, "--root", self.root, "exec", "--process", process_file]
        if console_socket:
            args += ["--console-socket", console_socket, "--tty"]
        # The command waits for the process itself: its exit status is the process's.
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        return os.posix_spawn(self.path, [*args, container_id], os.environ, file_actions=actions)

    def _call(self, args: list[str], stdio: Sequence[int] | None = None,
              exec_errors: bool = False) -> None:
        import subprocess

        os.makedirs(self.root, mode=0o700, exist_ok=True)
        log = os.path.join(self.root, f".log-{os.getpid()}")
        command = [self.path, "--root", self.root, "--log", log, "--log-format", "json", *args]
        try:
            if stdio is None:
                result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
                stderr = result.stderr.decode(errors="replace")
            else:
                result = subprocess.run(command, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
                stderr = ""
            if result.returncode != 0:
                message = _last_error(log) or stderr.strip() or f"exit status {result.returncode}"
                name = os.path.basename(self.path)
                error = f"{name} {args[0]}: {message}"
                raise exec_failure(error) if exec_errors else RuntimeError_(error)
        finally:
            _unlink(log)


def _last_error(log: str) -> str:
    """The last message of a runtime's JSON log (runc and crun write one object per line)."""
    import json

    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal", None) and entry.get("msg"):
            return entry["msg"]
    return ""


class _stdio_as:
    """Make fds 0-2 the given ones for a block (a forked child inherits them), then restore."""

    def __init__(self, stdio: Sequence[int]) -> None:
        self.stdio = stdio
        self.saved: list[int] = []

    def __enter__(self) -> None:
        import sys
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self.saved = [os.dup(fd) for fd in (0, 1, 2)]
        for fd, new in enumerate(self.stdio):
            if new != fd:
                os.dup2(new, fd)

    def __exit__(self, *exc: object) -> None:
        for fd, saved in enumerate(self.saved):
            os.dup2(saved, fd)
            os.close(saved)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
