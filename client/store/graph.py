"""Walking the image graph in the store: index -> manifests -> config and layers.

Reachability from the roots in index.json decides what garbage collection may
delete, so the walk is forgiving: a missing or unreadable blob ends its branch
rather than the walk (an index may name platforms that were never pulled).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ocispec import mediatypes as mt
from ocispec.digest import Digest, InvalidDigest
from ocispec.manifest import Descriptor, InvalidManifest, Manifest, parse_manifest

from client.layers import chain_ids

from .blobs import BlobStore
from .errors import StoreError


def read_manifest(blobs: BlobStore, descriptor: Descriptor) -> Manifest:
    try:
        return parse_manifest(blobs.read(descriptor.digest), descriptor.media_type)
    except InvalidManifest as err:
        raise StoreError(f"manifest {descriptor.digest} in the store is invalid: {err}") from None


def read_config(blobs: BlobStore, manifest: Manifest) -> dict[str, Any]:
    """The image config (a JSON object) of an image manifest."""
    if manifest.config is None:
        raise StoreError("an index has no image config: choose one of its platforms")
    try:
        config = json.loads(blobs.read(manifest.config.digest))
    except ValueError as err:
        raise StoreError(f"config {manifest.config.digest} is not JSON: {err}") from None
    if not isinstance(config, dict):
        raise StoreError(f"config {manifest.config.digest} is not a JSON object")
    return config


def diff_ids(config: dict[str, Any]) -> list[Digest]:
    """``rootfs.diff_ids`` of an image config: the digests of the uncompressed layers."""
    try:
        return [Digest.parse(d) for d in config["rootfs"]["diff_ids"]]
    except (KeyError, TypeError, InvalidDigest) as err:
        raise StoreError(f"image config has no valid rootfs.diff_ids: {err}") from None


@dataclass
class Reachable:
    """Blob digests and layer chain IDs that some set of roots needs."""

    blobs: set[Digest] = field(default_factory=set)
    layers: set[Digest] = field(default_factory=set)


def reachable(blobs: BlobStore, roots: Iterable[Descriptor]) -> Reachable:
    found = Reachable()
    pending = list(roots)
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in found.blobs:
            continue
        found.blobs.add(descriptor.digest)
        if descriptor.media_type not in mt.MANIFESTS:
            continue
        try:
            manifest = read_manifest(blobs, descriptor)
            if manifest.is_index:
                pending.extend(manifest.children)
                continue
            found.blobs.update(d.digest for d in (manifest.config, *manifest.layers) if d)
            found.layers.update(chain_ids(diff_ids(read_config(blobs, manifest))))
        except StoreError:  # BlobNotFound included
            continue
    return found
