"""``dockyard wait CONTAINER...``: block until the containers stop, then print their exit codes."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Block until one or more containers stop, then print their exit codes"


def register(subcommands: argparse._SubParsersAction, name: str = "wait",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers import lifecycle
    from ..containers.cli import for_each

    return for_each(ctx, args.containers, lifecycle.wait)
