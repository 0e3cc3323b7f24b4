"""Signing in: users and robots by name and password, with failed attempts throttled.

Users live in an htpasswd file; robots in one of their own and sign in as
``robot+<name>`` with the secret ``dockyard-registry robot add`` printed
once.  A failure is only ever "wrong name or password": the caller is not
told which, and both cost the same bcrypt round.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from .passwords import PasswordFile
from .rules import ROBOT_PREFIX, Identity
from .throttle import LoginThrottle


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(name, password) of a ``Basic`` Authorization header; None if it is not a well-formed one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


class Throttled(Exception):
    """Too many failed logins from this address; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins, retry in {retry_after}s")
        self.retry_after = retry_after


class Accounts:
    """The users' and the robots' password files (either may be absent)."""

    def __init__(self, users: PasswordFile | None, robots: PasswordFile | None) -> None:
        self.users = users
        self.robots = robots

    def _entry(self, name: str) -> tuple[PasswordFile | None, str]:
        if name.startswith(ROBOT_PREFIX):
            return self.robots, name[len(ROBOT_PREFIX):]
        return self.users, name

    def _check(self, name: str, password: str) -> bool:
        file, entry = self._entry(name)
        return (file or _NOBODY).check(entry, password)

    async def authenticate(self, name: str, password: str) -> Identity | None:
        """The identity ``name`` signs in as, or None if the name or the password is wrong."""
        matches = await asyncio.to_thread(self._check, name, password)
        return Identity(name) if matches and name else None  # "" would be anonymous

    async def fingerprint(self, identity: Identity) -> str | None:
        """The digest of the account's current password entry; None once it is gone."""
        file, entry = self._entry(identity.name)
        if file is None or identity.anonymous:
            return None
        return await asyncio.to_thread(file.fingerprint, entry)


_NOBODY = PasswordFile("/nonexistent/dockyard-no-accounts")
"""Checked when there is no file for that kind of account, so the failure takes as long."""


class Login:
    """Password checks guarded by the per-address throttle."""

    def __init__(self, accounts: Accounts, throttle: LoginThrottle) -> None:
        self.accounts = accounts
        self.throttle = throttle

    def guard(self, address: str) -> None:
        """Raise Throttled if ``address`` must wait, before any password is looked at."""
        wait = self.throttle.retry_after(address)
        if wait is not None:
            raise Throttled(wait)

    async def sign_in(self, address: str, name: str, password: str) -> Identity | None:
        """The identity, or None (counted against ``address``); Throttled while it must wait."""
        self.guard(address)
        identity = await self.accounts.authenticate(name, password)
        if identity is None:
            self.throttle.failed(address)
        return identity
