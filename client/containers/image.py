"""The image a container runs: its config and its unpacked layer directories.

``dockyard run`` must start fast, and the image store's full API (asyncio,
the unpacker, the registry client) costs more to import than a container
takes to run.  So the common case is read straight from the OCI layout, as
the image spec defines it: the tag's entry in ``index.json`` names an image
manifest whose layers are already unpacked under ``layers/<chain id>``.
Anything else (an ID prefix, an index entry, layers not unpacked yet, an
image that is not there) goes through the store's own API, which may pull.
"""

from __future__ import annotations

import json
import os

from client.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from client.context import Context

REF_NAME = "org.opencontainers.image.ref.name"  # client.store.index's tag annotation
_IMAGE_MANIFESTS = ("application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json")


class Image:
    """What a container needs of its image."""

    __slots__ = ("id", "name", "config", "layers")

    def __init__(self, image_id: str, name: str, config: dict, layers: list[tuple[str, str]]) -> None:
        self.id = image_id        # "sha256:<config digest hex>", Docker's image ID
        self.name = name          # as the user gave it (Config.Image)
        self.config = config      # the whole image config (its "config" holds Cmd, Env, ...)
        self.layers = layers      # (directory, overlay xattr namespace), bottom layer first

    @property
    def run_config(self) -> dict:
        """The image config's ``config`` object: Entrypoint, Cmd, Env, WorkingDir, User, ..."""
        return self.config.get("config") or {}


def resolve(ctx: Context, text: str) -> Image:
    """The image ``text`` names (a reference or an ID prefix), with its layers unpacked."""
    found = _from_layout(ctx.root_dir, text)
    if found is not None:
        return found
    import asyncio
    return asyncio.run(_from_store(ctx, text))


def layer_dirs(root: str, diff_ids: list[str]) -> list[tuple[str, str]] | None:
    """The unpacked directory and xattr namespace of each layer, bottom first; None if one is missing."""
    from ocispec.digest import Digest, chain_ids

    layers = []
    for chain in chain_ids([Digest.parse(diff_id) for diff_id in diff_ids]):
        directory = os.path.join(root, "layers", chain.hex)
        try:
            with open(os.path.join(directory, "layer.json"), "rb") as f:
                namespace = json.load(f).get("overlayXattrs", "trusted")
        except FileNotFoundError:
            return None
        layers.append((os.path.join(directory, "diff"), namespace))
    return layers


def _from_layout(root: str, text: str) -> Image | None:
    """The fast path: a tag naming an image manifest whose layers are all unpacked."""
    from ocispec.reference import InvalidReference, Reference

    try:
        name = str(Reference.parse(text))
        with open(os.path.join(root, "store", "index.json"), "rb") as f:
            entries = json.load(f).get("manifests") or []
    except (InvalidReference, FileNotFoundError, ValueError):
        return None
    entry = next((e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == name), None)
    if entry is None or entry.get("mediaType") not in _IMAGE_MANIFESTS:
        return None
    try:
        manifest = json.loads(_read_blob(root, entry["digest"]))
        config_digest = manifest["config"]["digest"]
        config = json.loads(_read_blob(root, config_digest))
        layers = layer_dirs(root, config["rootfs"]["diff_ids"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if layers is None:
        return None
    return Image(config_digest, text, config, layers)


def _read_blob(root: str, digest: str) -> bytes:
    algorithm, _, hex_digest = digest.partition(":")
    if not hex_digest.isalnum():
        raise ValueError(f"bad digest {digest!r}")
    with open(os.path.join(root, "store", "blobs", algorithm, hex_digest), "rb") as f:
        return f.read()


async def _from_store(ctx: Context, text: str) -> Image:
    """The general path: the store finds the image (by ID too), picks the platform, unpacks."""
    from client.localimages import find, platform_manifest
    from client.store import ImageNotFound

    store = await ctx.image_store()
    try:
        _, entry = await find(store, text)
    except ImageNotFound:
        raise DockyardError(f"Unable to find image '{text}' locally (pull it first)") from None
    descriptor = await platform_manifest(store, entry)
    config = await store.config(descriptor)
    infos = await store.unpack(descriptor)
    manifest = await store.manifest(descriptor)
    if manifest.config is None:
        raise DockyardError(f"{text} is not a runnable image: its manifest has no config")
    return Image(str(manifest.config.digest), text, config,
                 [(str(info.path), info.overlay_xattrs) for info in infos])
