"""``dockyard builder prune``: remove the build cache (step entries and cache mounts).

Layers that cached steps pointed to stay in the store until ``image prune``
finds them unreferenced; the cache entries themselves are what go here.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "Manage builds"


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("builder", help=HELP, description=HELP)
    group = parser.add_subparsers(title="Commands", metavar="COMMAND")
    prune = group.add_parser("prune", help="Remove build cache",
                             description="Remove build cache")
    prune.add_argument("-f", "--force", action="store_true",
                       help="Do not prompt for confirmation")
    prune.set_defaults(run=run)
    parser.set_defaults(run=lambda args, ctx: parser.print_help())


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..build.cache import BuildCache
    from ..formatting import human_size

    freed = BuildCache(ctx.root / "build-cache").prune()
    print(f"Total:\t{human_size(freed)}")
    return 0
