"""``dockyard port CONTAINER [PRIVATE_PORT[/PROTO]]``: a container's published ports."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "List port mappings or a specific mapping for the container"


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("port", help=HELP, description=HELP)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("private", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from runtime.network import NotFound

    from ..errors import DockyardError
    from .network import container_id, networks

    try:
        bindings = networks(ctx).published(container_id(ctx, args.container))
    except NotFound:  # a container without network settings of its own (none, host)
        bindings = []
    if args.private is None:
        for binding in bindings:
            print(binding.describe())
        return 0
    port, _, proto = args.private.partition("/")
    chosen = [b for b in bindings if str(b.container_port) == port and b.proto == (proto or "tcp")]
    if not chosen:
        raise DockyardError(f"No public port '{port}/{proto or 'tcp'}' published for {args.container}")
    for binding in chosen:
        print(binding.describe().split(" -> ")[1])
    return 0
