"""Where the client keeps its state and reads its settings.

Docker's files are used where they exist (``~/.docker/config.json`` for
credentials, ``/etc/docker/certs.d`` for registry certificates) so a machine
set up for docker or podman works unchanged; what Docker has no file for lives
in ``~/.config/dockyard/config.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DockyardError

SYSTEM_ROOT = Path("/var/lib/dockyard")
# Docker's daemon-side and podman's system-wide certificate directories, read as well as ours.
SYSTEM_CERTS_DIRS = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))


def default_root() -> Path:
    """The store root: ``$DOCKYARD_ROOT``, else ``/var/lib/dockyard`` for root and
    ``$XDG_DATA_HOME/dockyard`` (``~/.local/share/dockyard``) for everyone else."""
    if env := os.environ.get("DOCKYARD_ROOT"):
        return Path(env)
    if os.geteuid() == 0:
        return SYSTEM_ROOT
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "dockyard"


def docker_config_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Docker's client configuration directory: ``--config``, ``$DOCKER_CONFIG`` or ``~/.docker``."""
    chosen = override or os.environ.get("DOCKER_CONFIG")
    return Path(chosen) if chosen else Path.home() / ".docker"


def dockyard_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/dockyard``, by default ``~/.config/dockyard``."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "dockyard"


@dataclass(frozen=True)
class ClientConfig:
    """Settings that decide how registries are reached.

    ``insecure_registries`` holds ``host[:port]`` names or CIDR ranges allowed
    plain HTTP (and TLS without verification), as Docker's daemon option does;
    ``certs_dirs`` are searched for ``<host[:port]>/`` certificate folders, first
    match per file kind wins.
    """

    insecure_registries: tuple[str, ...] = ()
    certs_dirs: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, directory: Path | None = None) -> "ClientConfig":
        """Read ``config.json`` from ``directory`` (default ``dockyard_config_dir()``);
        a missing file means defaults."""
        directory = directory or dockyard_config_dir()
        path = directory / "config.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            doc = {}
        except (OSError, ValueError) as err:
            raise DockyardError(f"cannot read {path}: {err}") from None
        insecure = doc.get("insecure-registries", []) if isinstance(doc, dict) else None
        if not isinstance(insecure, list) or not all(isinstance(i, str) for i in insecure):
            raise DockyardError(f"{path}: insecure-registries must be a list of strings")
        return cls(tuple(insecure), (directory / "certs.d", *SYSTEM_CERTS_DIRS))
