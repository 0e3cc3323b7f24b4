"""What every command gets besides its own arguments: the global flags, resolved.

Commands build their collaborators from here (credential store, registry
client, the image store under ``root``), so ``--root``,
``--config`` and ``--debug`` mean the same thing everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from .config import ClientConfig, default_root, docker_config_dir

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from typing import Any

    from .credentials import CredentialStore
    from .store import ImageStore
    from .transport import RegistryClient
    from .transport.auth import CredentialLookup


@dataclass(frozen=True)
class Context:
    root: Path            # the store root (--root, $DOCKYARD_ROOT, or the default)
    docker_config: Path   # Docker's config directory (--config, $DOCKER_CONFIG, ~/.docker)
    debug: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Context":
        root = Path(args.root) if args.root else default_root()
        return cls(root, docker_config_dir(args.config), args.debug)

    def credentials(self) -> "CredentialStore":
        from .credentials import CredentialStore
        return CredentialStore(self.docker_config)

    def registry_client(self, credentials: "CredentialLookup | None" = None,
                        **kwargs: Any) -> "RegistryClient":
        """A registry client with the user's settings; credentials default to the stored ones."""
        from .transport import RegistryClient
        lookup = credentials if credentials is not None else self.credentials().get
        return RegistryClient.from_config(ClientConfig.load(), lookup, **kwargs)

    async def image_store(self) -> "ImageStore":
        """The local image store under ``root``, created on first use."""
        from .store import ImageStore
        return await ImageStore.open(self.root)
