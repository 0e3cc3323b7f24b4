"""``dockyard inspect NAME...``: a container's or an image's details as Docker's JSON.

As ``docker inspect``, each name is looked up as a container first, then as
an image (``--type`` narrows it); ``image inspect`` looks for images only.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocispec.manifest import Descriptor

    from ..context import Context
    from ..platforms import Platform
    from ..store import Image, ImageStore

HELP = "Display detailed information on one or more images"
ANY_HELP = "Return low-level information on containers or images"


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("inspect", help=ANY_HELP, description=ANY_HELP)
    configure(parser)
    parser.add_argument("--type", choices=("container", "image"),
                        help="Only look for this type of object")
    parser.set_defaults(run=run_any)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--format", metavar="FORMAT",
                        help="Format the output using a Go template, such as '{{.Id}}'")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="Which platform of a multi-platform image to describe")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    """``image inspect``: images only."""
    return await _inspect(args, ctx, containers=False, images=True)


async def run_any(args: argparse.Namespace, ctx: "Context") -> int:
    """Top-level ``inspect``: containers, then images."""
    return await _inspect(args, ctx, containers=args.type != "image",
                          images=args.type != "container")


async def _inspect(args: argparse.Namespace, ctx: "Context", containers: bool,
                   images: bool) -> int:
    from ..errors import DockyardError
    from ..formatting import inspect_output

    lookup = _ImageLookup(ctx, args.platform) if images else None
    found, failed = [], False
    for text in args.images:
        try:
            document = _container(ctx, text) if containers else None
            if document is None and lookup is None:
                raise DockyardError(f"No such container: {text}")
            found.append(document if document is not None else await lookup.describe(text))
        except DockyardError as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
    if found or not args.format:
        print(inspect_output(found, args.format))
    return 1 if failed else 0


def _container(ctx: "Context", name: str) -> dict[str, Any] | None:
    """The container ``name`` names, as ``container inspect`` shows it; None if there is none."""
    from ..containers.lifecycle import find
    from ..containers.records import ContainerStore, NoSuchContainer
    from ..containers.views import inspect

    store = ContainerStore(ctx.root)
    try:
        return inspect(find(store, name), store)
    except NoSuchContainer:
        return None


class _ImageLookup:
    """Images by name or ID, the store opened on first use."""

    def __init__(self, ctx: "Context", platform: str | None) -> None:
        self.ctx = ctx
        self.platform = platform
        self.store: "ImageStore | None" = None
        self.images: list["Image"] = []

    async def describe(self, text: str) -> dict[str, Any]:
        from ..localimages import find
        from ..platforms import Platform

        if self.store is None:
            self.store = await self.ctx.image_store()
            self.images = await self.store.images()
        _, entry = await find(self.store, text)
        platform = Platform.parse(self.platform) if self.platform else None
        return await describe(self.store, self.images, entry, platform)


async def describe(store: "ImageStore", images: list["Image"], entry: "Descriptor",
                   platform: "Platform | None" = None) -> dict[str, Any]:
    """What ``docker image inspect`` says about the store entry ``entry``."""
    from ..localimages import Named, platform_manifest, repo_digest
    from ..store.graph import diff_ids

    same = [image for image in images if image.digest == entry.digest]
    names = [(Named.of(image), image.descriptor) for image in same]
    config = await store.config(await platform_manifest(store, entry, platform))
    return {
        "Id": str(same[0].id) if same else str(entry.digest),
        "RepoTags": [n.reference.familiar() for n, _ in names if n.reference and n.reference.tag],
        "RepoDigests": sorted({f"{n.reference.familiar_name}@{digest}" for n, d in names
                               if n.reference and (digest := repo_digest(d))}),
        "Parent": "",
        "Comment": config.get("comment", ""),
        "Created": config.get("created", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config") or {},
        "Architecture": config.get("architecture", ""),
        **({"Variant": config["variant"]} if config.get("variant") else {}),
        "Os": config.get("os", ""),
        "Size": same[0].size if same else 0,
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in diff_ids(config)]},
        "Descriptor": {"mediaType": entry.media_type, "digest": str(entry.digest),
                       "size": entry.size},
    }
