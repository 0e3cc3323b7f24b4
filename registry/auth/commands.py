"""``dockyard-registry user``, ``robot`` and ``certs``: the accounts and certificates of a secure set-up.

``user`` and ``robot`` edit the htpasswd files the config names
(``auth.htpasswd.path`` or ``dockyard.auth.users``; ``dockyard.auth.robots``),
found through ``--config`` or ``$REGISTRY_CONFIGURATION_PATH`` like ``serve``
does, or given with ``--file``.  A running server picks the change up on the
next login.  Passwords are read from the terminal (twice) or, for scripts,
from standard input with ``--password-stdin``; never from the command line,
where other users could see them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from .. import config
from .passwords import PasswordFile, valid_name
from .rules import ROBOT_PREFIX
from .tls import create_certificates, default_hosts, instructions

_ROBOT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class CommandError(Exception):
    """What went wrong, in one line for the operator."""


def _auth_config(args: argparse.Namespace) -> config.AuthConfig:
    path = args.config or config.config_path_from_env(os.environ)
    if path is None:
        raise CommandError("no config file: give --config (or set "
                           f"{config.CONFIG_PATH_VARIABLE}) or --file")
    return config.load(path, os.environ).auth


def _users_file(args: argparse.Namespace) -> PasswordFile:
    if args.file:
        return PasswordFile(args.file)
    auth = _auth_config(args)
    path = auth.htpasswd.path if auth.htpasswd else auth.users
    if path is None:
        raise CommandError("the config names no users file (auth.htpasswd.path or "
                           "dockyard.auth.users); give --file")
    return PasswordFile(path)


def _robots_file(args: argparse.Namespace) -> PasswordFile:
    if args.file:
        return PasswordFile(args.file)
    path = _auth_config(args).robots
    if path is None:
        raise CommandError("the config names no robots file (dockyard.auth.robots); give --file")
    return PasswordFile(path)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: use --password-stdin")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("the password is empty")
    return password


def _user_name(name: str) -> str:
    if not valid_name(name) or name.startswith(ROBOT_PREFIX):
        raise CommandError(f"invalid user name {name!r}: no colon or white space, and "
                           f"{ROBOT_PREFIX!r} is for robots")
    return name


def _set_password(file: PasswordFile, name: str, password: str) -> None:
    try:
        file.set(name, password)
    except ValueError as err:
        raise CommandError(str(err)) from None
    except OSError as err:
        raise CommandError(f"cannot write {file.path}: {err.strerror}") from None


def _user_add(args: argparse.Namespace) -> int:
    file, name = _users_file(args), _user_name(args.name)
    if name in file.entries():
        raise CommandError(f"user {name} exists; change the password with 'user passwd'")
    _set_password(file, name, _read_password(args))
    print(f"added user {name} to {file.path}", file=sys.stderr)
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    file, name = _users_file(args), _user_name(args.name)
    if name not in file.entries():
        raise CommandError(f"no user {name} in {file.path}")
    _set_password(file, name, _read_password(args))
    print(f"changed the password of {name}; its refresh tokens are void", file=sys.stderr)
    return 0


def _remove(file: PasswordFile, name: str, what: str) -> int:
    if not file.remove(name):
        raise CommandError(f"no {what} {name} in {file.path}")
    print(f"removed {what} {name} from {file.path}", file=sys.stderr)
    return 0


def _list(file: PasswordFile, prefix: str = "") -> int:
    for name in file.names():
        print(prefix + name)
    return 0


def _robot_name(name: str) -> str:
    name = name.removeprefix(ROBOT_PREFIX)
    if not _ROBOT_NAME.fullmatch(name):
        raise CommandError(f"invalid robot name {name!r}: lower-case letters, digits, '.', '_' "
                           f"and '-', at most 64")
    return name


def _new_secret(file: PasswordFile, name: str) -> int:
    """Store a fresh secret's hash and print the secret, the only time it is shown."""
    secret = secrets.token_urlsafe(32)
    _set_password(file, name, secret)
    print(secret)
    print(f"robot {name}: sign in as {ROBOT_PREFIX}{name} with the secret above; it is not "
          f"stored and cannot be shown again", file=sys.stderr)
    return 0


def _robot_add(args: argparse.Namespace) -> int:
    file, name = _robots_file(args), _robot_name(args.name)
    if name in file.entries():
        raise CommandError(f"robot {name} exists; 'robot rotate' gives it a new secret")
    return _new_secret(file, name)


def _robot_rotate(args: argparse.Namespace) -> int:
    file, name = _robots_file(args), _robot_name(args.name)
    if name not in file.entries():
        raise CommandError(f"no robot {name} in {file.path}")
    return _new_secret(file, name)


def _certs(args: argparse.Namespace) -> int:
    try:
        files = create_certificates(Path(args.dir), default_hosts(args.host))
    except (OSError, ValueError) as err:
        raise CommandError(f"cannot create certificates in {args.dir}: {err}") from None
    host = args.host[0] if args.host else "localhost"
    print(instructions(files, f"{host}:{args.port}"), end="")
    return 0


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``user``, ``robot`` and ``certs`` on the command's subparsers."""
    files = argparse.ArgumentParser(add_help=False, parents=[common])
    files.add_argument("--config", metavar="CONFIG", help="the registry's config.yml "
                       f"(default: ${config.CONFIG_PATH_VARIABLE})")
    files.add_argument("--file", metavar="HTPASSWD", help="edit this file instead of the "
                       "config's")
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input")

    def group(name: str, help_text: str, actions: dict[str, tuple[str, Callable, bool, bool]]
              ) -> None:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        subcommands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action, (text, run, named, asks) in actions.items():
            parents = [files, password] if asks else [files]
            sub = subcommands.add_parser(action, parents=parents, help=text, description=text)
            if named:
                sub.add_argument("name", metavar="NAME")
            sub.set_defaults(run=run)

    group("user", "manage the users of the htpasswd file", {
        "add": ("add a user", _user_add, True, True),
        "passwd": ("change a user's password", _user_passwd, True, True),
        "remove": ("remove a user", lambda a: _remove(_users_file(a), _user_name(a.name), "user"),
                   True, False),
        "list": ("list the users", lambda a: _list(_users_file(a)), False, False),
    })
    group("robot", f"manage robot accounts (they sign in as {ROBOT_PREFIX}NAME)", {
        "add": ("add a robot and print its generated secret", _robot_add, True, False),
        "rotate": ("give a robot a new secret and print it", _robot_rotate, True, False),
        "remove": ("remove a robot",
                   lambda a: _remove(_robots_file(a), _robot_name(a.name), "robot"), True, False),
        "list": ("list the robots' sign-in names",
                 lambda a: _list(_robots_file(a), ROBOT_PREFIX), False, False),
    })
    certs = commands.add_parser(
        "certs", parents=[common], help="create a local CA and a server certificate for HTTPS",
        description="Create a local certificate authority (kept if the directory has one) and "
                    "a server certificate for localhost, 127.0.0.1, ::1, this machine's names "
                    "and every --host, then print how to use them.")
    certs.add_argument("--dir", default=".", help="where to write them (default: .)")
    certs.add_argument("--host", action="append", default=[],
                       help="another name or address clients use (repeatable)")
    certs.add_argument("--port", type=int, default=5000,
                       help="the registry's port, for the printed instructions (default: 5000)")
    certs.set_defaults(run=_certs)
