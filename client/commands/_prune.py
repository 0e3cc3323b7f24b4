"""``dockyard image prune [-a] [-f]``: remove unused images (only under ``image``, as in Docker)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context
    from ..store import Removal

HELP = "Remove unused images"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true",
                        help="Remove all unused images, not just dangling ones")
    parser.add_argument("-f", "--force", action="store_true",
                        help="Do not prompt for confirmation")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..formatting import human_size

    what = "all images without at least one container associated to them" if args.all \
        else "all dangling images"
    if not args.force and not _confirm(f"WARNING! This will remove {what}.\n"
                                       "Are you sure you want to continue? [y/N] "):
        return 0
    freed = report(await remove_unused(ctx, args.all))
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


async def remove_unused(ctx: "Context", everything: bool) -> list["Removal"]:
    """Dangling images (``everything``: and every tag of images), but never an image a
    container was made from: its overlay stacks the image's layers."""
    from ocispec.reference import Reference

    from ..containers.lifecycle import containers_using

    store = await ctx.image_store()
    removals: list[Removal] = []
    in_use = []
    for image in await store.images():
        if containers_using(str(store.root), str(image.id)):
            in_use.append(image.digest)
        elif everything and image.ref_name is not None:
            removals.append(await store.remove(Reference.parse(image.ref_name,
                                                               default_tag=False)))
    removals.append(await store.prune(keep=in_use))
    return removals


def report(removals: list["Removal"]) -> int:
    """Print Docker's "Deleted Images:" section; the bytes freed."""
    from .rmi import familiar

    lines = [f"untagged: {familiar(name)}" for r in removals for name in r.untagged]
    lines += [f"deleted: {digest}" for r in removals for digest in r.deleted]
    if lines:
        print("Deleted Images:\n" + "\n".join(lines) + "\n")
    return sum(r.freed for r in removals)


def _confirm(question: str) -> bool:
    print(question, end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
