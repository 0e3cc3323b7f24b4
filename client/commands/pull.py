"""``dockyard pull NAME[:TAG|@DIGEST]``: download an image and make it ready to run."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import DockyardError

if TYPE_CHECKING:
    from ..context import Context
    from ..progress import Display
    from ..pull import PullResult

HELP = "Download an image from a registry"


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("pull", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    parser.add_argument("-a", "--all-tags", action="store_true",
                        help="Download all tagged images in the repository")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="Pick this platform from a multi-platform image "
                             "(default: this machine's)")
    parser.add_argument("--all-platforms", action="store_true",
                        help="Download every platform of a multi-platform image")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="Suppress verbose output: print only the image's name")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ocispec.reference import Reference

    from ..platforms import Platform
    from ..progress import display_for
    from ..pull import Puller

    reference = Reference.parse(args.name, default_tag=not args.all_tags)
    if args.all_tags and (reference.tag or reference.digest):
        raise DockyardError("a tag or digest can't be used with --all-tags/-a")
    platform = Platform.parse(args.platform) if args.platform else None
    store = await ctx.image_store()
    async with ctx.registry_client() as client:
        if args.all_tags:
            remote = client.pull_repository(reference.registry, reference.repository)
            references = [reference.with_tag(tag) for tag in sorted(await remote.list_tags())]
        else:
            references = [reference]
        for each in references:
            display = display_for(args.quiet)  # one live display per image, ended before
            with display:                      # the closing lines, as Docker prints them
                result = await Puller(store, client, display, platform=platform,
                                      all_platforms=args.all_platforms).pull(each)
            _report(display, result)
    if args.quiet:
        print("\n".join(str(each) for each in references))
    return 0


def _report(display: "Display", result: "PullResult") -> None:
    """Docker's closing lines of a pull."""
    display.message(f"Digest: {result.digest}")
    name = result.reference.familiar()
    if result.downloaded:
        display.message(f"Status: Downloaded newer image for {name}")
    else:
        display.message(f"Status: Image is up to date for {name}")
    display.message(str(result.reference))
