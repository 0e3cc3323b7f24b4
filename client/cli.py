"""The ``dockyard`` command line: global flags, then one subcommand.

Each subcommand lives in its own module under ``client.commands`` and is
found there at start-up, so adding a command touches no shared file. Start-up
stays cheap because command modules only describe their arguments here; what
they need to run (aiohttp, the store) they import when they run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Awaitable, Iterator, Sequence
from types import ModuleType

from . import commands
from .context import Context
from .errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from typing import Any

_VERSION = "0.1.0"


def command_modules(only: str | None = None) -> Iterator[ModuleType]:
    """Every ``client.commands.<name>`` module, by name (``_private`` ones skipped); with
    ``only``, just the module of that name when there is one."""
    if only and not only.startswith("_") and os.path.isfile(
            os.path.join(commands.__path__[0], f"{only}.py")):
        names = [only]
    else:
        import pkgutil
        names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__)
                       if not info.name.startswith("_"))
    for name in names:
        yield importlib.import_module(f"{commands.__name__}.{name}")


def _command_name(argv: Sequence[str]) -> str | None:
    """The subcommand argv names: its first word after the global flags (and their values)."""
    words = iter(argv)
    for word in words:
        if word in ("--root", "--config"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, with the terminal's width found without shutil.

    argparse builds a formatter for every ``add_argument`` (to check the
    metavar), and its own asks ``shutil.get_terminal_size``: importing shutil
    (and bz2, lzma behind it) costs ``dockyard run`` about 2 ms.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


def _terminal_columns() -> int:
    """What shutil.get_terminal_size().columns says: $COLUMNS, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (and, through add_subparsers, every command's) using _HelpFormatter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, only its own command's parser is built (each
    module registers the command named after it), and none for ``--version``: building
    all of them costs more than starting a container."""
    parser = _Parser(
        prog="dockyard", description="Pull, push, build and run container images.")
    parser.add_argument("--root", metavar="DIR",
                        help="Root of the image store and container state (env DOCKYARD_ROOT; "
                             "default /var/lib/dockyard for root, ~/.local/share/dockyard "
                             "otherwise)")
    parser.add_argument("--config", metavar="DIR",
                        help="Location of client config files (default $DOCKER_CONFIG or "
                             "~/.docker)")
    parser.add_argument("-D", "--debug", action="store_true",
                        help="Enable debug output (and tracebacks on errors)")
    parser.add_argument("-v", "--version", action="version", version=f"dockyard {_VERSION}")
    subcommands = parser.add_subparsers(title="Commands", metavar="COMMAND")
    name = _command_name(argv) if argv is not None else None
    if name is None and argv is not None and _asks_only_version(argv):
        return parser
    for module in command_modules(name):
        module.register(subcommands)
    return parser


def _asks_only_version(argv: Sequence[str]) -> bool:
    """A command line without a command that asks for the version and not for help."""
    return bool({"-v", "--version"} & set(argv)) and not {"-h", "--help"} & set(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    if args.debug:  # dockyard logs at debug level only: without --debug nothing needs logging
        import logging
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.run(args, Context.from_args(args))
        if isinstance(result, Awaitable):
            result = _run_async(result)
        return int(result or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the one place every failure becomes one line
        if args.debug:
            import traceback
            traceback.print_exc()
        print(f"Error: {_one_line(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 1)  # commands may set Docker's (run: 125, 126, 127)


def _run_async(awaitable: Any) -> Any:
    import asyncio
    try:
        import uvloop
    except ImportError:
        return asyncio.run(awaitable)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(awaitable)


def _one_line(err: Exception) -> str:
    if isinstance(err, DockyardError | ValueError):  # ours, and ocispec's invalid input
        text = str(err)
    elif isinstance(err, OSError) and err.strerror:
        text = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    else:
        text = f"unexpected {type(err).__name__}: {err} (run with --debug for details)"
    return " ".join(text.split())
