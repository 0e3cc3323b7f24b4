"""``dockyard rm [-f] [-v] CONTAINER...``: remove containers and everything they held."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Remove one or more containers"


def register(subcommands: argparse._SubParsersAction, name: str = "rm",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-f", "--force", action="store_true",
                        help="Force the removal of a running container (uses SIGKILL)")
    parser.add_argument("-v", "--volumes", action="store_true",
                        help="Remove anonymous volumes associated with the container (there are "
                             "none: only bind mounts are supported)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers import lifecycle
    from ..containers.cli import for_each

    return for_each(ctx, args.containers,
                    lambda store, record: lifecycle.remove(store, record, args.force))
