"""htpasswd files of bcrypt entries: users (``htpasswd -B`` compatible) and robot secrets.

Only bcrypt entries are accepted, as in distribution: the other htpasswd
formats (MD5, SHA-1, crypt) are too cheap to guess.  The server re-reads a
file when it changes, so ``dockyard-registry user add`` takes effect without
a restart; the command writes the file whole and renames it into place, so
the server never reads half of it.

Checking a password costs a bcrypt round whether or not the user exists, so
the time taken does not tell an attacker which names are real.  bcrypt runs
in a thread: it takes tens of milliseconds on purpose and must not stall the
event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from functools import cached_property

import bcrypt

from .keys import write_private

log = logging.getLogger(__name__)

ROUNDS = 10
"""bcrypt cost of new entries: about 50 ms a check here, which the login throttle multiplies."""

BCRYPT_MAX = 72
"""bcrypt reads this many bytes of a password; Apache's htpasswd ignores the rest silently."""

MAX_REMEMBERED = 1024
"""Successful checks remembered at once (the set is emptied when full)."""

_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")
_NAME = re.compile(r"[^:\s]{1,255}")


def valid_name(name: str) -> bool:
    """A name an htpasswd line can hold (no colon, no white space) and a Basic header can carry."""
    return _NAME.fullmatch(name) is not None


def hash_password(password: str, rounds: int = ROUNDS) -> str:
    """A bcrypt entry for ``password``; ValueError if bcrypt would silently cut it short."""
    secret = password.encode()
    if len(secret) > BCRYPT_MAX:
        raise ValueError(f"passwords are limited to {BCRYPT_MAX} bytes (bcrypt ignores the rest)")
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds)).decode()


class PasswordFile:
    """An htpasswd file, read again whenever its size, time or inode changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._entries: dict[str, bytes] = {}
        self._secret = os.urandom(32)
        self._verified: dict[bytes, bytes] = {}  # keyed digest of name and password -> hash

    @cached_property
    def _decoy(self) -> bytes:
        """A hash to check unknown names against, so they take as long as known ones."""
        return bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(ROUNDS))

    def entries(self) -> dict[str, bytes]:
        """Name -> bcrypt hash, as the file says now; a missing file has no entries."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._entries = None, {}
            return self._entries
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        if stamp != self._stamp:
            with open(self.path, "rb") as stream:
                self._entries = self._parse(stream.read())
            self._stamp = stamp
        return self._entries

    def _parse(self, data: bytes) -> dict[str, bytes]:
        entries: dict[str, bytes] = {}
        for number, line in enumerate(data.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            name, sep, hashed = line.partition(b":")
            if not sep or not hashed.startswith(_BCRYPT_PREFIXES):
                log.warning("%s line %d: not a bcrypt entry (create it with htpasswd -B); "
                            "ignored", self.path, number)
                continue
            entries[name.decode(errors="replace")] = hashed
        return entries

    def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; blocks for a bcrypt round, so call it in a thread.

        In Basic mode every request carries the password, so a success is
        remembered (as a keyed digest, never the password) for as long as the
        entry it matched stays the same; failures always cost a full round.
        """
        hashed = self.entries().get(name)
        seen = hmac.digest(self._secret, f"{name}\0{password}".encode(), "sha256")
        if hashed is not None and self._verified.get(seen) == hashed:
            return True
        try:
            matches = bcrypt.checkpw(password.encode()[:BCRYPT_MAX], hashed or self._decoy)
        except ValueError:  # a damaged hash
            return False
        if not (matches and hashed is not None):
            return False
        if len(self._verified) >= MAX_REMEMBERED:
            self._verified.clear()
        self._verified[seen] = hashed
        return True

    def fingerprint(self, name: str) -> str | None:
        """A short digest of ``name``'s entry, or None if there is none.

        Refresh tokens carry it: a new password changes it and so ends every
        refresh token issued before, without the issuer keeping any state.
        """
        hashed = self.entries().get(name)
        return None if hashed is None else hashlib.sha256(hashed).hexdigest()[:16]

    def names(self) -> list[str]:
        return sorted(self.entries())

    def set(self, name: str, password: str) -> None:
        """Add ``name`` or replace its password, keeping every other line as it was."""
        entry = f"{name}:{hash_password(password)}".encode()
        lines, found = [], False
        for line in self._lines():
            if self._is_entry(line, name):
                line, found = entry, True
            lines.append(line)
        self._write(lines if found else [*lines, entry])

    def remove(self, name: str) -> bool:
        """Remove ``name``; False if it was not there."""
        lines = self._lines()
        kept = [line for line in lines if not self._is_entry(line, name)]
        if len(kept) == len(lines):
            return False
        self._write(kept)
        return True

    @staticmethod
    def _is_entry(line: bytes, name: str) -> bool:
        return line.split(b":", 1)[0].strip() == name.encode()

    def _lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as stream:
                return stream.read().splitlines()
        except FileNotFoundError:
            return []

    def _write(self, lines: list[bytes]) -> None:
        write_private(self.path, b"".join(line + b"\n" for line in lines))
