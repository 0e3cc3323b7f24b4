"""Answering a registry's ``WWW-Authenticate`` challenge (Docker token auth, or Basic).

The challenge is learnt once per registry (from the ``/v2/`` ping or the
first 401). For Bearer, a token is then fetched from the realm for exactly
the scopes a request needs (``repository:<name>:pull``, ``...:pull,push``),
anonymously or with the user's credentials, and kept per (registry, scopes)
until shortly before it expires, so a pull of many layers asks the realm
once. Concurrent requests wanting the same token wait for one fetch.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from yarl import URL

from ocispec.challenge import Challenge, parse_challenges, preferred

from ..credentials import Credentials
from .errors import AuthenticationError, error_from_reply
from .http import HttpSender, Reply

CredentialLookup = Callable[[str], "Credentials | None"]
Scopes = tuple[str, ...]

# Docker token auth: an omitted or shorter lifetime means 60 s.
MIN_TOKEN_LIFETIME = 60
_CLIENT_ID = "dockyard"


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # time.monotonic() after which a fresh token is fetched


def normalise_scopes(scopes: tuple[str, ...] | list[str]) -> Scopes:
    return tuple(sorted(set(scopes)))


class Authenticator:
    """Authorization headers for requests to registries, by registry and scopes."""

    def __init__(self, sender: HttpSender, credentials: CredentialLookup | None = None) -> None:
        self._sender = sender
        self._lookup = credentials
        self._challenges: dict[str, Challenge] = {}
        self._credentials: dict[str, Credentials | None] = {}
        self._tokens: dict[tuple[str, Scopes], _Token] = {}
        self._locks: dict[tuple[str, Scopes], asyncio.Lock] = {}

    def learn(self, registry: str, headers: Mapping[str, str]) -> Challenge | None:
        """Record the challenge of a 401 response; None when it offers nothing we speak."""
        getall = getattr(headers, "getall", None)
        values = getall("WWW-Authenticate", []) if getall else [headers.get("WWW-Authenticate", "")]
        challenge = preferred(parse_challenges(values))
        if challenge is not None:
            self._challenges[registry] = challenge
        return challenge

    def forget(self, registry: str, scopes: Scopes) -> None:
        """Drop a cached token the registry has just refused."""
        self._tokens.pop((registry, scopes), None)

    async def has_credentials(self, registry: str) -> bool:
        return await self._credentials_for(registry) is not None

    async def authorization(self, registry: str, scopes: Scopes) -> str | None:
        """The ``Authorization`` header for a request needing ``scopes``, if any is due."""
        challenge = self._challenges.get(registry)
        if challenge is None:
            return None
        credentials = await self._credentials_for(registry)
        if challenge.scheme == "basic":
            return _basic(credentials) if credentials and credentials.username else None
        key = (registry, scopes)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is None or token.renew_at <= time.monotonic():
                token = self._tokens[key] = await self._fetch_token(registry, challenge, scopes,
                                                                    credentials)
        return f"Bearer {token.value}"

    async def _credentials_for(self, registry: str) -> Credentials | None:
        if registry not in self._credentials:
            # A credential helper is a subprocess: keep it off the event loop.
            found = await asyncio.to_thread(self._lookup, registry) if self._lookup else None
            self._credentials[registry] = found
        return self._credentials[registry]

    async def _fetch_token(self, registry: str, challenge: Challenge, scopes: Scopes,
                           credentials: Credentials | None) -> _Token:
        if not challenge.realm:
            raise AuthenticationError(registry, 401, "UNAUTHORIZED",
                                      "the registry's Bearer challenge names no realm")
        if credentials is not None and credentials.identity_token:
            reply = await self._oauth_refresh(challenge, scopes, credentials.identity_token)
        else:
            reply = await self._token_get(challenge, scopes, credentials)
        if reply.status in (401, 403):
            message = ("incorrect username or password" if credentials
                       else "the token service refused anonymous access")
            raise AuthenticationError(registry, reply.status, "UNAUTHORIZED", message)
        if reply.status != 200:
            raise error_from_reply(registry, reply.status, reply.reason, reply.body)
        return _parse_token(registry, reply)

    async def _token_get(self, challenge: Challenge, scopes: Scopes,
                         credentials: Credentials | None) -> Reply:
        query = [("service", challenge.service)] if challenge.service else []
        query += [("scope", scope) for scope in scopes]
        headers = {}
        if credentials is not None and credentials.username:
            query.append(("account", credentials.username))
            headers["Authorization"] = _basic(credentials)
        return await self._sender.fetch("GET", URL(challenge.realm).extend_query(query),
                                        headers=headers)

    async def _oauth_refresh(self, challenge: Challenge, scopes: Scopes,
                             refresh_token: str) -> Reply:
        """Docker's OAuth2 flow for an ``identitytoken`` (a refresh token from a past login)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": _CLIENT_ID, "scope": " ".join(scopes)}
        if challenge.service:
            form["service"] = challenge.service
        body = str(URL.build(query=form).query_string).encode()
        return await self._sender.fetch(
            "POST", challenge.realm, body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _parse_token(registry: str, reply: Reply) -> _Token:
    try:
        doc = reply.json()
        value = doc.get("token") or doc.get("access_token")
        lifetime = max(int(doc.get("expires_in") or 0), MIN_TOKEN_LIFETIME)
    except (ValueError, AttributeError, TypeError):
        value = None
    if not value or not isinstance(value, str):
        raise AuthenticationError(registry, reply.status, "UNAUTHORIZED",
                                  "the token service sent no token")
    # Renew a little early so a token does not expire between check and use.
    return _Token(value, time.monotonic() + lifetime - min(10, lifetime / 10))
