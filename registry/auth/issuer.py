"""Dockyard's own token endpoint (``/auth/token``): Docker token auth's issuing side.

Two ways to ask, because clients use both:

- ``GET ?service=&scope=&scope=&account=[&offline_token=true]`` with Basic
  credentials, or none for an anonymous token (Docker's token spec; skopeo
  and podman use this);
- ``POST`` of an OAuth2 form, ``grant_type=password`` (``username``,
  ``password``) or ``grant_type=refresh_token`` (``refresh_token``), with
  ``service``, ``scope`` (space separated), ``client_id`` and
  ``access_type=offline`` for a refresh token (newer docker CLIs).

The token grants the intersection of what was asked and what the rules
allow; asking for more is not an error, the token simply holds less and the
registry answers "insufficient scope".  ``account`` is informative only: the
token is always for whoever signed in.

Refresh tokens are JWTs too, signed by the same key and addressed to the
issuer rather than the registry, so one can never pass for an access token.
They carry a digest of the account's password entry: a password change or a
removed account ends them, with no state kept here.  Failures of either
grant are counted by the login throttle.
"""

from __future__ import annotations

import datetime
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import jwt
from .accounts import Login, Throttled, basic_credentials
from .keys import KeyRing, PrivateKey, algorithm_of
from .rules import ANONYMOUS, Identity, Policy
from .scopes import Scope, parse_all

TOKEN_PATH = "/auth/token"
REFRESH_CLAIM = "dockyard_refresh"
"""Marks a refresh token and holds the password-entry digest it was issued against."""


def _failure(error: type[web.HTTPException], code: str, description: str,
             headers: dict[str, str] | None = None) -> web.HTTPException:
    """An OAuth2-style error answer (RFC 6749 section 5.2) to raise."""
    return error(text=json.dumps({"error": code, "error_description": description}),
                 content_type="application/json", headers=headers)


def _too_many(err: Throttled) -> web.HTTPException:
    return _failure(web.HTTPTooManyRequests, "too_many_requests", str(err),
                    {"Retry-After": str(err.retry_after)})


def _rfc3339(moment: float) -> str:
    return datetime.datetime.fromtimestamp(int(moment), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    """A form field's text; None for a missing field or an uploaded file."""
    return value if isinstance(value, str) else None


@dataclass
class TokenIssuer:
    key: PrivateKey
    issuer: str
    service: str
    expiration: float
    refresh_expiration: float
    policy: Policy
    login: Login
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        self._own_keys = KeyRing()
        self._own_keys.trust([self.key])

    def routes(self) -> list[web.RouteDef]:
        return [web.get(TOKEN_PATH, self.get_token, allow_head=False),
                web.post(TOKEN_PATH, self.post_token)]

    # -- issuing

    def _sign(self, identity: Identity, audience: str, lifetime: float, now: float,
              extra: dict[str, Any]) -> str:
        return jwt.sign({"iss": self.issuer, "sub": identity.name, "aud": audience,
                         "exp": int(now + lifetime), "nbf": int(now), "iat": int(now),
                         "jti": secrets.token_urlsafe(16), **extra}, self.key)

    async def _answer(self, identity: Identity, requested: list[Scope],
                      offline: bool) -> web.Response:
        granted = self.policy.grant(identity, requested)
        now = self.clock()
        token = self._sign(identity, self.service, self.expiration, now,
                           {"access": [scope.to_access() for scope in granted]})
        body = {"token": token, "access_token": token, "expires_in": int(self.expiration),
                "issued_at": _rfc3339(now), "scope": " ".join(map(str, granted))}
        fingerprint = await self.login.accounts.fingerprint(identity) if offline else None
        if fingerprint is not None:
            body["refresh_token"] = self._sign(identity, self.issuer, self.refresh_expiration,
                                               now, {REFRESH_CLAIM: fingerprint})
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    # -- checking who asks

    def _check_service(self, service: str | None) -> None:
        if service is not None and service != self.service:
            raise _failure(web.HTTPBadRequest, "invalid_request",
                           f"this endpoint issues tokens for service {self.service!r} only")

    def _refused(self, basic: bool) -> web.HTTPException:
        headers = {"WWW-Authenticate": f'Basic realm="{self.service}"'} if basic else None
        return _failure(web.HTTPUnauthorized, "invalid_grant",
                        "incorrect username or password", headers)

    async def _sign_in(self, request: web.Request, name: str | None,
                       password: str | None, basic: bool) -> Identity:
        try:
            identity = await self.login.sign_in(request.remote or "", name or "", password or "")
        except Throttled as err:
            raise _too_many(err) from None
        if identity is None:
            raise self._refused(basic)
        return identity

    async def _redeem(self, request: web.Request, token: str | None) -> Identity:
        """The identity a refresh token was issued to, if it still stands."""
        address = request.remote or ""
        try:
            self.login.guard(address)
        except Throttled as err:
            raise _too_many(err) from None
        try:
            claims = jwt.verify(token or "", self._own_keys, {algorithm_of(self.key)})
            jwt.check_claims(claims, issuer=self.issuer, audience=self.issuer, now=self.clock())
            identity = Identity(str(claims.get("sub") or ""))
            current = await self.login.accounts.fingerprint(identity)
            if current is None or claims.get(REFRESH_CLAIM) != current:
                raise jwt.TokenInvalid("refresh token no longer valid")
        except jwt.TokenInvalid:
            self.login.throttle.failed(address)
            raise self._refused(basic=False) from None
        return identity

    # -- the endpoint

    async def get_token(self, request: web.Request) -> web.Response:
        """Docker's token request: Basic credentials (or none) and query parameters."""
        self._check_service(request.query.get("service"))
        identity = ANONYMOUS
        header = request.headers.get("Authorization")
        if header is not None:
            credentials = basic_credentials(header)
            if credentials is None:
                raise self._refused(basic=True)
            identity = await self._sign_in(request, *credentials, basic=True)
        return await self._answer(identity, parse_all(request.query.getall("scope", [])),
                                  offline=request.query.get("offline_token") == "true")

    async def post_token(self, request: web.Request) -> web.Response:
        """The OAuth2 password and refresh-token grants."""
        form = await request.post()
        self._check_service(_text(form.get("service")))
        grant = _text(form.get("grant_type"))
        if grant == "password":
            identity = await self._sign_in(request, _text(form.get("username")),
                                           _text(form.get("password")), basic=False)
        elif grant == "refresh_token":
            identity = await self._redeem(request, _text(form.get("refresh_token")))
        else:
            raise _failure(web.HTTPBadRequest, "unsupported_grant_type",
                           "grant_type must be password or refresh_token")
        scopes = parse_all(text for value in form.getall("scope", [])
                           if (text := _text(value)) is not None)
        return await self._answer(identity, scopes,
                                  offline=_text(form.get("access_type")) == "offline")
