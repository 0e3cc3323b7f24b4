"""``dockyard save [-o FILE] IMAGE...`` (``image save``): images to a tar archive."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "Save one or more images to a tar archive (streamed to STDOUT by default)"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("save", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="Write to a file, instead of STDOUT")
    parser.add_argument("--format", choices=("docker", "oci"), default="docker",
                        help="docker: what 'docker save' writes (default); oci: an OCI "
                             "image layout archive")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..errors import DockyardError
    from ..fsutil import TEMP_PREFIX
    from ..localimages import find
    from ..store.archive import save

    if args.output is None and sys.stdout.isatty():
        raise DockyardError("cowardly refusing to save to a terminal. "
                            "Use the -o flag or redirect")
    store = await ctx.image_store()
    images = [await find(store, text) for text in args.images]
    if args.output is None:
        await save(store, images, sys.stdout.buffer, args.format)
        return 0
    # Written aside and renamed: a failure never leaves half an archive under the name.
    directory, name = os.path.split(os.path.abspath(args.output))
    temp = os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{name}")
    try:
        with open(temp, "wb") as out:
            await save(store, images, out, args.format)
        os.replace(temp, args.output)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return 0
