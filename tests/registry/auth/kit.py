"""What the access-control tests share: configs, users, keys, hand-made tokens, challenges.

Users are written with bcrypt cost 4 so that the tests do not spend their
time hashing; the registry reads any cost.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from aiohttp import encode_basic_auth

from ocispec.challenge import Challenge, parse_challenges
from registry import config
from registry.auth import jwt
from registry.auth.keys import PrivateKey, key_id

SERVICE = "test-registry"
ISSUER = "test-issuer"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
ROBOT_SECRET = "robot-secret-0123456789"

RULES = [
    {"repositories": ["team-a/*"], "groups": ["team-a"], "actions": ["pull", "push"]},
    {"repositories": ["team-a/*"], "users": ["alice"], "actions": ["delete"]},
    {"repositories": ["public/*"], "anonymous": True, "actions": ["pull"]},
    {"repositories": ["ci/*", "team-a/app"], "robots": ["ci"], "actions": ["pull", "push"]},
]
GROUPS = {"team-a": ["alice", "bob"]}


def write_htpasswd(path: Path, entries: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()}\n"
                            for name, pw in entries.items()))
    return path


def load_config(directory: Path, settings: dict[str, Any]) -> config.Config:
    """``settings`` (distribution's keys) read through the real config loader."""
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump({"version": "0.1", **settings}))
    return config.load(str(path), {})


def token_settings(directory: Path, **extension: Any) -> dict[str, Any]:
    """Token auth with Dockyard's own issuer, three users, a robot, a group and the RULES."""
    write_htpasswd(directory / "htpasswd", PASSWORDS)
    write_htpasswd(directory / "robots", {"ci": ROBOT_SECRET})
    return {
        "auth": {"token": {"service": SERVICE, "issuer": ISSUER}},
        "dockyard": {"auth": {"issuer": {"key": str(directory / "token.key")},
                              "users": str(directory / "htpasswd"),
                              "robots": str(directory / "robots"),
                              "groups": GROUPS, "rules": RULES, **extension}},
    }


def basic(name: str, password: str | None = None) -> dict[str, str]:
    """An Authorization header with Basic credentials (the user's password by default)."""
    secret = PASSWORDS[name] if password is None else password
    return {"Authorization": encode_basic_auth(name, secret)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge(response) -> Challenge:
    """The one challenge of a 401, read as the Dockyard client reads it."""
    [parsed] = parse_challenges(response.headers.getall("WWW-Authenticate"))
    return parsed


def claims(*, access: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """Claims a good token for SERVICE from ISSUER would carry, valid now, with ``overrides``."""
    now = int(time.time())
    return {"iss": ISSUER, "sub": "alice", "aud": SERVICE, "exp": now + 300, "nbf": now,
            "iat": now, "jti": "test", "access": access or [], **overrides}


def access(name: str, *actions: str) -> list[dict[str, Any]]:
    return [{"type": "repository", "name": name, "actions": list(actions)}]


def b64json(data: dict[str, Any]) -> str:
    return jwt.b64url(json.dumps(data).encode())


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token with any header at all, for the tests of what must be refused."""
    return f"{b64json(header)}.{b64json(payload)}.{jwt.b64url(signature)}"


def with_kid(token: str, key: PrivateKey) -> str:
    """``token`` with its header naming ``key`` instead (the signature no longer matches it)."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return f"{b64json({**decoded, 'kid': key_id(key)})}.{payload}.{signature}"
