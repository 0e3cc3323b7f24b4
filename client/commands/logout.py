"""``dockyard logout [SERVER]``: forget the stored credentials for a registry."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "logout", help="Log out from a registry",
        description="Log out from a registry. If no server is specified, Docker Hub is used.")
    parser.add_argument("server", nargs="?", metavar="SERVER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ocispec.reference import DEFAULT_REGISTRY

    from ..credentials import normalize_server

    registry = normalize_server(args.server or DEFAULT_REGISTRY)
    if ctx.credentials().erase(registry):
        print(f"Removing login credentials for {registry}")
    else:
        print(f"Not logged in to {registry}")
    return 0
