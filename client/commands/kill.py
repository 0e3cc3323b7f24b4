"""``dockyard kill [-s SIGNAL] CONTAINER...``: signal the containers' main processes."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Kill one or more running containers"


def register(subcommands: argparse._SubParsersAction, name: str = "kill",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-s", "--signal", default="KILL", help="Signal to send (default KILL)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers import lifecycle
    from ..containers.cli import for_each

    sig = lifecycle.parse_signal(args.signal)
    return for_each(ctx, args.containers, lambda store, record: lifecycle.kill(store, record, sig))
