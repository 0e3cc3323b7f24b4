"""``dockyard load [-i FILE]`` (``image load``): images from a tar archive, ready to run."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context

HELP = "Load images from a tar archive (read from STDIN by default)"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("load", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", metavar="FILE",
                        help="Read from a tar archive file, instead of STDIN "
                             "('docker save' archives, OCI archives, gzip'd or not)")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..errors import DockyardError
    from ..localimages import platform_manifest
    from ..store.archive import load

    if args.input is None and sys.stdin.isatty():
        raise DockyardError("requested load from stdin, but stdin is a terminal: "
                            "use -i FILE or redirect")
    store = await ctx.image_store()
    if args.input is None:
        loaded = await load(store, sys.stdin.buffer)
    else:
        try:
            with open(args.input, "rb") as source:
                loaded = await load(store, source)
        except FileNotFoundError:
            raise DockyardError(f"open {args.input}: no such file or directory") from None
    for image in loaded:
        manifest = await platform_manifest(store, image.descriptor)
        await store.unpack(manifest)  # loaded images are ready to run, as pulled ones are
        if args.quiet:
            continue
        if image.reference is not None:
            print(f"Loaded image: {image.reference.familiar()}")
        else:
            config = (await store.manifest(manifest)).config
            assert config is not None  # platform_manifest gives an image manifest
            print(f"Loaded image ID: {config.digest}")
    return 0
