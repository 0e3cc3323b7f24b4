"""``RUN --mount=...``: what each mount type puts into the step's container.

* ``cache``: a persistent directory of the build cache, by id (or target),
  shared as ``sharing=`` says (``cachemounts``);
* ``tmpfs``: a fresh tmpfs;
* ``bind``: a path of the context (as .dockerignore leaves it), of a named
  context, or of another stage's or image's merged view (``from=``), always
  read-only, since a writable bind would change the context or the other stage;
* ``secret``: a value given with ``dockyard build --secret id=...``, as a
  file (``/run/secrets/<id>`` unless ``target=``) and/or an environment
  variable (``env=``);
* ``ssh``: a relay (``agent``) to the SSH agent socket given with ``--ssh``,
  at ``/run/buildkit/ssh_agent.<n>`` unless ``target=``, named by SSH_AUTH_SOCK.

Secrets and relay sockets are files of a private tmpfs (so a secret is never
written to disk), which the caller unmounts after the step; the step's layer
only ever sees the empty mount point, which ``container`` removes again, and
neither the cache key (the instruction's text) nor the history holds a
secret's value.
Secrets and ssh mounts are optional unless ``required=true``, as in BuildKit.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..containers.rootfs import unmount
from ..errors import DockyardError
from .dockerfile import instructions as ins


@dataclass
class Forwarded:
    """What the build command forwards to RUN steps: secret values and agent sockets, by id."""
    secrets: dict[str, bytes] = field(default_factory=dict)
    ssh: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def private_directory(parent: Path) -> Iterator[Path]:
    """A root-only tmpfs for one step's secrets: they are never written to disk, and a
    killed build's is unmounted by the next build's sweep of scratch directories."""
    from runtime import syscalls as sc

    path = parent / "secrets"
    path.mkdir(mode=0o700)
    sc.mount("tmpfs", str(path), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
             "mode=0700,size=16m")
    try:
        yield path
    finally:
        unmount(str(path))
        path.rmdir()


@dataclass(frozen=True)
class Agent:
    """An ssh mount's relay (``agent.agent_proxy``): the agent, the step's socket, its owner."""
    agent: str
    socket: Path
    uid: int
    gid: int
    mode: int


@dataclass
class MountSet:
    """The OCI mounts, extra environment and agent relays of one RUN."""
    mounts: list[dict] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    agents: list[Agent] = field(default_factory=list)


def needs_private(run: ins.Run) -> bool:
    """Whether the step's mounts need a ``private_directory`` (secrets, agent sockets)."""
    return any(mount.type in ("secret", "ssh") for mount in run.mounts)


def oci_mounts(run: ins.Run, workdir: str, caches: Mapping[int, Path],
               bind_source: Callable[[ins.Mount], Path], forwarded: Forwarded,
               private: Path | None) -> MountSet:
    """The mounts of ``run``; ``caches`` holds the directory of each cache mount by its
    index in ``run.mounts`` (``cachemounts``), ``bind_source`` finds what a bind mount
    shows (in the context, a named context or another stage's view), ``private`` is a
    ``private_directory`` when ``needs_private``; the caller starts the ``agents``
    relays."""
    result = MountSet()
    ssh_count = 0
    for index, mount in enumerate(run.mounts):
        target = posixpath.join(workdir, mount.target) if mount.target else None
        if mount.type == "cache":
            result.mounts.append(_bind(target, caches[index], mount.readonly))
        elif mount.type == "tmpfs":
            result.mounts.append({"destination": target, "type": "tmpfs", "source": "tmpfs",
                                  "options": ["nosuid", "nodev"]})
        elif mount.type == "bind":
            result.mounts.append(_bind(target, bind_source(mount), True))
        elif mount.type == "secret":
            _secret(mount, target, forwarded, private, result)
        elif mount.type == "ssh":
            _ssh(mount, target, ssh_count, forwarded, private, result)
            ssh_count += 1
        else:
            raise DockyardError(f"RUN --mount=type={mount.type} is not supported")
    return result


def _bind(target: str | None, source: Path, readonly: bool) -> dict:
    return {"destination": target, "type": "bind", "source": str(source),
            "options": ["rbind", "ro" if readonly else "rw"]}


def _missing(mount: ins.Mount, what: str, flag: str) -> None:
    """A secret or agent that was not forwarded: an error if the mount requires it, else
    the mount is left out."""
    if mount.option("required", "false").lower() in ("true", "1"):
        raise DockyardError(f"{what} is required but was not given: pass it with "
                            f"dockyard build {flag}")


def _secret(mount: ins.Mount, target: str | None, forwarded: Forwarded,
            private: Path | None, result: MountSet) -> None:
    secret_id = mount.id or (posixpath.basename(target) if target else None)
    if not secret_id:
        raise DockyardError("--mount=type=secret needs an id (or a target to name it)")
    value = forwarded.secrets.get(secret_id)
    if value is None:
        _missing(mount, f"secret {secret_id!r}", f"--secret id={secret_id},src=FILE")
        return
    env = mount.option("env")
    if env:
        result.env[env] = value.decode(errors="surrogateescape")
    if env and not target:
        return  # only the variable, as BuildKit does
    assert private is not None
    path = private / f"secret-{len(result.mounts)}"
    path.write_bytes(value)
    os.chown(path, _number(mount, "uid", "0", 10), _number(mount, "gid", "0", 10))
    os.chmod(path, _number(mount, "mode", "0400", 8))
    result.mounts.append(_bind(target or f"/run/secrets/{secret_id}", path, True))


def _number(mount: ins.Mount, key: str, default: str, base: int) -> int:
    text = mount.option(key, default) or default
    try:
        return int(text, base)
    except ValueError:
        raise DockyardError(f"--mount=type={mount.type}: invalid {key} {text!r}") from None


def _ssh(mount: ins.Mount, target: str | None, index: int, forwarded: Forwarded,
         private: Path | None, result: MountSet) -> None:
    agent_id = mount.id or "default"
    socket = forwarded.ssh.get(agent_id)
    if socket is None:
        _missing(mount, f"ssh agent {agent_id!r}", f"--ssh {agent_id}[=SOCKET]")
        return
    assert private is not None
    relay = Agent(socket, private / f"ssh-{index}.sock", _number(mount, "uid", "0", 10),
                  _number(mount, "gid", "0", 10), _number(mount, "mode", "0600", 8))
    target = target or f"/run/buildkit/ssh_agent.{index}"
    result.agents.append(relay)
    result.mounts.append(_bind(target, relay.socket, False))
    result.env["SSH_AUTH_SOCK"] = target
