"""``dockyard inspect IMAGE...`` (``image inspect``): an image's details as Docker's JSON."""

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


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("inspect", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--format", metavar="FORMAT",
                        help="Format the output using a Go template, such as '{{.Id}}'")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="Which platform of a multi-platform image to describe")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..errors import DockyardError
    from ..formatting import inspect_output
    from ..localimages import find
    from ..platforms import Platform

    platform = Platform.parse(args.platform) if args.platform else None
    store = await ctx.image_store()
    images = await store.images()
    found, failed = [], False
    for text in args.images:
        try:
            _, entry = await find(store, text)
            found.append(await describe(store, images, entry, platform))
        except DockyardError as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
    if found or not args.format:
        print(inspect_output(found, args.format))
    return 1 if failed else 0


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
