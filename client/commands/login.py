"""``dockyard login [SERVER]``: check credentials against the registry, then store them.

As ``docker login``: credentials are verified with the registry's own auth
flow before anything is saved, stored credentials are tried first when none
are given, and ``--password-stdin`` keeps the password out of the process list.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import DockyardError

if TYPE_CHECKING:
    from ..context import Context
    from ..credentials import Credentials


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "login", help="Log in to a registry",
        description="Log in to a registry. If no server is specified, Docker Hub is used.")
    parser.add_argument("server", nargs="?", metavar="SERVER")
    parser.add_argument("-u", "--username", help="Username")
    password = parser.add_mutually_exclusive_group()
    password.add_argument("-p", "--password", help="Password")
    password.add_argument("--password-stdin", action="store_true",
                          help="Take the password from stdin")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, ctx: "Context") -> int:
    from ocispec.reference import DEFAULT_REGISTRY

    from ..credentials import Credentials, normalize_server

    registry = normalize_server(args.server or DEFAULT_REGISTRY)
    store = ctx.credentials()
    if not (args.username or args.password or args.password_stdin):
        existing = store.get(registry)
        if existing is not None and await _accepted(ctx, registry, existing):
            print("Authenticating with existing credentials...", file=sys.stderr)
            print("Login Succeeded")
            return 0
    if args.password_stdin and not args.username:
        raise DockyardError("--password-stdin needs --username")
    if args.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    username = args.username or _prompt("Username: ")
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = args.password or _prompt("Password: ", secret=True)
    if not username or not password:
        raise DockyardError("a username and a password are required")
    credentials = Credentials(username, password)
    await _verify(ctx, registry, credentials)
    store.store(registry, credentials)
    print("Login Succeeded")
    return 0


async def _verify(ctx: "Context", registry: str, credentials: "Credentials") -> None:
    async with ctx.registry_client(credentials=lambda _: credentials) as client:
        await client.check_login(registry)


async def _accepted(ctx: "Context", registry: str, credentials: "Credentials") -> bool:
    from ..transport import AuthenticationError
    try:
        await _verify(ctx, registry, credentials)
    except AuthenticationError:
        return False
    return True


def _prompt(label: str, secret: bool = False) -> str:
    if not sys.stdin.isatty():
        raise DockyardError("cannot prompt for credentials: stdin is not a terminal "
                            "(use --username with --password-stdin)")
    if secret:
        import getpass
        return getpass.getpass(label)
    return input(label).strip()
