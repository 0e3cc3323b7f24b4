"""``WWW-Authenticate`` challenges (RFC 7235), as registries send them.

A registry's 401 says how to authenticate: ``Bearer realm=...,service=...,
scope=...`` (Docker token auth) or ``Basic realm=...``. A header may carry
several challenges, and a response several headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})")
_PARAM = re.compile(rf'[\s,]*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})')
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-cased: "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the registry asked for; several may be space-separated."""
        return tuple(self.params.get("scope", "").split())


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge in the given ``WWW-Authenticate`` header values, in order."""
    challenges = []
    for value in headers:
        pos = 0
        while scheme := _SCHEME.match(value, pos):
            pos = scheme.end()
            params = {}
            while param := _PARAM.match(value, pos):
                key, raw = param.groups()
                if raw.startswith('"'):
                    raw = _ESCAPE.sub(r"\1", raw[1:-1])
                params[key.lower()] = raw
                pos = param.end()
            challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def preferred(challenges: Iterable[Challenge]) -> Challenge | None:
    """The challenge to answer: Bearer when offered (scoped, short-lived), else Basic."""
    by_scheme = {c.scheme: c for c in challenges}
    return by_scheme.get("bearer") or by_scheme.get("basic")
