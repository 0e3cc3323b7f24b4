"""The registry's data model: repositories of blobs, uploads, manifests, tags and referrers.

HTTP handlers talk only to this interface; the pull-through cache will be
another implementation of it, and the storage driver sits beneath it.
"""

from __future__ import annotations

from collections import OrderedDict

from ocispec.names import is_valid_name

from .. import errors
from ..storage.driver import StorageDriver
from .blobs import BlobStore, LinkedBlobs
from .catalog import Catalog
from .manifests import ManifestCache, Manifests
from .referrers import Referrers
from .tags import Tags
from .uploads import Uploads


REPOSITORY_CACHE_SIZE = 1024


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
        self._repositories: OrderedDict[str, Repository] = OrderedDict()

    def repository(self, name: str) -> Repository:
        """The repository ``name``; NAME_INVALID before any storage is touched if it is malformed.

        Repository objects hold no state of their own (storage is the truth),
        so the recently used ones are kept rather than built on every request.
        """
        repository = self._repositories.get(name)
        if repository is not None:
            self._repositories.move_to_end(name)
            return repository
        if not is_valid_name(name):
            raise errors.NameInvalid(detail={"name": name})
        repository = self._repositories[name] = Repository(self, name)
        if len(self._repositories) > REPOSITORY_CACHE_SIZE:
            self._repositories.popitem(last=False)
        return repository
