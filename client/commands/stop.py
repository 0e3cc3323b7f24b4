"""``dockyard stop [-t SECONDS] CONTAINER...``: the stop signal, then SIGKILL after the timeout."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Stop one or more running containers"


def register(subcommands: argparse._SubParsersAction, name: str = "stop",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-t", "--time", "--timeout", type=int, dest="timeout", metavar="SECONDS",
                        help="Seconds to wait before killing the container (default 10, or its "
                             "--stop-timeout)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers import lifecycle
    from ..containers.cli import for_each

    return for_each(ctx, args.containers,
                    lambda store, record: lifecycle.stop(store, record, args.timeout))
