"""Where the client keeps its state and reads its settings.

Docker's files are used where they exist (``~/.docker/config.json`` for
credentials, ``/etc/docker/certs.d`` for registry certificates) so a machine
set up for docker or podman works unchanged; what Docker has no file for lives
in ``~/.config/dockyard/config.json``, or machine-wide in
``/etc/dockyard/config.json`` (read when the user has no file of their own, as
podman reads its ``registries.conf``).  The keys that Docker's ``daemon.json``
also has (``registry-mirrors``, ``insecure-registries``) mean the same here.
"""

from __future__ import annotations

import os
from pathlib import Path

from ocispec.reference import DEFAULT_REGISTRY, LEGACY_REGISTRY
from ocispec.value import Value

from .errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping

SYSTEM_ROOT = Path("/var/lib/dockyard")
SYSTEM_CONFIG_DIR = Path("/etc/dockyard")
# Docker Hub's other names, all meaning the registry references call docker.io.
_HUB_NAMES = frozenset({LEGACY_REGISTRY, "registry-1.docker.io", "registry.hub.docker.com"})
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


class Mirror(Value):
    """A registry that serves another one's content for pulls.

    Written as a URL: ``https://mirror.example.com`` serves
    ``docker.io/library/busybox`` as ``library/busybox``; a path,
    ``https://cache.example.com/dockerhub``, puts the mirrored names under it
    (``dockerhub/library/busybox``), as a registry mirroring several upstreams
    keeps them.  Without a scheme the mirror is reached as any registry is
    (HTTPS, plain HTTP only where allowed); ``http://`` says plain HTTP.
    """

    __slots__ = ("url", "host", "plain_http", "prefix")
    url: str
    host: str         # host[:port]
    plain_http: bool  # the URL said http://
    prefix: str       # namespace in the mirror, without slashes at either end

    def __init__(self, url: str, host: str, plain_http: bool, prefix: str = "") -> None:
        super().__init__(url, host, plain_http, prefix)

    @classmethod
    def parse(cls, text: str) -> "Mirror":
        """Read a configured mirror URL; ValueError says what is wrong with it."""
        from urllib.parse import urlsplit  # deferred: only registry commands read mirrors

        split = urlsplit(text if "://" in text else f"https://{text}")
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ValueError(f"mirror {text!r} is not an http(s)://HOST[:PORT][/PATH] URL")
        if split.query or split.fragment or "@" in split.netloc:
            raise ValueError(f"mirror {text!r}: no credentials, query or fragment in the URL")
        return cls(text, split.netloc, split.scheme == "http", split.path.strip("/"))

    def repository(self, name: str) -> str:
        """The name the mirror keeps repository ``name`` (of the mirrored registry) under."""
        return f"{self.prefix}/{name}" if self.prefix else name


def registry_key(name: str) -> str:
    """A registry as references name it: Docker Hub's aliases become ``docker.io``."""
    return DEFAULT_REGISTRY if name in _HUB_NAMES else name


class ClientConfig(Value):
    """Settings that decide how registries are reached.

    ``insecure_registries`` holds ``host[:port]`` names or CIDR ranges allowed
    plain HTTP (and TLS without verification), as Docker's daemon option does;
    ``certs_dirs`` are searched for ``<host[:port]>/`` certificate folders, first
    match per file kind wins.  ``mirrors`` maps a registry (``docker.io``,
    ``ghcr.io``) to the mirrors pulls try first, in order.
    """

    __slots__ = ("insecure_registries", "certs_dirs", "mirrors")
    insecure_registries: tuple[str, ...]
    certs_dirs: tuple[Path, ...]
    mirrors: Mapping[str, tuple[Mirror, ...]]

    def __init__(self, insecure_registries: tuple[str, ...] = (),
                 certs_dirs: tuple[Path, ...] = (),
                 mirrors: Mapping[str, tuple[Mirror, ...]] | None = None) -> None:
        super().__init__(insecure_registries, certs_dirs, {} if mirrors is None else mirrors)

    @classmethod
    def load(cls, directory: Path | None = None,
             system_directory: Path = SYSTEM_CONFIG_DIR) -> "ClientConfig":
        """Read ``config.json`` from ``directory`` (default ``dockyard_config_dir()``, or
        ``system_directory`` when the user has no file); no file at all means defaults."""
        import json  # deferred: only registry commands read this file

        directory = directory or dockyard_config_dir()
        path = directory / "config.json"
        if not path.exists() and (system_directory / "config.json").exists():
            path = system_directory / "config.json"
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            doc = {}
        except (OSError, ValueError) as err:
            raise DockyardError(f"cannot read {path}: {err}") from None
        if not isinstance(doc, dict):
            raise DockyardError(f"{path}: expected a JSON object")
        try:
            return cls(tuple(_strings(doc, "insecure-registries")),
                       (directory / "certs.d", *SYSTEM_CERTS_DIRS), _mirrors(doc))
        except ValueError as err:
            raise DockyardError(f"{path}: {err}") from None


def _strings(doc: Mapping[str, object], key: str, label: str = "") -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{label or key} must be a list of strings")
    return value


def _mirrors(doc: Mapping[str, object]) -> dict[str, tuple[Mirror, ...]]:
    """``registry-mirrors`` (Docker Hub's, as in daemon.json) and ``mirrors`` (any registry's:
    ``{"ghcr.io": ["https://..."]}``), in the order written, Docker Hub's list first."""
    table: dict[str, list[str]] = {DEFAULT_REGISTRY: _strings(doc, "registry-mirrors")}
    per_registry = doc.get("mirrors", {})
    if not isinstance(per_registry, dict):
        raise ValueError('mirrors must map a registry to a list of URLs: {"ghcr.io": [...]}')
    for registry, urls in per_registry.items():
        if "/" in registry or not registry:
            raise ValueError(f"mirrors: {registry!r} is not a registry name "
                             "(HOST[:PORT], such as ghcr.io)")
        table.setdefault(registry_key(registry), []).extend(
            _strings(per_registry, registry, f"mirrors.{registry}"))
    return {registry: tuple(dict.fromkeys(Mirror.parse(url) for url in urls))
            for registry, urls in table.items() if urls}
