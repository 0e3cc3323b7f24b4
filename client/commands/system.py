"""``dockyard system df|prune``: how much space the local store takes, and freeing what is unused."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "Manage Dockyard"


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("system", help=HELP, description=HELP)
    group = parser.add_subparsers(title="Commands", metavar="COMMAND")
    df = group.add_parser("df", help="Show disk usage", description="Show disk usage")
    df.add_argument("-v", "--verbose", action="store_true",
                    help="Show where the space goes: blobs, unpacked layers, partial downloads")
    df.set_defaults(run=run_df)
    prune = group.add_parser("prune", help="Remove unused data", description="Remove unused data")
    prune.add_argument("-a", "--all", action="store_true",
                       help="Remove all unused images not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    prune.set_defaults(run=run_prune)
    parser.set_defaults(run=lambda args, ctx: parser.print_help())


async def run_df(args: argparse.Namespace, ctx: "Context") -> int:
    from ..formatting import human_size, table

    store = await ctx.image_store()
    usage = await store.disk_usage()
    size = usage.blob_bytes + usage.layer_bytes + usage.partial_bytes
    share = f" ({100 * usage.reclaimable_bytes // size}%)" if size else ""
    print(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                [["Images", str(usage.images), str(usage.images - usage.dangling),
                  human_size(size), human_size(usage.reclaimable_bytes) + share]]))
    if args.verbose:
        print()
        print(table(["SPACE", "SIZE"],
                    [["Blobs (compressed layers, configs, manifests)", human_size(usage.blob_bytes)],
                     ["Unpacked layers", human_size(usage.layer_bytes)],
                     ["Partial downloads", human_size(usage.partial_bytes)]]))
    return 0


async def run_prune(args: argparse.Namespace, ctx: "Context") -> int:
    """Docker's ``system prune``: stopped containers, then the networks and images they no
    longer hold, then the build cache; one total at the end."""
    from ..build.cache import BuildCache
    from ..containers.cli import confirm, store_of
    from ..containers.lifecycle import prune as prune_containers
    from ..formatting import human_size
    from . import _prune, network

    images = ("all images without at least one container associated to them" if args.all
              else "all dangling images")
    if not args.force and not confirm(
            "WARNING! This will remove:\n  - all stopped containers\n"
            "  - all networks not used by at least one container\n"
            f"  - {images}\n  - {'all' if args.all else 'unused'} build cache\n\n"
            "Are you sure you want to continue? [y/N] "):
        return 0
    # off the event loop: removing bridges drives pyroute2, whose sync calls run a loop of their own
    removed = await asyncio.to_thread(prune_containers, store_of(ctx))
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    network.report(await asyncio.to_thread(network.prune, ctx))
    freed = _prune.report(await _prune.remove_unused(ctx, args.all))
    freed += BuildCache(ctx.root / "build-cache").prune()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0
