"""The ``dockyard-registry`` command (also ``python -m registry``).

Each subcommand is a function taking the parsed arguments and returning an
exit status, registered in ``build_parser``; adding one (``garbage-collect``,
say) is a parser and a function.  Errors end the command with one line on
stderr and a non-zero status; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from . import config, server
from .auth import commands as auth_commands

PROG = "dockyard-registry"


def version() -> str:
    try:
        return metadata.version("dockyard")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _serve(args: argparse.Namespace) -> int:
    path = args.config or config.config_path_from_env(os.environ)
    return server.run(config.load(path, os.environ))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Dockyard's container image registry (OCI Distribution API).")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", parents=[debug], help="run the registry server",
        description="Run the registry until SIGTERM or SIGINT. Without CONFIG, "
                    f"${config.CONFIG_PATH_VARIABLE} names the file; without either, the "
                    f"built-in defaults serve {config.DEFAULT_ADDR} from "
                    f"{config.default_root_directory()}. REGISTRY_* variables override "
                    "the file (REGISTRY_HTTP_ADDR, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, ...).")
    serve.add_argument("config", nargs="?", metavar="CONFIG",
                       help="a config.yml with the CNCF distribution registry's keys")
    serve.set_defaults(run=_serve)
    auth_commands.add_parsers(commands, debug)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except (config.ConfigError, auth_commands.CommandError) as err:
        if args.debug:
            raise
        print(f"{PROG}: error: {err}", file=sys.stderr)
    except Exception as err:  # the one line promised instead of a traceback
        if args.debug:
            raise
        print(f"{PROG}: error: {err or type(err).__name__} (--debug shows the traceback)",
              file=sys.stderr)
    return 1
