"""Container records on disk: ``<root>/containers/<id>/`` and the names that point at them.

::

    <root>/containers/<id>/container.json   the record: `docker inspect`'s shape plus
                                            a private "Dockyard" section
                           config.json      the OCI bundle's config (written at each start)
                           rootfs/          the overlay mount point (mounted while running)
                           upper/ work/     the container's own overlay layer
                           hostname hosts resolv.conf   bind-mounted into /etc
                           netns            the pinned network namespace (while running)
                           <id>-json.log    output, in Docker's json-file format
                           lock             flock for read-modify-write of the record
    <root>/containers/.names/<name> -> <id>  names, unique because symlink() is atomic
    <root>/runtime/<runtime>/<id>/           the OCI runtime's own state (while running)

The record is replaced by rename, never rewritten in place, so any reader (a
``ps`` racing a supervisor) sees one whole version.  It is not fsynced: a
machine crash ends every container anyway, and the next command that sees
a "running" record from an earlier boot corrects it (see ``lifecycle``); what
matters is that a *process* crash never leaves a torn record, and rename
alone guarantees that.
"""

from __future__ import annotations

import json
import os
import time

from client.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RECORD = "container.json"
NAMES = ".names"
EXITS = ".exits"  # exit codes of --rm containers, kept a while for `wait`
_EXIT_KEPT_SECONDS = 600
_EXITS_PRUNE_INTERVAL = 60  # seconds
_PRUNED = ".pruned"  # in EXITS: its mtime is when exit codes were last pruned
_REMOVING = ".removing-"
ZERO_TIME = "0001-01-01T00:00:00Z"


class NoSuchContainer(DockyardError):
    """No container has this ID, ID prefix or name."""


class ContainerConflict(DockyardError):
    """The name is taken, the prefix is ambiguous, or the state forbids the operation."""


def timestamp() -> str:
    """Now as RFC 3339 with nanoseconds in UTC, as Docker writes State.StartedAt and log times."""
    now = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"


class ContainerStore:
    """The ``containers/`` directory of one dockyard root."""

    def __init__(self, root: str | Path) -> None:
        self.root = os.path.join(root, "containers")
        self.names = os.path.join(self.root, NAMES)
        # OCI runtimes' state (<name>/<id>/), kept apart per dockyard root like the containers
        self.runtime_root = os.path.join(root, "runtime")

    def path(self, container_id: str, *parts: str) -> str:
        return os.path.join(self.root, container_id, *parts)

    # -- creating ----------------------------------------------------------

    def claim(self, container_id: str, name: str) -> None:
        """Make the container's directory and reserve its name, or raise ContainerConflict."""
        os.makedirs(self.names, mode=0o700, exist_ok=True)
        os.mkdir(self.path(container_id), 0o700)
        try:
            self._reserve(name, container_id)
        except BaseException:
            os.rmdir(self.path(container_id))
            raise

    def name_taken(self, name: str) -> bool:
        return self._owner(name) is not None

    def _reserve(self, name: str, container_id: str) -> None:
        link = os.path.join(self.names, name)
        for _ in range(3):
            try:
                os.symlink(container_id, link)
                return
            except FileExistsError:
                owner = self._owner(name)
                if owner is not None:
                    raise ContainerConflict(
                        f'Conflict. The container name "/{name}" is already in use by container '
                        f'"{owner}". You have to remove (or rename) that container to be able to '
                        "reuse that name.") from None
                try:  # a name left behind by a removal that was cut short
                    os.unlink(link)
                except FileNotFoundError:
                    pass
        raise ContainerConflict(f"cannot reserve the name {name!r}: it keeps being taken")

    def _owner(self, name: str) -> str | None:
        """The ID holding a name, if that container still exists."""
        try:
            owner = os.readlink(os.path.join(self.names, name))
        except (FileNotFoundError, OSError):
            return None
        return owner if os.path.isfile(self.path(owner, RECORD)) else None

    # -- reading and writing -------------------------------------------------

    def save(self, record: dict) -> None:
        """Replace the record atomically (temp file + rename in the container's directory)."""
        target = self.path(record["Id"], RECORD)
        temp = f"{target}.{os.getpid()}.tmp"
        with open(temp, "w") as f:
            f.write(json.dumps(record))  # json.dump would encode in Python, dumps in C
        os.rename(temp, target)

    def load(self, container_id: str) -> dict:
        try:
            with open(self.path(container_id, RECORD), "rb") as f:
                return json.load(f)
        except FileNotFoundError:
            raise NoSuchContainer(f"No such container: {container_id}") from None

    def ids(self) -> list[str]:
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return [e for e in entries if not e.startswith(".")
                and os.path.isfile(os.path.join(self.root, e, RECORD))]

    def all(self) -> Iterator[dict]:
        """Every record; one removed while we list is skipped."""
        for container_id in self.ids():
            try:
                yield self.load(container_id)
            except NoSuchContainer:
                continue

    def find(self, text: str) -> dict:
        """A container by full ID, name (with or without "/") or unique ID prefix, as Docker looks."""
        bare = text[1:] if text.startswith("/") else text
        if len(bare) == 64 and os.path.isfile(self.path(bare, RECORD)):
            return self.load(bare)
        owner = self._owner(bare) if bare else None
        if owner is not None:
            return self.load(owner)
        matches = [i for i in self.ids() if bare and i.startswith(bare)]
        if len(matches) > 1:
            raise ContainerConflict(f"multiple IDs found with provided prefix: {text}")
        if not matches:
            raise NoSuchContainer(f"No such container: {text}")
        return self.load(matches[0])

    def lock(self, container_id: str) -> RecordLock:
        """Exclusive flock for a read-modify-write of one record (``with store.lock(id):``)."""
        return RecordLock(self.path(container_id, "lock"))

    # -- removing ------------------------------------------------------------

    def remove(self, record: dict) -> None:
        """Delete the container's directory and its name; it vanishes at once (renamed aside).

        The caller has released whatever was mounted inside.
        """
        from .networking import forget

        container_id = record["Id"]
        forget(self, record)  # its addresses and names on networks
        aside = os.path.join(self.root, f"{_REMOVING}{container_id}")
        try:
            os.rename(self.path(container_id), aside)
        except FileNotFoundError:
            return
        name_link = os.path.join(self.names, record["Name"].lstrip("/"))
        try:
            if os.readlink(name_link) == container_id:
                os.unlink(name_link)
        except OSError:
            pass
        _remove_tree(aside)

    def remove_debris(self) -> None:
        """Finish removals a killed process left halfway (directories renamed aside), and
        forget exit codes older than ten minutes (looked for once a minute)."""
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.startswith(_REMOVING):
                _remove_tree(os.path.join(self.root, entry))
        if EXITS in entries and self._exits_prune_due():
            stale = time.time() - _EXIT_KEPT_SECONDS
            for entry in os.scandir(os.path.join(self.root, EXITS)):
                if entry.name != _PRUNED and entry.stat().st_mtime < stale:
                    os.unlink(entry.path)

    def _exits_prune_due(self) -> bool:
        """Whether a minute has passed since exit codes were last pruned (then it is noted now):
        every command sweeps, and a stat of each of a busy host's exits costs a `run` ~1 ms."""
        marker = os.path.join(self.root, EXITS, _PRUNED)
        try:
            if os.stat(marker).st_mtime > time.time() - _EXITS_PRUNE_INTERVAL:
                return False
        except FileNotFoundError:
            pass
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        os.utime(marker)
        return True

    def note_exit(self, container_id: str, code: int) -> None:
        """Keep the exit code of a container about to be removed on exit (--rm): Docker's
        ``wait`` still reports it, though the container is gone by then."""
        os.makedirs(os.path.join(self.root, EXITS), mode=0o700, exist_ok=True)
        path = os.path.join(self.root, EXITS, container_id)
        with open(f"{path}.tmp", "w") as f:
            f.write(str(code))
        os.rename(f"{path}.tmp", path)

    def noted_exit(self, container_id: str) -> int | None:
        try:
            with open(os.path.join(self.root, EXITS, container_id)) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            return None


class RecordLock:
    """An exclusive flock on a file, held for a ``with`` block.

    (client.fsutil.locked does the same, but importing that module costs
    more than a container's start-up can spare; so would contextlib's
    decorator, ~1 ms.)
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _remove_tree(path: str) -> None:
    """rm -rf, errors ignored, without importing shutil (and through it bz2 and lzma: a few
    milliseconds of every `run --rm`).  Symbolic links are removed, never followed, so what
    a container left in its upper directory cannot point this elsewhere."""
    for top, dirs, files in os.walk(path, topdown=False):
        for name in files:
            _ignore_errors(os.unlink, os.path.join(top, name))
        for name in dirs:
            entry = os.path.join(top, name)
            _ignore_errors(os.unlink if os.path.islink(entry) else os.rmdir, entry)
    _ignore_errors(os.rmdir, path)


def _ignore_errors(remove, path: str) -> None:
    try:
        remove(path)
    except OSError:
        pass
