"""The network records on disk: ``<root>/networks/``, one JSON file per record.

Every change happens under one ``flock`` on ``networks/.lock``: address
allocation, bridge creation and the nftables ruleset are all read-modify-write
cycles over shared state, and a network operation takes milliseconds, so one
lock serialises concurrent ``dockyard run``s without costing anything
noticeable, and rules out two of them creating the same bridge or handing out
the same address.  The kernel drops the lock when its holder dies, so a
SIGKILLed run never blocks the next one.  Files are replaced atomically
(temp, rename), so readers that take no lock (``network ls``) see the old
record or the new one.  Only a new network's definition is fsynced: address
allocations and container records describe kernel state that a machine
crash wipes anyway (no bridge, veth or rule survives a reboot), and an fsync
costs several milliseconds of every container's start.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import NetworkError, NotFound
from .model import Container, Network
from .settings import Settings

_TMP = ".tmp-"


class Store:
    def __init__(self, root: os.PathLike | str) -> None:
        # os.path, not pathlib: the network child imports this module on every bridge run,
        # and the installed dockyard (no site module) would import pathlib for it alone
        self.dir = os.path.join(root, "networks")
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.load(self.dir)
        return self._settings

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock for the block (blocking until it is free)."""
        os.makedirs(os.path.join(self.dir, "containers"), exist_ok=True)
        fd = os.open(os.path.join(self.dir, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- networks -------------------------------------------------------------

    def networks(self) -> list[Network]:
        """Every stored network, oldest first."""
        found = [Network.from_doc(doc) for doc in self._load_all(self.dir)]
        return sorted(found, key=lambda n: (n.created, n.name))

    def network(self, ref: str) -> Network:
        """By exact name, full id or unique id prefix (Docker's order of preference)."""
        networks = self.networks()
        for match in ([n for n in networks if n.name == ref], [n for n in networks if n.id == ref],
                      [n for n in networks if ref and n.id.startswith(ref)]):
            if len(match) == 1:
                return match[0]
            if len(match) > 1:
                raise NetworkError(f"network {ref} is ambiguous ({len(match)} matches found)")
        raise NotFound(f"network {ref} not found")

    def find_network(self, ref: str) -> Network | None:
        try:
            return self.network(ref)
        except NotFound:
            return None

    def save_network(self, network: Network, durable: bool = False) -> None:
        """Store the record; durable (for a new network) survives a machine crash too."""
        self._write(os.path.join(self.dir, f"{network.id}.json"), network.to_doc(), durable)

    def delete_network(self, network: Network) -> None:
        _unlink(os.path.join(self.dir, f"{network.id}.json"))

    # -- containers -----------------------------------------------------------

    def containers(self) -> list[Container]:
        return [Container.from_doc(doc) for doc in self._load_all(os.path.join(self.dir, "containers"))]

    def container(self, container_id: str) -> Container | None:
        doc = self._load(self._container_path(container_id))
        return Container.from_doc(doc) if doc is not None else None

    def save_container(self, record: Container) -> None:
        self._write(self._container_path(record.id), record.to_doc())

    def delete_container(self, container_id: str) -> None:
        _unlink(self._container_path(container_id))

    def _container_path(self, container_id: str) -> str:
        if not container_id.isalnum():
            raise NetworkError(f"invalid container id {container_id!r}")
        return os.path.join(self.dir, "containers", f"{container_id}.json")

    # -- files ----------------------------------------------------------------

    @staticmethod
    def _load(path: str) -> dict | None:
        try:
            with open(path, "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise NetworkError(f"{path}: corrupt record: {err}") from None

    @classmethod
    def _load_all(cls, directory: str) -> Iterator[dict]:
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".json") and not name.startswith(_TMP) and name != "settings.json":
                doc = cls._load(os.path.join(directory, name))
                if doc is not None:  # removed while we listed
                    yield doc

    @staticmethod
    def _write(path: str, doc: dict, durable: bool = False) -> None:
        directory, name = os.path.split(path)
        temp = os.path.join(directory, f"{_TMP}{os.getpid()}-{name}")
        with open(temp, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temp, path)
        if durable:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
