"""``dockyard container COMMAND``: the container commands as a group, as ``docker container``.

Each subcommand is registered by the module of the top-level command of the
same meaning (``container ls`` is ``ps``), so the two spellings cannot drift
apart; ``inspect`` and ``prune`` are the group's own (the top-level
``inspect`` belongs to images and containers alike).
"""

from __future__ import annotations

import argparse
import sys
from . import create, exec as exec_, kill, logs, ps, rm, run, start, stop, wait

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Manage containers"
# name -> (module, aliases)
SUBCOMMANDS = {
    "create": (create, ()), "exec": (exec_, ()), "kill": (kill, ()), "logs": (logs, ()),
    "ls": (ps, ("ps", "list")), "rm": (rm, ("remove",)), "run": (run, ()), "start": (start, ()),
    "stop": (stop, ()), "wait": (wait, ()),
}


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("container", help=HELP, description=HELP)
    group = parser.add_subparsers(title="Commands", metavar="COMMAND")
    for name, (module, aliases) in SUBCOMMANDS.items():
        module.register(group, name, aliases)
    inspect = group.add_parser("inspect", help="Display detailed information on one or more "
                               "containers", description="Display detailed information on one "
                               "or more containers")
    inspect.add_argument("containers", nargs="+", metavar="CONTAINER")
    inspect.add_argument("-f", "--format", metavar="FORMAT",
                         help="Format the output using a Go template, such as '{{.State.Status}}'")
    inspect.set_defaults(run=run_inspect)
    prune = group.add_parser("prune", help="Remove all stopped containers",
                             description="Remove all stopped containers")
    prune.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    prune.set_defaults(run=run_prune)
    parser.set_defaults(run=lambda args, ctx: parser.print_help())


def run_inspect(args: argparse.Namespace, ctx: "Context") -> int:
    """Print containers' inspect documents (or ``--format`` of each); 1 if one is missing."""
    from ..containers.cli import store_of
    from ..containers.lifecycle import find
    from ..containers.views import inspect
    from ..errors import DockyardError
    from ..formatting import inspect_output

    store = store_of(ctx)
    found, failed = [], False
    for name in args.containers:
        try:
            found.append(inspect(find(store, name), store))
        except DockyardError as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
    if found or not args.format:
        print(inspect_output(found, args.format))
    return 1 if failed else 0


def run_prune(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers.cli import confirm, store_of
    from ..containers.lifecycle import prune

    if not args.force and not confirm("WARNING! This will remove all stopped containers.\n"
                                      "Are you sure you want to continue? [y/N] "):
        return 0
    removed = prune(store_of(ctx))
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    print("Total reclaimed space: 0B")
    return 0
