"""``dockyard image COMMAND``: the image commands as a group, as ``docker image`` has them.

Each subcommand is the top-level command of the same meaning (``image ls`` is
``images``, ``image rm`` is ``rmi``), configured by that command's module, so
the two spellings cannot drift apart.
"""

from __future__ import annotations

import argparse
from . import _prune, images, inspect, load, pull, push, rmi, save, tag

HELP = "Manage images"
# name -> (module, aliases)
SUBCOMMANDS = {
    "inspect": (inspect, ()),
    "load": (load, ()),
    "ls": (images, ("list",)),
    "prune": (_prune, ()),
    "pull": (pull, ()),
    "push": (push, ()),
    "rm": (rmi, ("remove",)),
    "save": (save, ()),
    "tag": (tag, ()),
}


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("image", help=HELP, description=HELP)
    group = parser.add_subparsers(title="Commands", metavar="COMMAND")
    for name, (module, aliases) in SUBCOMMANDS.items():
        module.configure(group.add_parser(name, aliases=list(aliases), help=module.HELP,
                                          description=module.HELP))
    parser.set_defaults(run=lambda args, ctx: parser.print_help())

