"""``dockyard create IMAGE [COMMAND...]``: a container that ``start`` will run, as ``docker create``."""

from __future__ import annotations

import argparse
from ..containers.cli import docker_exit_status

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Create a new container"


def register(subcommands: argparse._SubParsersAction, name: str = "create",
             aliases: tuple[str, ...] = ()) -> None:
    # no -h for help: -h is --hostname, as in Docker
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP, add_help=False)
    from ..containers.options import add_arguments

    add_arguments(parser)
    parser.set_defaults(run=run)


@docker_exit_status
def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers import lifecycle

    print(lifecycle.create(ctx, args)["Id"])
    return 0
