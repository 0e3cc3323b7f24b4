"""``dockyard images [REPOSITORY[:TAG]]`` (``image ls``): list the images in the local store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import Context
    from ..store import Image

HELP = "List images"
TITLES = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
          "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}


def register(subcommands: argparse._SubParsersAction) -> None:
    configure(subcommands.add_parser("images", help=HELP, description=HELP))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]",
                        help="Only images of this repository (and tag)")
    parser.add_argument("-a", "--all", action="store_true",
                        help="Show all images (the store keeps no intermediate images, so "
                             "this is the default; accepted as Docker accepts it)")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("--digests", action="store_true", help="Show digests")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("--format", metavar="FORMAT",
                        help="'table', 'json', or a Go template such as "
                             "'{{.Repository}}:{{.Tag}}'")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ..formatting import Template, table

    store = await ctx.image_store()
    images = sorted(await store.images(), key=lambda i: (i.created or "", i.ref_name or ""),
                    reverse=True)
    rows = [_row(image, args.no_trunc) for image in images if _wanted(image, args.repository)]
    if args.quiet:
        print("\n".join(dict.fromkeys(row["ID"] for row in rows)))
    elif args.format and args.format != "table":
        print(Template.parse(args.format).render_all(rows, TITLES))
    else:
        columns = ["Repository", "Tag", *(["Digest"] if args.digests else []), "ID",
                   "CreatedSince", "Size"]
        print(table([TITLES[c] for c in columns], [[row[c] for c in columns] for row in rows]))
    return 0


def _wanted(image: "Image", pattern: str | None) -> bool:
    """Whether the image is one of ``REPOSITORY[:TAG]`` (by its familiar or full name)."""
    from ..localimages import Named

    if pattern is None:
        return True
    named = Named.of(image)
    if named.reference is None:
        return False
    name, tag = pattern, None
    if ":" in pattern.rsplit("/", 1)[-1]:  # a colon before the last slash is a port
        name, tag = pattern.rsplit(":", 1)
    return name in (named.repository, named.reference.name) and tag in (None, named.tag)


def _row(image: "Image", no_trunc: bool) -> dict[str, Any]:
    """The fields Docker's ``images --format`` knows, for one image."""
    from ..formatting import human_size, parse_time, since
    from ..localimages import Named, repo_digest, short_id

    named = Named.of(image)
    digest = repo_digest(image.descriptor) or (named.reference.digest if named.reference else None)
    created = parse_time(image.created)
    return {
        "Containers": "N/A",
        "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S %z %Z") if created else "N/A",
        "CreatedSince": since(image.created),
        "Digest": str(digest) if digest else "<none>",
        "ID": str(image.id) if no_trunc else short_id(image.id),
        "Repository": named.repository,
        "SharedSize": "N/A",
        "Size": human_size(image.size),
        "Tag": named.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human_size(image.size),
    }
