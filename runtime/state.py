"""Per-container runtime state: <root>/<id>/state.json and exec.fifo, as runc keeps /run/runc.

state.json holds what later commands need (the init's pid and start time, the
bundle, the config as it was at create time, the cgroup's path); the
container's *status* is never stored but derived, as runc does, so it is right
even after the runtime process or the machine's init reaped or lost the
container:

- the init process is gone (or its pid now belongs to another process,
  detected by the start time in /proc/<pid>/stat): stopped;
- exec.fifo still exists: created (the init is waiting to be started);
- the `paused` marker exists: paused (runc reads its freezer instead; the
  marker spares every `state` the cgroup code);
- otherwise: running.
"""

from __future__ import annotations

import os

from runtime import jsonio

DEFAULT_ROOT = "/run/dockyard-runtime"
FIFO = "exec.fifo"
PAUSED = "paused"  # made by `pause` before it freezes the cgroup, removed by `resume` after thawing

_ID_PUNCTUATION = frozenset("_+-.")

# keys of state.json that make up the OCI/runc `state` output, in runc's order
PUBLIC_KEYS = ("ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations")


class StateError(Exception):
    """The container does not exist, already exists, or is in the wrong state."""


def container_dir(root: str, container_id: str) -> str:
    valid = container_id and all(c.isascii() and (c.isalnum() or c in _ID_PUNCTUATION) for c in container_id)
    if not valid or container_id in (".", ".."):
        raise StateError(f"invalid container id {container_id!r}")
    return os.path.join(root, container_id)


def create_dir(root: str, container_id: str) -> str:
    """Claim the id: mkdir is atomic, so two concurrent creates cannot both win."""
    path = container_dir(root, container_id)
    os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise StateError(f"container {container_id!r} already exists") from None
    return path


def remove_dir(directory: str) -> None:
    """Remove a container's directory (flat: state.json, exec.fifo, temp files);
    not shutil.rmtree, whose import alone costs more than this."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


def save(root: str, state: dict) -> None:
    """Write state.json atomically (temp file, rename).

    Not fsynced, as runc does not: the state root is volatile (/run, a
    tmpfs), and state.json is about processes, which a crash or reboot ends
    anyway.  The rename alone keeps readers from seeing half a file.
    """
    directory = container_dir(root, state["id"])
    tmp = os.path.join(directory, ".state.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, jsonio.dumps(state).encode())
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(directory, "state.json"))


def load(root: str, container_id: str) -> dict:
    """The stored state with its current status filled in."""
    directory = container_dir(root, container_id)
    try:
        state = jsonio.load_file(os.path.join(directory, "state.json"))
    except FileNotFoundError:
        raise StateError(f"container {container_id!r} does not exist") from None
    state["status"] = status(directory, state)
    return state


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.isfile(os.path.join(root, n, "state.json")))


def public(state: dict) -> dict:
    """The runc-compatible `state` document."""
    return {k: state[k] for k in PUBLIC_KEYS if k in state}


def status(directory: str, state: dict) -> str:
    if not state.get("pid") or process_start_time(state["pid"]) != state.get("pidStartTime"):
        return "stopped"
    if os.path.exists(os.path.join(directory, FIFO)):
        return "created"
    if os.path.exists(os.path.join(directory, PAUSED)):
        return "paused"
    return "running"


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid it
    names one process for good.  None for a process that is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]
