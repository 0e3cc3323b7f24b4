"""What the container commands share: the store, Docker's exit statuses, per-container loops."""

from __future__ import annotations

import sys

from client.errors import DockyardError

from .records import ContainerStore

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from client.context import Context


def store_of(ctx: Context) -> ContainerStore:
    return ContainerStore(ctx.root_dir)


def docker_exit_status(run: Callable) -> Callable:
    """For commands that start containers: dockyard's own failures exit 125, as Docker's do
    (126 and 127, for a command that cannot run, are set where they are detected)."""
    def wrapper(args: argparse.Namespace, ctx: Context) -> int:
        try:
            return run(args, ctx)
        except Exception as err:
            if not hasattr(err, "exit_code"):
                err.exit_code = 125  # type: ignore[attr-defined]
            raise
    return wrapper


def for_each(ctx: Context, names: list[str],
             action: Callable[[ContainerStore, dict], object]) -> int:
    """Apply ``action`` to each named container and print what it returns (its name when that is
    None), as Docker does; a failure is reported and the rest still go; 1 if any failed."""
    from .lifecycle import find

    store = store_of(ctx)
    failed = False
    for name in names:
        try:
            result = action(store, find(store, name))
        except DockyardError as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
            continue
        print(name if result is None else result, flush=True)
    return 1 if failed else 0


def confirm(question: str) -> bool:
    """Ask on the terminal; only "y" or "yes" agree."""
    print(question, end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
