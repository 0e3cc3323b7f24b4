"""``dockyard exec [-d] [-i] [-t] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND...``."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Execute a command in a running container"


def register(subcommands: argparse._SubParsersAction, name: str = "exec",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-d", "--detach", action="store_true",
                        help="Detached mode: run command in the background")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="Keep STDIN open even if not attached")
    parser.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="LIST",
                        help="Set environment variables")
    parser.add_argument("-u", "--user", metavar="USER",
                        help="Username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("-w", "--workdir", metavar="DIR",
                        help="Working directory inside the container")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers.cli import store_of
    from ..containers.execs import exec_process
    from ..containers.lifecycle import find
    from ..errors import DockyardError

    if not args.command:
        raise DockyardError("exec needs a command to run")
    store = store_of(ctx)
    return exec_process(store, find(store, args.container), args.command,
                        interactive=args.interactive, tty=args.tty, env=args.env, user=args.user,
                        workdir=args.workdir, detach=args.detach)
