"""``dockyard ps [-a] [-q] [--no-trunc] [--format FORMAT]``: list containers, as ``docker ps``."""

from __future__ import annotations

import argparse
TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from ..context import Context

HELP = "List containers"


def register(subcommands: argparse._SubParsersAction, name: str = "ps",
             aliases: tuple[str, ...] = ()) -> None:
    parser = subcommands.add_parser(name, aliases=list(aliases), help=HELP, description=HELP)
    parser.add_argument("-a", "--all", action="store_true",
                        help="Show all containers (default shows just running)")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("--format", metavar="FORMAT",
                        help="Format output using a Go template, 'table' or 'json'")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers.cli import store_of
    from ..containers.lifecycle import sweep
    from ..containers.views import PS_DEFAULT, PS_TITLES, ps_row
    from ..formatting import Template

    store = store_of(ctx)
    records = [r for r in sweep(store) if args.all or r["State"]["Running"]]
    records.sort(key=lambda r: r["Created"], reverse=True)
    rows = [ps_row(r, truncate=not args.no_trunc) for r in records]
    if not args.quiet:
        from ..containers.netsettings import ports_column
        for row, record in zip(rows, records):
            row["Ports"] = ports_column(store, record)
    if args.quiet:
        lines = [row["ID"] for row in rows]
    else:
        output = Template.parse(args.format or PS_DEFAULT).render_all(rows, PS_TITLES)
        lines = [output] if output else []
    if lines:
        print("\n".join(lines))
    return 0
