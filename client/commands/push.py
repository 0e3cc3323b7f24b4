"""``dockyard push NAME[:TAG]``: upload an image of the local store to its registry."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import DockyardError

if TYPE_CHECKING:
    from ocispec.manifest import Descriptor
    from ocispec.reference import Reference

    from ..context import Context
    from ..store import ImageStore

HELP = "Upload an image to a registry"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("push", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    parser.add_argument("-a", "--all-tags", action="store_true",
                        help="Push all tags of the repository held locally")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="Suppress verbose output: print only the pushed digests")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ocispec.reference import Reference

    from ..localimages import with_repo_digest
    from ..progress import display_for
    from ..push import Pusher

    reference = Reference.parse(args.name, default_tag=not args.all_tags)
    if args.all_tags and (reference.tag or reference.digest):
        raise DockyardError("a tag or digest can't be used with --all-tags/-a")
    store = await ctx.image_store()
    images = await _local(store, reference, args.all_tags)
    async with ctx.registry_client() as client:
        for number, (each, entry) in enumerate(images):
            display = display_for(args.quiet)  # one live display per image, ended before
            with display:                      # its closing line, as Docker prints it
                if number == 0:
                    display.message(f"The push refers to repository [{reference.name}]")
                result = await Pusher(store, client, display).push(each, entry)
            if each.tag:
                await store.tag(each, with_repo_digest(entry, result.digest))
            prefix = f"{each.tag}: " if each.tag else ""
            display.message(f"{prefix}digest: {result.digest} size: {result.size}")
            if args.quiet:
                print(f"{each.name}@{result.digest}")
    return 0


async def _local(store: "ImageStore", reference: "Reference", all_tags: bool
                 ) -> list[tuple["Reference", "Descriptor"]]:
    """The store's images to push: the one named, or every tag of the repository."""
    from ocispec.reference import Reference

    from ..store import ImageNotFound

    if not all_tags:
        try:
            return [(reference, await store.resolve(reference))]
        except ImageNotFound:
            raise DockyardError(f"An image does not exist locally with the tag: "
                                f"{reference.familiar()}") from None
    tagged = []
    for image in await store.images():
        if image.ref_name and image.ref_name.startswith(reference.name + ":"):
            tagged.append((Reference.parse(image.ref_name), image.descriptor))
    if not tagged:
        raise DockyardError(f"An image does not exist locally with the name: "
                            f"{reference.familiar_name}")
    return sorted(tagged, key=lambda pair: pair[0].tag or "")
