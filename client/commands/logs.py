"""``dockyard logs [-f] [--tail N] [-t] CONTAINER``: a container's output, from its json-file log."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "Fetch the logs of a container"


def register(subcommands: argparse._SubParsersAction, name: str = "logs",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    parser.add_argument("-n", "--tail", default="all",
                        help='Number of lines to show from the end of the logs (default "all")')
    parser.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    import sys

    from ..containers import logs, procs
    from ..containers.cli import store_of
    from ..containers.lifecycle import find
    from ..errors import DockyardError

    if args.tail != "all" and not args.tail.lstrip("-").isdigit():
        raise DockyardError(f"invalid --tail {args.tail!r}: a number or all")
    tail = None if args.tail == "all" or int(args.tail) < 0 else int(args.tail)
    store = store_of(ctx)
    record = find(store, args.container)
    entries, offset = logs.read(record["LogPath"], tail)
    outputs = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def show(entry: dict) -> None:
        out = outputs.get(entry.get("stream"), sys.stdout.buffer)
        text = entry.get("log", "")
        if args.timestamps:
            text = f"{entry.get('time', '')} {text}"
        out.write(text.encode())
        out.flush()

    for entry in entries:
        show(entry)
    if args.follow and record["State"]["Running"]:
        container_id = record["Id"]

        def running() -> bool:
            try:
                current = store.load(container_id)
            except DockyardError:
                return False
            return procs.alive(current["Dockyard"].get("Supervisor"))

        for entry in logs.follow(record["LogPath"], offset, running):
            show(entry)
    return 0
