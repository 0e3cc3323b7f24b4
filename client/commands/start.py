"""``dockyard start [-a] [-i] CONTAINER...``: run created or stopped containers again."""

from __future__ import annotations

import argparse
from ..containers.cli import docker_exit_status

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Start one or more stopped containers"


def register(subcommands: argparse._SubParsersAction, name: str = "start",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-a", "--attach", action="store_true",
                        help="Attach STDOUT/STDERR and forward signals")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="Attach container's STDIN")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(run=run)


@docker_exit_status
def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers.cli import for_each
    from ..containers.records import ContainerConflict
    from ..containers.supervisor import Session, run_detached

    attach = args.attach or args.interactive
    if attach and len(args.containers) > 1:
        raise ContainerConflict("you cannot start and attach multiple containers at once")
    if not attach:
        def start(store, record) -> None:
            if not record["State"]["Running"]:
                run_detached(Session(store, record["Id"], attached=False))
        return for_each(ctx, args.containers, start)
    from ..containers.cli import store_of
    from ..containers.lifecycle import find

    store = store_of(ctx)
    record = find(store, args.containers[0])
    if record["State"]["Running"]:
        raise ContainerConflict(f"container {args.containers[0]} is already running")
    return Session(store, record["Id"], attached=True, attach_stdin=args.interactive).run()
