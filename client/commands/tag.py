"""``dockyard tag SOURCE TARGET``: give an image of the local store another name."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("tag", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ocispec.reference import Reference

    from ..errors import DockyardError
    from ..localimages import find, with_repo_digest

    target = Reference.parse(args.target)
    if target.digest is not None:
        raise DockyardError(f"refusing to create a tag with a digest reference: {args.target}")
    store = await ctx.image_store()
    _, entry = await find(store, args.source)
    # The registry digest belongs to the source's repository; the new name has none yet.
    await store.tag(target, with_repo_digest(entry, None))
    return 0
