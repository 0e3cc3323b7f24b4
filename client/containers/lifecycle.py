"""What the container commands do: create, refresh, stop, kill, remove, wait, prune.

States follow Docker's: ``created`` (a record and an empty upper layer, no
process, nothing mounted), ``running`` (a supervisor owns it), ``exited``.
Every command first ``refresh``es the records it touches: a record whose
supervisor is gone while it still holds resources is finished on the spot,
which is how a SIGKILLed ``dockyard run`` or supervisor is cleaned up after.
A container whose supervisor died but whose process still runs stays
``running``: stop, kill and rm still work on it.
"""

from __future__ import annotations

import os
import signal

from . import procs, runtimes
from .records import ZERO_TIME, ContainerConflict, ContainerStore, NoSuchContainer, timestamp

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    import argparse

    from client.context import Context

DEFAULT_STOP_TIMEOUT = 10
_SUPERVISOR_GRACE = 30.0  # seconds a supervisor may take to record an exit


def create(ctx: Context, args: argparse.Namespace) -> dict:
    """A new container record for ``args`` (create/run flags); nothing runs yet."""
    from . import image, names, networking, options

    store = ContainerStore(ctx.root_dir)
    sweep(store)
    img = image.resolve(ctx, args.image)
    host = options.host_config(args)
    if host["Memory"] and not host["MemorySwap"]:
        host["MemorySwap"] = 2 * host["Memory"]  # Docker's default: as much swap as memory
    runtimes.get(host["Runtime"], store.runtime_root)  # fail now on an unknown runtime
    container_id = names.new_id()
    config = options.container_config(args, img, container_id)
    argv = options.command_line(config)
    name = names.check_name(args.name) if args.name else None
    for _ in range(5):
        chosen = name or names.generate_name(store.name_taken)
        try:
            store.claim(container_id, chosen)
            break
        except ContainerConflict:
            if name:
                raise
    else:
        raise ContainerConflict("could not find a free name: give one with --name")
    path = store.path
    for directory in ("rootfs", "upper", "work"):
        os.mkdir(path(container_id, directory), 0o755)
    record = {
        "Id": container_id,
        "Created": timestamp(),
        "Path": argv[0],
        "Args": argv[1:],
        "State": {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
                  "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME},
        "Image": img.id,
        "ResolvConfPath": path(container_id, "resolv.conf"),
        "HostnamePath": path(container_id, "hostname"),
        "HostsPath": path(container_id, "hosts"),
        "LogPath": path(container_id, f"{container_id}-json.log"),
        "Name": f"/{chosen}",
        "RestartCount": 0,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": host,
        "GraphDriver": {"Name": "overlay", "Data": {
            "LowerDir": ":".join(d for d, _ in reversed(img.layers)),
            "UpperDir": path(container_id, "upper"), "WorkDir": path(container_id, "work"),
            "MergedDir": path(container_id, "rootfs")}},
        "Mounts": [_mount_point(bind) for bind in host["Binds"]],
        "Config": config,
        "NetworkSettings": {"Networks": {host["NetworkMode"]: networking.endpoint_settings(args)}},
        # not Docker's: what later commands need to run and clean up the container
        "Dockyard": {"Layers": img.layers, "Held": False, "Supervisor": None, "Init": None},
    }
    try:
        store.save(record)
    except BaseException:
        store.remove(record)
        raise
    return record


def _mount_point(bind: str) -> dict:
    source, destination, *mode = bind.split(":")
    return {"Type": "bind", "Source": source, "Destination": destination, "Mode": "".join(mode),
            "RW": mode != ["ro"], "Propagation": "rprivate"}


def refresh(store: ContainerStore, record: dict) -> dict | None:
    """The record, after finishing the run it describes if its supervisor died holding resources.

    None when finishing it removed it (--rm).  Taking over as supervisor
    under the record's lock makes sure only one process finishes it.
    """
    from .supervisor import UNKNOWN_EXIT, finish

    private = record["Dockyard"]
    if not private.get("Held") or procs.alive(private.get("Supervisor")):
        return record
    with store.lock(record["Id"]):
        record = store.load(record["Id"])
        private = record["Dockyard"]
        if not private.get("Held") or procs.alive(private.get("Supervisor")):
            return record
        if record["State"]["Running"] and procs.alive(private.get("Init")):
            return record  # still running without a supervisor: left to stop/kill/rm
        private["Supervisor"] = procs.identity(os.getpid())
        store.save(record)
    started = record["State"]["Running"]
    finish(store, record, UNKNOWN_EXIT if started else 125, started=started,
           error="" if started else "the start was interrupted")
    try:
        return store.load(record["Id"])
    except NoSuchContainer:
        return None


def sweep(store: ContainerStore) -> list[dict]:
    """Refresh every container (what ``ps`` and ``run`` do first); the ones that remain."""
    store.remove_debris()
    records = []
    for record in store.all():
        current = refresh(store, record)
        if current is not None:
            records.append(current)
    return records


def find(store: ContainerStore, name: str) -> dict:
    """The container ``name`` names, refreshed; NoSuchContainer if it is (or just went) away."""
    record = refresh(store, store.find(name))
    if record is None:
        raise NoSuchContainer(f"No such container: {name}")
    return record


def stop(store: ContainerStore, record: dict, timeout: int | None = None) -> None:
    """Docker's stop: the stop signal, then SIGKILL after ``timeout`` seconds; returns once exited."""
    if not record["State"]["Running"]:
        return
    if timeout is None:
        timeout = record["Config"].get("StopTimeout", DEFAULT_STOP_TIMEOUT)
    init = record["Dockyard"]["Init"]
    _runtime(store, record).kill(record["Id"], parse_signal(record["Config"].get("StopSignal")
                                                            or "SIGTERM"))
    if not procs.wait_gone(init, max(timeout, 0)):
        _runtime(store, record).kill(record["Id"], signal.SIGKILL)
        procs.wait_gone(init, _SUPERVISOR_GRACE)
    await_supervisor(store, record)


def kill(store: ContainerStore, record: dict, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the container's init; for SIGKILL, return once it has exited."""
    if not record["State"]["Running"]:
        raise ContainerConflict(f"Cannot kill container: {record['Id'][:12]}: Container "
                                f"{record['Id']} is not running")
    _runtime(store, record).kill(record["Id"], sig)
    if sig == signal.SIGKILL:
        procs.wait_gone(record["Dockyard"]["Init"], _SUPERVISOR_GRACE)
        await_supervisor(store, record)


def remove(store: ContainerStore, record: dict, force: bool = False) -> None:
    """Docker's rm: refused while running unless forced; nothing of the container is left after."""
    if record["State"]["Running"]:
        if not force:
            raise ContainerConflict(
                f"You cannot remove a running container {record['Id']}. Stop the container "
                "before attempting removal or force remove")
        kill(store, record)
    try:
        record = store.load(record["Id"])
    except NoSuchContainer:  # --rm: its supervisor removed it
        return
    if procs.alive(record["Dockyard"].get("Supervisor")):
        raise ContainerConflict(f"container {record['Id'][:12]} is being started or stopped; "
                                "try again")
    if record["Dockyard"].get("Held"):
        from .supervisor import release
        release(store, record)
    store.remove(record)


def wait(store: ContainerStore, record: dict) -> int:
    """Block until the container is not running; its exit code (also once --rm removed it)."""
    container_id = record["Id"]
    if record["State"]["Running"]:
        procs.wait_gone(record["Dockyard"]["Init"])
        record = await_supervisor(store, record)
    if record is None:
        code = store.noted_exit(container_id)
        if code is None:
            raise NoSuchContainer(f"No such container: {container_id}")
        return code
    return record["State"]["ExitCode"]


def await_supervisor(store: ContainerStore, record: dict) -> dict | None:
    """Wait for the supervisor to record the exit, finishing the run ourselves if it died."""
    try:
        record = store.load(record["Id"])
    except NoSuchContainer:
        return None
    procs.wait_gone(record["Dockyard"].get("Supervisor"), _SUPERVISOR_GRACE)
    try:
        return refresh(store, store.load(record["Id"]))
    except NoSuchContainer:
        return None


def prune(store: ContainerStore) -> list[str]:
    """Remove every container that is not running; their IDs."""
    removed = []
    for record in sweep(store):
        if not record["State"]["Running"] and not procs.alive(record["Dockyard"].get("Supervisor")):
            remove(store, record)
            removed.append(record["Id"])
    return removed


def containers_using(root: str, image_id: str) -> list[str]:
    """IDs of the containers made from image ``image_id`` (a config digest): their overlays
    stack that image's layers, so ``rmi`` must keep it while any of them exists."""
    return [record["Id"] for record in ContainerStore(root).all() if record["Image"] == image_id]


def parse_signal(text: str | int) -> int:
    """``9``, ``KILL`` or ``SIGKILL`` as a signal number."""
    from runtime.commands import parse_signal as parse
    from client.errors import DockyardError

    try:
        return parse(str(text))
    except ValueError as err:
        raise DockyardError(str(err)) from None


def _runtime(store: ContainerStore, record: dict) -> runtimes.Runtime:
    return runtimes.get(record["HostConfig"].get("Runtime") or runtimes.BUILTIN, store.runtime_root)
