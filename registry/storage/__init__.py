"""Storage drivers, and the one place that turns the configuration into a driver."""

from __future__ import annotations

from ..config import ConfigError, StorageConfig
from .driver import StorageDriver
from .filesystem import FileSystemDriver


def create_driver(config: StorageConfig) -> StorageDriver:
    """The driver ``config`` names, ready to use; ConfigError naming the key if it cannot be set up.

    Only the filesystem driver exists so far; the config parser already
    refuses every other name, so an S3 driver adds a branch here and there.
    """
    root = config.filesystem.root_directory
    try:
        return FileSystemDriver(root, threads=config.filesystem.max_threads)
    except OSError as err:
        raise ConfigError(f"storage.filesystem.rootdirectory: cannot use {root}: "
                          f"{err.strerror or err}") from None
