"""The registry's data model: repositories of blobs, uploads, manifests, tags and referrers.

HTTP handlers talk only to this interface; the pull-through cache will be
another implementation of it, and the storage driver sits beneath it.
"""

from __future__ import annotations

from ocispec.names import is_valid_name

from .. import errors
from ..storage.driver import StorageDriver
from .blobs import BlobStore, LinkedBlobs
from .catalog import Catalog
from .manifests import ManifestCache, Manifests
from .referrers import Referrers
from .tags import Tags
from .uploads import Uploads


class Repository:
    def __init__(self, registry: "Registry", name: str) -> None:
        self.name = name
        self.registry = registry
        self.blobs = LinkedBlobs(registry.blob_store, name)
        self.uploads = Uploads(registry.driver, self.blobs)
        self.tags = Tags(registry.driver, name)
        self.referrers = Referrers(registry.driver, name)
        self.manifests = Manifests(self.blobs, self.tags, self.referrers,
                                   registry.manifest_cache, name)


class Registry:
    def __init__(self, driver: StorageDriver, *, delete_enabled: bool = True) -> None:
        self.driver = driver
        self.delete_enabled = delete_enabled
        self.blob_store = BlobStore(driver)
        self.catalog = Catalog(driver)
        # Content by digest is immutable, so one cache serves every repository.
        self.manifest_cache = ManifestCache()

    def repository(self, name: str) -> Repository:
        """The repository ``name``; NAME_INVALID before any storage is touched if it is malformed."""
        if not is_valid_name(name):
            raise errors.NameInvalid(detail={"name": name})
        return Repository(self, name)
