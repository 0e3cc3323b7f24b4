"""``dockyard build [OPTIONS] CONTEXT``: build an image from a Dockerfile.

CONTEXT is a directory, a tar archive, or ``-`` (stdin holds a Dockerfile,
or a tar context). Options follow ``docker build``; progress is BuildKit's
plain format on stderr, and the image ID goes to stdout at the end.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import DockyardError

if TYPE_CHECKING:
    from pathlib import Path

    from ..context import Context

HELP = "Build an image from a Dockerfile"


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("build", help=HELP, description=HELP)
    parser.add_argument("context", metavar="CONTEXT", help="Directory, tar archive or -")
    parser.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]",
                        help="Name and optionally a tag for the image (repeatable)")
    parser.add_argument("-f", "--file", metavar="PATH",
                        help="The Dockerfile (default: CONTEXT/Dockerfile; - for stdin)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]",
                        help="Set a build-time variable (KEY alone takes it from the "
                             "environment)")
    parser.add_argument("--target", help="Build this stage and the ones it needs")
    parser.add_argument("--no-cache", action="store_true", help="Do not use the build cache")
    parser.add_argument("--pull", action="store_true", help="Always pull base images")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="Target platform (default: this machine's)")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="Set a label on the image")
    parser.add_argument("--compress", choices=("gzip", "zstd"), default="gzip",
                        help="Layer compression (default gzip)")
    parser.add_argument("--format", choices=("oci", "docker"), default="oci",
                        help="Manifest format (default oci)")
    parser.add_argument("--push", action="store_true", help="Push the tagged image when built")
    parser.add_argument("--output", metavar="type=oci|local|tar,dest=PATH",
                        help="Also write the image as an OCI archive, or its files to a "
                             "directory or a tar (- for stdout)")
    parser.add_argument("--build-context", action="append", default=[],
                        metavar="NAME=DIR|docker-image://IMAGE",
                        help="A named context: COPY --from=NAME reads the directory, or "
                             "FROM NAME is the image")
    parser.add_argument("--iidfile", metavar="FILE", help="Write the image ID to the file")
    parser.add_argument("--secret", action="append", default=[],
                        metavar="id=ID[,src=FILE|env=VAR]",
                        help="A secret RUN --mount=type=secret can read (never stored)")
    parser.add_argument("--ssh", action="append", default=[], metavar="default|ID[=SOCKET]",
                        help="An SSH agent socket for RUN --mount=type=ssh "
                             "(default: $SSH_AUTH_SOCK)")
    parser.add_argument("--network", choices=("default", "bridge", "host", "none"),
                        default="default",
                        help="RUN steps' network unless they say (default: a namespace of "
                             "their own on the default bridge)")
    parser.add_argument("--allow", action="append", default=[], choices=("network.host",),
                        help="Allow RUN --network=host (BuildKit's entitlement)")
    parser.add_argument("--progress", choices=("auto", "plain", "tty", "quiet"), default="auto",
                        help="Progress output: a live view on a terminal (tty), lines (plain)")
    parser.add_argument("--rm", "--force-rm", action="store_true", dest="legacy_rm",
                        help=argparse.SUPPRESS)  # docker's legacy builder: step containers
    # are always removed, so scripts that still pass these are accepted as they are
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="Suppress the build output and print the image ID on success")
    parser.set_defaults(run=run)


def _pairs(values: list[str], what: str, environ: dict[str, str] | None = None
           ) -> dict[str, str]:
    result = {}
    for value in values:
        key, has_value, text = value.partition("=")
        if not key:
            raise DockyardError(f"invalid {what} {value!r}: expected KEY=VALUE")
        if not has_value:
            if environ is None:
                raise DockyardError(f"invalid {what} {value!r}: expected KEY=VALUE")
            if key not in environ:
                continue  # docker build: KEY alone, unset in the environment, is skipped
            text = environ[key]
        result[key] = text
    return result


def _secrets(values: list[str], environ: dict[str, str]) -> dict[str, bytes]:
    """``--secret id=ID,src=FILE`` (or ``env=VAR``; with neither, the variable ID) values."""
    from pathlib import Path

    secrets = {}
    for value in values:
        fields = dict(item.partition("=")[::2] for item in value.split(","))
        secret_id = fields.get("id")
        if not secret_id:
            raise DockyardError(f"invalid --secret {value!r}: expected id=ID,src=FILE")
        source = fields.get("src") or fields.get("source")
        variable = fields.get("env") or (None if source else secret_id)
        if source:
            try:
                secrets[secret_id] = Path(source).expanduser().read_bytes()
            except OSError as err:
                raise DockyardError(f"--secret {secret_id}: {source}: {err.strerror}") from None
        elif variable in environ:
            secrets[secret_id] = environ[variable].encode()
        else:
            raise DockyardError(f"--secret {secret_id}: environment variable {variable} "
                                "is not set")
    return secrets


def _ssh(values: list[str], environ: dict[str, str]) -> dict[str, str]:
    """``--ssh default`` ($SSH_AUTH_SOCK) and ``--ssh ID=SOCKET`` values."""
    agents = {}
    for value in values:
        agent_id, _, socket = value.partition("=")
        socket = socket.split(",")[0] or environ.get("SSH_AUTH_SOCK", "")
        if not socket:
            raise DockyardError(f"--ssh {agent_id}: SSH_AUTH_SOCK is not set: give the "
                                f"socket with --ssh {agent_id}=PATH")
        agents[agent_id or "default"] = socket
    return agents


def _load_context(args: argparse.Namespace, scratch: "Path") -> tuple["Path", str, str]:
    """(context directory, Dockerfile text, its name for messages)."""
    import tarfile
    from pathlib import Path

    from ..build.context import BuildContext

    stdin_text = None
    if args.context == "-":
        data = sys.stdin.buffer.read()
        archive = scratch / "context.tar"
        archive.write_bytes(data)
        root = scratch / "context"
        root.mkdir()
        if tarfile.is_tarfile(archive):
            BuildContext.extract_tar(archive, root)
        else:
            stdin_text = data.decode()
    elif Path(args.context).is_file():
        root = scratch / "context"
        root.mkdir()
        BuildContext.extract_tar(Path(args.context), root)
    elif Path(args.context).is_dir():
        root = Path(args.context)
    else:
        raise DockyardError(f"unable to prepare context: path {args.context!r} not found")
    if args.file == "-":
        return root, sys.stdin.read(), "Dockerfile"
    if stdin_text is not None and args.file is None:
        return root, stdin_text, "Dockerfile"
    path = Path(args.file) if args.file else root / "Dockerfile"
    if args.file and args.context != "-" and not path.exists() and (root / args.file).exists():
        path = root / args.file
    try:
        return root, path.read_text(), str(args.file or "Dockerfile")
    except FileNotFoundError:
        raise DockyardError(f"failed to read dockerfile: open {path}: no such file or directory"
                            ) from None


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from ocispec.reference import Reference

    from ..build.builder import Builder, BuildOptions
    from ..build.export import Output, export
    from ..build.progress import progress_for
    from ..build.runmounts import Forwarded
    from ..build.container import RunFailed
    from ..build.context import BuildContext
    from ..build.dockerfile import parse
    from ..build.dockerfile.scope import unconsumed_build_args
    from ..platforms import host_platform

    if os.geteuid() != 0:
        raise DockyardError("dockyard build needs root: RUN steps run in containers and "
                            "layers keep their files' owners (rootless builds are not "
                            "supported yet)")
    store = await ctx.image_store()
    scratch = Path(tempfile.mkdtemp(prefix="context-"))
    try:
        output = Output.parse(args.output) if args.output else None
        root, text, name = _load_context(args, scratch)
        dockerfile = parse(text, name)
        dockerfile_path = Path(args.file) if args.file and args.file != "-" else None
        context = BuildContext.directory(root, dockerfile_path)
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        options = BuildOptions(
            tags=[Reference.parse(tag) for tag in args.tag],
            build_args=_pairs(args.build_arg, "--build-arg", dict(os.environ)),
            target=args.target, no_cache=args.no_cache, pull=args.pull,
            platform=args.platform or str(host_platform()),
            labels=_pairs(args.label, "--label"), compression=args.compress,
            docker_format=args.format == "docker", epoch=int(epoch) if epoch else None,
            network="bridge" if args.network == "default" else args.network,
            allow=frozenset(args.allow),
            contexts=_pairs(args.build_context, "--build-context"),
            forwarded=Forwarded(_secrets(args.secret, dict(os.environ)),
                                _ssh(args.ssh, dict(os.environ))))
        quiet = args.quiet or args.progress == "quiet"
        out = open(os.devnull, "w") if quiet else sys.stderr
        for warning in dockerfile.warnings:
            print(f"WARNING: {warning}", file=out)
        unused = unconsumed_build_args(dockerfile, options.build_args)
        if unused:
            print(f"[Warning] One or more build-args {unused} were not consumed", file=out)
        async with _Registry(ctx) as registry:
            builder = Builder(store, dockerfile, context, options,
                              progress_for("plain" if quiet else args.progress, out),
                              pull=lambda ref: _pull(store, registry, ref, options.platform))
            try:
                descriptor = await builder.build()
            except RunFailed as err:
                print(f"ERROR: {err}", file=sys.stderr)
                return err.code
            if args.push:
                await _push(store, registry, options.tags, descriptor)
        if output is not None:
            await export(store, output, options.tags, descriptor)
        config = await store.manifest(descriptor)
        image_id = config.config.digest if config.config else descriptor.digest
        for tag in options.tags:
            print(f"Successfully tagged {tag.familiar()}", file=out)
        if args.iidfile:
            Path(args.iidfile).write_text(str(image_id))
        if output is None or output.dest != "-":  # else stdout holds the tar
            print(str(image_id))
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Registry:
    """The registry client, made on first use: a build whose base images are all in the
    store never talks to a registry, and need not load the HTTP client at all."""

    def __init__(self, ctx: "Context") -> None:
        self.ctx = ctx
        self.client = None

    async def get(self):
        if self.client is None:
            self.client = await self.ctx.registry_client().__aenter__()
        return self.client

    async def __aenter__(self) -> "_Registry":
        return self

    async def __aexit__(self, *exc) -> None:
        if self.client is not None:
            await self.client.__aexit__(*exc)


async def _pull(store, registry: _Registry, reference, platform: str) -> None:
    from ..platforms import Platform
    from ..progress import display_for
    from ..pull import Puller

    display = display_for(False, sys.stderr)
    with display:
        puller = Puller(store, await registry.get(), display, platform=Platform.parse(platform))
        await puller.pull(reference)


async def _push(store, registry: _Registry, tags, descriptor) -> None:
    from ..localimages import with_repo_digest
    from ..progress import display_for
    from ..push import Pusher

    if not tags:
        raise DockyardError("--push needs a name: give one with -t")
    display = display_for(False, sys.stderr)
    with display:
        pusher = Pusher(store, await registry.get(), display)
        for tag in tags:
            result = await pusher.push(tag, descriptor)
            await store.tag(tag, with_repo_digest(descriptor, result.digest))
