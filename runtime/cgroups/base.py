"""The cgroup manager interface, and the file plumbing every hierarchy shares.

A manager owns one container's cgroup: it creates it with the OCI limits,
moves processes in, reads usage (memory, OOM kills, pids, CPU), freezes and
kills what is inside and removes it again.  v1 and v2 differ in file names and
in how the tree is laid out, not in what a runtime asks of them, so the engine
talks to this interface and never to a hierarchy.
"""

from __future__ import annotations

import errno
import os
import _signal as signal  # the signal module's ints, without its enum import (start-up time)
import time

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from .resources import Resources


class CgroupError(Exception):
    """A cgroup could not be created, limited, read or removed; the message says which and why."""


def write_file(path: str, value: str | int) -> None:
    """Write one value; the kernel's refusal becomes a CgroupError naming file and value."""
    try:
        _write(path, str(value))
    except OSError as e:
        raise CgroupError(f"cannot write {str(value)!r} to {path}: {e.strerror}") from None


def _write(path: str, text: str) -> None:
    """One write(2) of text to path: os.open, not open(), whose buffered text
    file costs several times the system calls (a container start writes ~30)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)  # as open("w")
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def read_file(path: str) -> str | None:
    """A cgroup file's content, or None when the file (or its controller) is absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode().strip()


# v1 reports "no limit" as a huge page-rounded number rather than "max".
_UNLIMITED_FLOOR = 1 << 62


def read_int(path: str) -> int | None:
    """An integer file; "max" and v1's near-2^63 "unlimited" both read as -1."""
    text = read_file(path)
    if text is None or text == "":
        return None
    if text == "max":
        return -1
    value = int(text.split()[0])
    return -1 if value >= _UNLIMITED_FLOOR else value


def read_keyed(path: str) -> dict[str, int]:
    """A flat "key value" file (memory.events, cpu.stat, memory.oom_control) as a dict."""
    result: dict[str, int] = {}
    for line in (read_file(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            result[key] = int(value)
    return result


def tree_pids(top: str) -> list[int]:
    """Every process in cgroup `top` and its descendants (sub-cgroups a container made itself)."""
    pids: list[int] = []
    for dirpath, _, files in os.walk(top):
        if "cgroup.procs" in files:
            text = read_file(os.path.join(dirpath, "cgroup.procs")) or ""
            pids.extend(int(p) for p in text.split())
    return pids


def remove_tree(top: str, deadline: float) -> None:
    """rmdir `top` and its sub-cgroups bottom-up, retrying while exiting tasks drain.

    A killed process leaves its cgroup only once the kernel has reaped it, so
    EBUSY right after a kill is normal and worth a short wait; past the
    deadline the error names the processes still inside.
    """
    try:
        os.rmdir(top)  # the usual case, no sub-cgroups and nobody inside: no walk needed
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for dirpath in reversed([d for d, _, _ in os.walk(top)]):
        delay = 0.002
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                    raise CgroupError(f"cannot remove cgroup {dirpath}: {e.strerror} "
                                      f"(processes inside: {tree_pids(dirpath)})") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` with backoff; freezing is asynchronous in both hierarchies."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not condition():
        if time.monotonic() > deadline:
            raise CgroupError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class CgroupStats:
    """Usage of one cgroup; None where the hierarchy has no such controller.

    memory_* are bytes (limit -1: unlimited), cpu_usage_ns is total CPU time,
    oom_kills counts processes the kernel OOM killer killed in this cgroup.
    """

    FIELDS = ("memory_usage", "memory_max_usage", "memory_limit", "oom_kills",
              "pids_current", "pids_limit", "cpu_usage_ns")
    __slots__ = FIELDS

    def __init__(self, **values: int | None) -> None:
        for name in self.FIELDS:
            setattr(self, name, values.pop(name, None))
        if values:
            raise TypeError(f"unknown stats fields: {sorted(values)}")

    def merge(self, other: CgroupStats) -> CgroupStats:
        """Fill this one's gaps from `other` (hybrid hosts split controllers between hierarchies)."""
        return CgroupStats(**{name: getattr(self, name) if getattr(self, name) is not None
                              else getattr(other, name) for name in self.FIELDS})

    def as_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self) -> str:
        return f"CgroupStats({self.as_dict()})"


class CgroupManager:
    """One container's cgroup on one host layout.

    Construction only computes paths, so the same manager can be rebuilt later
    from the saved cgroupsPath (by `delete`, `kill`, `ps`) to find the cgroup
    `create` made.  Subclasses implement the underscored primitives.
    """

    #: Controllers whose limits this manager can apply.
    controllers: frozenset[str] = frozenset()
    #: Whether OCI linux.resources.unified (raw cgroup v2 files) can be honoured.
    supports_unified = False

    def __init__(self, path: str) -> None:
        self.path = path

    # -- the interface -------------------------------------------------

    def create(self, resources: Resources | Mapping[str, Any] | None = None) -> None:
        """Make the cgroup and apply the limits, before any process is put in it.

        On failure, whatever was created is removed again, so a bad limit
        never leaves an empty cgroup behind.
        """
        res = self._resources(resources)
        try:
            self._create(res)
            self._apply(res)
        except BaseException:
            try:
                self.destroy(timeout=1.0)
            except CgroupError:
                pass  # the limit's error is the one worth reporting
            raise

    def apply(self, resources: Resources | Mapping[str, Any]) -> None:
        """Change the limits of an existing cgroup (docker update); checked against current usage."""
        self._apply(self._resources(resources))

    def add(self, pid: int) -> None:
        """Move process `pid` (and later its children) into the cgroup."""
        for directory in self.dirs():
            write_pid(directory, pid)

    def pids(self) -> list[int]:
        """Every process in the cgroup, sub-cgroups included, sorted."""
        found: set[int] = set()
        for directory in self.dirs():
            found.update(tree_pids(directory))
        return sorted(found)

    def oom_killed(self) -> bool:
        """Whether the OOM killer has killed a process in this cgroup (read it before destroy)."""
        return bool(self.stats().oom_kills)

    def kill_all(self, sig: int = signal.SIGKILL, freeze: bool = True) -> None:
        """Signal every process inside, frozen first (unless `freeze` is False: a paused
        cgroup, which must stay frozen) so none can fork past the signal."""
        frozen = freeze and self._try_freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self.thaw()

    def destroy(self, timeout: float = 5.0) -> None:
        """Remove the cgroup directories bottom-up; processes must be gone (kill_all first)."""
        deadline = time.monotonic() + timeout
        for directory in self.dirs():
            remove_tree(directory, deadline)

    def remove_if_empty(self) -> bool:
        """Remove the cgroup if nothing is left inside; False (and nothing freezes or waits)
        if a process still is.  After a container's PID 1 exits the kernel has killed the
        rest of its PID namespace, so this is the usual way out, a few rmdir calls."""
        try:
            self.destroy(timeout=0)
        except CgroupError:
            return False
        return True

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs())

    def dirs(self) -> list[str]:
        """The cgroup's directories, one per distinct hierarchy (one on pure v2)."""
        raise NotImplementedError

    def stats(self) -> CgroupStats:
        raise NotImplementedError

    def freeze(self) -> None:
        """Stop every process inside (docker pause); returns once the kernel says frozen."""
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    # -- for subclasses ------------------------------------------------

    def _create(self, res: Resources) -> None:
        raise NotImplementedError

    def _apply(self, res: Resources) -> None:
        raise NotImplementedError

    def _try_freeze(self) -> bool:
        try:
            self.freeze()
        except CgroupError:
            return False
        return True

    def _resources(self, resources: Resources | Mapping[str, Any] | None) -> Resources:
        """Parse and check that this host can enforce every limit asked for."""
        from .resources import Resources

        res = resources if isinstance(resources, Resources) else Resources.from_oci(resources)
        missing = res.controllers() - self.controllers
        if missing:
            raise CgroupError(f"limits need the cgroup controller(s) {', '.join(sorted(missing))}, "
                              f"which this host does not provide (cgroup path {self.path})")
        if res.unified and not self.supports_unified:
            raise CgroupError("linux.resources.unified needs a cgroup v2 hierarchy")
        return res


def write_pid(directory: str, pid: int) -> None:
    """Add a pid to cgroup.procs; EINVAL can mean the task is still being created, so retry."""
    for _ in range(5):
        try:
            _write(os.path.join(directory, "cgroup.procs"), str(pid))
            return
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise CgroupError(f"cannot add process {pid} to {directory}: {e.strerror}") from None
            time.sleep(0.03)
    raise CgroupError(f"cannot add process {pid} to {directory}: still invalid after retries")
