"""Images in the local store as the commands name and show them.

Users name an image by reference (``busybox``, ``localhost:5000/app:1``,
``app@sha256:...``) or by (a prefix of) its ID, as Docker lets them; this
finds it.  Each tagged entry of the store may carry the digest the registry
knows the image by (``REPO_DIGEST``): for an image picked from a
multi-platform index that is the index's digest, which is what ``docker
images --digests`` and ``RepoDigests`` show and what tells a later pull that
the tag has not moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ocispec.digest import Digest, InvalidDigest
from ocispec.manifest import Descriptor
from ocispec.reference import InvalidReference, Reference

from .platforms import Platform, choose, host_platform
from .store import Image, ImageNotFound, ImageStore, StoreError

REPO_DIGEST = "io.dockyard.repo.digest"
_ID_PREFIX = re.compile(r"(?:sha256:)?[0-9a-f]{1,64}")


def short_id(digest: Digest) -> str:
    """The 12 hex digits Docker shows as IMAGE ID."""
    return digest.hex[:12]


def repo_digest(entry: Descriptor) -> Digest | None:
    """The digest the registry gave the image, when it came from (or went to) one."""
    try:
        return Digest.parse((entry.annotations or {})[REPO_DIGEST])
    except (KeyError, InvalidDigest):
        return None


def with_repo_digest(entry: Descriptor, digest: Digest | None) -> Descriptor:
    """``entry`` carrying ``digest`` as its repo digest (None: carrying none)."""
    annotations = {k: v for k, v in (entry.annotations or {}).items() if k != REPO_DIGEST}
    if digest is not None:
        annotations[REPO_DIGEST] = str(digest)
    return replace(entry, annotations=annotations or None)


@dataclass(frozen=True, slots=True)
class Named:
    """An entry's name split as Docker shows it; both parts are ``<none>`` when untagged."""

    repository: str
    tag: str
    reference: Reference | None

    @classmethod
    def of(cls, image: Image) -> "Named":
        if image.ref_name is None:
            return cls("<none>", "<none>", None)
        try:
            ref = Reference.parse(image.ref_name, default_tag=False)
        except InvalidReference:
            return cls(image.ref_name, "<none>", None)
        return cls(ref.familiar_name, ref.tag or "<none>", ref)


async def find(store: ImageStore, text: str) -> tuple[Reference | None, Descriptor]:
    """The image ``text`` names: a reference in the store, else an image ID (prefix).

    Returns the reference when it was one, and the store entry without its tag.
    """
    try:
        reference = Reference.parse(text)
    except InvalidReference:
        if not _ID_PREFIX.fullmatch(text):
            raise
        reference = None
    if reference is not None:
        try:
            return reference, await store.resolve(reference)
        except ImageNotFound:
            if not _ID_PREFIX.fullmatch(text):
                raise
    return None, by_id(await store.images(), text)


def by_id(images: list[Image], text: str) -> Descriptor:
    """The one image whose ID or manifest digest starts with ``text``."""
    prefix = text.removeprefix("sha256:")
    found = {i.descriptor.digest: i.descriptor for i in images
             if i.id.hex.startswith(prefix) or i.digest.hex.startswith(prefix)}
    if not found:
        raise ImageNotFound(f"no such image: {text}")
    if len(found) > 1:
        raise StoreError(f"{text} matches {len(found)} images: give more of the ID")
    [descriptor] = found.values()
    return replace(descriptor, annotations=None)


async def platform_manifest(store: ImageStore, entry: Descriptor,
                            platform: Platform | None = None) -> Descriptor:
    """The image manifest to use for ``entry``: itself, or an index's child for ``platform``."""
    manifest = await store.manifest(entry)
    if not manifest.is_index:
        return entry
    present = [child for child in manifest.children if await store.has_blob(child.digest)]
    return choose(present, platform or host_platform())
