"""What every command gets besides its own arguments: the global flags, resolved.

Commands build their collaborators from here (credential store, registry
client, the image store under ``root``), so ``--root``,
``--config`` and ``--debug`` mean the same thing everywhere.

A plain class, not a dataclass, and ``client.config`` (with pathlib) is
imported only when a path is asked for: ``dockyard run --root DIR`` needs
neither, and its start-up is budgeted.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

    from .credentials import CredentialStore
    from .store import ImageStore
    from .transport import RegistryClient
    from .transport.auth import CredentialLookup


class Context:
    """The global flags, each path resolved when first asked for."""

    __slots__ = ("_root", "_config", "debug")

    def __init__(self, root: str | None = None, config: str | None = None,
                 debug: bool = False) -> None:
        self._root = root      # --root, or None for $DOCKYARD_ROOT or the default
        self._config = config  # --config, or None for $DOCKER_CONFIG or ~/.docker
        self.debug = debug

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        return cls(args.root, args.config, args.debug)

    @property
    def root_dir(self) -> str:
        """The store root as a string (``root`` without pathlib)."""
        if self._root:
            return self._root
        from .config import default_root  # deferred: config imports pathlib, and --root needs neither
        return str(default_root())

    @property
    def root(self) -> Path:
        """The store root (--root, $DOCKYARD_ROOT, or the default)."""
        from pathlib import Path  # deferred: see root_dir
        return Path(self.root_dir)

    @property
    def docker_config(self) -> Path:
        """Docker's config directory (--config, $DOCKER_CONFIG, ~/.docker)."""
        from .config import docker_config_dir  # deferred: see root_dir
        return docker_config_dir(self._config)

    def credentials(self) -> CredentialStore:
        from .credentials import CredentialStore
        return CredentialStore(self.docker_config)

    def registry_client(self, credentials: CredentialLookup | None = None,
                        **kwargs: Any) -> RegistryClient:
        """A registry client with the user's settings; credentials default to the stored ones."""
        from .config import ClientConfig
        from .transport import RegistryClient
        lookup = credentials if credentials is not None else self.credentials().get
        return RegistryClient.from_config(ClientConfig.load(), lookup, **kwargs)

    async def image_store(self) -> ImageStore:
        """The local image store under ``root``, created on first use."""
        from .store import ImageStore
        return await ImageStore.open(self.root)
