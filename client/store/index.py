"""``index.json``: the store's roots, with the tags that name them.

Each entry of ``manifests`` is one image (a manifest or an index).  A tag is
the entry's ``org.opencontainers.image.ref.name`` annotation holding the full
normalised reference (``docker.io/library/busybox:latest``), so names from
different registries never collide and other tools can address an image by it
(``skopeo inspect oci:<root>/store:docker.io/library/busybox:latest``: skopeo
splits at the first colon and accepts this grammar).  An image whose last tag
moved elsewhere stays as an entry without the annotation: Docker's dangling
``<none>`` image, kept until ``prune``.

Read-modify-write cycles hold an ``flock`` on ``index.lock`` (index.json itself
is replaced by rename, so it cannot carry the lock) and publish atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ocispec import mediatypes as mt
from ocispec.manifest import Descriptor, InvalidManifest

from client.fsutil import locked, write_atomic

from .errors import StoreError

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'


def ref_name(entry: Descriptor) -> str | None:
    return (entry.annotations or {}).get(REF_NAME)


def named(entry: Descriptor, name: str | None) -> Descriptor:
    """``entry`` carrying the tag ``name`` (None: no tag), other annotations kept."""
    annotations = {k: v for k, v in (entry.annotations or {}).items() if k != REF_NAME}
    if name is not None:
        annotations[REF_NAME] = name
    return replace(entry, annotations=annotations or None)


def point(entries: list[Descriptor], name: str | None, descriptor: Descriptor) -> None:
    """Make the tag ``name`` name ``descriptor`` (None: keep the image untagged).

    An image the tag moves away from, left without any entry, stays dangling.
    """
    if name is None:
        keep_untagged(entries, [descriptor])
        return
    replaced = [e for e in entries if ref_name(e) == name]
    entries[:] = [e for e in entries if ref_name(e) != name
                  and not (ref_name(e) is None and e.digest == descriptor.digest)]
    entries.append(named(descriptor, name))
    keep_untagged(entries, replaced)


def keep_untagged(entries: list[Descriptor], images: list[Descriptor]) -> None:
    """Add each of ``images`` as a dangling entry unless some entry already holds it."""
    for image in images:
        if all(e.digest != image.digest for e in entries):
            entries.append(named(image, None))


def index_document(entries: list[Descriptor]) -> bytes:
    """An OCI image index listing ``entries``, as index.json holds it."""
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                       "manifests": [entry.to_json() for entry in entries]}).encode()


class Index:
    """index.json of one OCI layout."""

    def __init__(self, layout: Path) -> None:
        self.layout = layout
        self.path = layout / "index.json"
        self._lock_path = layout / "index.lock"

    def create(self) -> None:
        """Write ``oci-layout`` and an empty index unless they exist."""
        with self.lock():
            if not (self.layout / LAYOUT_FILE).exists():
                write_atomic(self.layout / LAYOUT_FILE, LAYOUT_VERSION)
            if not self.path.exists():
                self.write([])

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive against every other writer of the index, in any process."""
        with locked(self._lock_path):
            yield

    def read(self) -> list[Descriptor]:
        """The entries; a consistent snapshot even without the lock (writes are renames)."""
        try:
            doc = json.loads(self.path.read_bytes())
            return [Descriptor.from_json(item, f"manifests[{i}]")
                    for i, item in enumerate(doc["manifests"])]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, InvalidManifest) as err:
            raise StoreError(f"{self.path} is corrupt: {err}") from None

    def write(self, entries: list[Descriptor]) -> None:
        """Replace the entries; the caller holds ``lock()``."""
        write_atomic(self.path, index_document(entries))

    @contextmanager
    def update(self) -> Iterator[list[Descriptor]]:
        """Read, let the block change the list in place, write it back if it changed."""
        with self.lock():
            entries = self.read()
            before = list(entries)
            yield entries
            if entries != before:
                self.write(entries)
