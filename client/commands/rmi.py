"""``dockyard rmi IMAGE...`` (``image rm``): untag images and delete what nothing else uses."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocispec.reference import Reference

    from ..context import Context
    from ..store import ImageStore

HELP = "Remove one or more images"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("rmi", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--force", action="store_true",
                        help="Remove an image given by ID even if several tags name it")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..errors import DockyardError

    store = await ctx.image_store()
    failed = False
    for text in args.images:
        try:
            await remove(store, text, args.force)
        except DockyardError as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


async def remove(store: "ImageStore", text: str, force: bool) -> None:
    """Remove one image named by reference or ID, printing Docker's Untagged/Deleted lines."""
    from ..containers.lifecycle import containers_using
    from ..localimages import find
    from ..store import ImageConflict

    images = await store.images()
    ids = {image.digest: image.id for image in images}
    reference, entry = await find(store, text)
    by_tag = bool(reference and reference.tag)
    target: Reference | str = reference if by_tag else str(entry.digest)
    tags = sum(1 for image in images if image.digest == entry.digest and image.ref_name)
    if not by_tag or tags <= 1:  # the image itself would go
        image_id = str(ids.get(entry.digest, entry.digest))
        users = containers_using(str(store.root), image_id)
        if users:
            raise ImageConflict(f"conflict: unable to delete {image_id.removeprefix('sha256:')[:12]}"
                                f" - image is used by container {users[0][:12]}: remove the "
                                "container first")
    removal = await store.remove(target, force)
    for name in removal.untagged:
        print(f"Untagged: {familiar(name)}")
    for digest in removal.deleted:
        print(f"Deleted: {ids.get(digest, digest)}")


def familiar(name: str) -> str:
    """A stored reference as Docker prints it (``busybox:latest``)."""
    from ocispec.reference import InvalidReference, Reference

    try:
        return Reference.parse(name, default_tag=False).familiar()
    except InvalidReference:
        return name
