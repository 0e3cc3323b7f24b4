"""``dockyard system df``: how much space the local store takes, and how much could go."""

from __future__ import annotations

import argparse
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
