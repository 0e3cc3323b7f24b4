"""``dockyard run IMAGE [COMMAND...]``: create a container and run it, as ``docker run``.

In the foreground this process supervises the container: its output comes
here (and into its log), signals are passed on, and the exit status is the
container's.  With ``-d`` a supervisor of its own takes over and the ID is
printed once the container runs.  Failures exit 125, or 126/127 when the
command cannot be run, as Docker's do.
"""

from __future__ import annotations

import argparse
from ..containers.cli import docker_exit_status

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Create and run a new container from an image"


def register(subcommands: argparse._SubParsersAction, name: str = "run",
             aliases: tuple[str, ...] = ()) -> None:
    from ..containers.options import add_arguments

    # no -h for help: -h is --hostname, as in Docker
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP, add_help=False)
    parser.add_argument("-d", "--detach", action="store_true",
                        help="Run container in background and print container ID")
    add_arguments(parser)
    parser.set_defaults(run=run)


@docker_exit_status
def run(args: argparse.Namespace, ctx: "Context") -> int:
    from runtime.cgroups import warmup

    from ..containers import networking

    # Forked first: it loads the network library while the container is created, and
    # before the warm-up thread starts (a fork while a thread imports can deadlock).
    network = networking.NetworkChild() if networking.mode_uses_library(args.network) else None
    warmup.start()  # see runtime.cgroups.warmup: kept warm until the container is in its cgroup
    from ..containers import lifecycle
    from ..containers.cli import store_of
    from ..containers.supervisor import Session, run_detached

    try:
        record = lifecycle.create(ctx, args)
        session = Session(store_of(ctx), record["Id"], attached=not args.detach,
                          attach_stdin=args.interactive, network=network)
        if args.detach:
            run_detached(session)
            print(record["Id"])
            return 0
        return session.run()
    except BaseException:
        if network is not None and network.id is None:  # failed before the attach
            network.close()
        raise
