"""``dockyard sync SRC DST`` or ``dockyard sync --config FILE``: copy images between registries."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import DockyardError

if TYPE_CHECKING:
    from ..context import Context

HELP = "Copy images from one registry to another, only what is missing"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("sync", help=HELP, description=HELP + (
        ". Every platform of a multi-platform image is copied; blobs stream from registry "
        "to registry. Exit status 1 when anything failed.")))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC[:TAG|@DIGEST]", nargs="?",
                        help="Repository to copy from (a bare name means :latest)")
    parser.add_argument("destination", metavar="DST[:TAG]", nargs="?",
                        help="Repository to copy into (same tag unless one is given)")
    parser.add_argument("-t", "--tags", metavar="GLOB", action="append", default=[],
                        help="Copy the source's tags matching GLOB ('3.*'); may be repeated")
    parser.add_argument("-a", "--all-tags", action="store_true",
                        help="Copy every tag of the source repository")
    parser.add_argument("--config", metavar="FILE", dest="sync_file",
                        help="Copy the repositories a YAML file lists (instead of SRC DST)")
    parser.add_argument("-j", "--concurrency", metavar="N", type=int,
                        help="Blobs copied at once (default 4, or the file's 'concurrency')")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="Print only errors and the summary")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from dataclasses import replace
    from pathlib import Path

    from ..progress import display_for
    from ..sync import SyncPlan, job_from_args, load_plan, sync

    if args.sync_file:
        if args.source or args.tags or args.all_tags:
            raise DockyardError("--config FILE replaces SRC DST, --tags and --all-tags")
        plan = load_plan(Path(args.sync_file))
    elif args.source and args.destination:
        plan = SyncPlan((job_from_args(args.source, args.destination, args.tags,
                                       args.all_tags),))
    else:
        raise DockyardError("'dockyard sync' needs SRC and DST, or --config FILE")
    if args.concurrency is not None:
        if args.concurrency < 1:
            raise DockyardError("--concurrency must be at least 1")
        plan = replace(plan, concurrency=args.concurrency)
    async with ctx.registry_client() as client:
        with display_for(args.quiet) as display:
            report = await sync(client, plan, display)
    print(report.summary())
    return 1 if report.failures else 0
