"""The check in front of every API request: who is calling, and may they do this here?

The request's route says what it needs (``need_of``); the authenticator for
the configured mode says who the caller is and what they hold; a caller
short of the need gets the mode's refusal:

- token mode: ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,
  scope="repository:<name>:pull,push"`` so the client fetches a token for
  exactly that and retries (``error="invalid_token"`` or
  ``"insufficient_scope"`` when it sent one that does not do);
- Basic mode: ``401`` with ``WWW-Authenticate: Basic realm=...`` for no or
  wrong credentials, ``403 DENIED`` for a user the rules do not allow.

The caller is left on the request for the two places that look further:
cross-repository mounts (is the source readable?) and the catalog (which
names may this caller see?).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from ocispec.names import is_valid_name

from .. import errors
from ..api.common import CALLER
from . import jwt
from .accounts import Login, Throttled, basic_credentials
from .issuer import REFRESH_CLAIM, TOKEN_PATH
from .keys import KeyRing
from .rules import ANONYMOUS, Identity, Policy
from .scopes import CATALOG, PULL, Granted, Scope, actions_for, catalog, repository

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Need:
    """What a request needs (``required``) and what else a token for it should hold (``wanted``:
    a mount's source, which is no refusal when missing)."""

    required: tuple[Scope, ...] = ()
    wanted: tuple[Scope, ...] = ()


def need_of(request: web.Request) -> Need | None:
    """What the request's route needs; None for what is not the API (the token endpoint, 404s)."""
    match = request.match_info
    resource = match.route.resource
    if match.http_exception is not None or resource is None:
        return None
    route = resource.canonical
    if not route.startswith("/v2/"):
        return None
    if route == "/v2/":
        return Need()  # the version check: any valid credential, even an anonymous token
    if route == "/v2/_catalog":
        return Need((catalog(),))
    name = match.get("name")
    if name is None:  # a new unnamed route must be mapped above before anyone may use it
        raise errors.Denied()
    if not is_valid_name(name):
        raise errors.NameInvalid(detail={"name": name})
    upload = "/blobs/uploads/" in route
    required = repository(name, *actions_for(request.method, upload=upload))
    source = request.query.get("from")
    if upload and "mount" in request.query and source and source != name \
            and is_valid_name(source):
        return Need((required,), (repository(source, PULL),))
    return Need((required,))


def _unauthorized(challenge: str, need: Need, message: str | None = None) -> errors.RegistryError:
    return errors.Unauthorized(detail=[scope.to_access() for scope in need.required] or None,
                               message=message, headers={"WWW-Authenticate": challenge})


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "").replace('"', "") + '"'


@dataclass(frozen=True)
class TokenCaller:
    """A caller with a verified token: the token says what it may do."""

    identity: Identity
    granted: Granted
    policy: Policy | None  # Dockyard's own rules; None when an external issuer decides

    def allows(self, scope: Scope) -> bool:
        return self.granted.allows(scope)

    def may_pull(self, name: str) -> bool:
        return self.granted.allows(repository(name, PULL))

    def may_list(self, name: str) -> bool:
        """The catalog token names no repositories, so the rules decide; an external issuer
        that granted the catalog let the caller see all of it, as in distribution."""
        return self.policy is None or self.policy.may(self.identity, name, PULL)


@dataclass(frozen=True)
class RuleCaller:
    """A caller in Basic mode, or anonymous: the rules say what they may do."""

    identity: Identity
    policy: Policy

    def allows(self, scope: Scope) -> bool:
        if (scope.type, scope.name) == CATALOG:
            return True  # the listing itself is filtered
        return (scope.type == "repository"
                and set(scope.actions) <= self.policy.actions(self.identity, scope.name))

    def may_pull(self, name: str) -> bool:
        return self.policy.may(self.identity, name, PULL)

    may_list = may_pull


class Authenticator(Protocol):
    async def caller(self, request: web.Request, need: Need) -> TokenCaller | RuleCaller: ...

    def refusal(self, request: web.Request, caller: TokenCaller | RuleCaller,
                need: Need) -> errors.RegistryError: ...


@dataclass
class BearerAuth:
    """Token mode: a JWT from a trusted issuer, or a challenge that says where to get one."""

    keyring: KeyRing
    algorithms: Collection[str]
    issuer: str
    service: str
    realm: str | None  # None: Dockyard's own endpoint on whatever host the client reached
    policy: Policy | None

    def challenge(self, request: web.Request, scopes: Sequence[Scope],
                  error: str | None = None) -> str:
        realm = self.realm or f"{request.scheme}://{request.host}{TOKEN_PATH}"
        parts = [f"realm={_quoted(realm)}", f"service={_quoted(self.service)}"]
        if scopes:
            parts.append(f"scope={_quoted(' '.join(map(str, scopes)))}")
        if error:
            parts.append(f"error={_quoted(error)}")
        return "Bearer " + ",".join(parts)

    def _claims(self, token: str) -> dict:
        claims = jwt.verify(token, self.keyring, self.algorithms)
        jwt.check_claims(claims, issuer=self.issuer, audience=self.service, now=time.time())
        if REFRESH_CLAIM in claims:
            raise jwt.TokenInvalid("a refresh token is no access token")
        return claims

    async def caller(self, request: web.Request, need: Need) -> TokenCaller:
        scopes = need.required + need.wanted
        header = request.headers.get("Authorization")
        if header is None:
            raise _unauthorized(self.challenge(request, scopes), need)
        scheme, _, token = header.strip().partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise jwt.TokenInvalid("expected a Bearer token")
            claims = self._claims(token.strip())
            granted = Granted.from_claim(claims.get("access"))
        except (jwt.TokenInvalid, ValueError) as err:
            raise _unauthorized(self.challenge(request, scopes, "invalid_token"), need,
                                str(err)) from None
        return TokenCaller(Identity(str(claims.get("sub") or "")), granted, self.policy)

    def refusal(self, request: web.Request, caller: TokenCaller | RuleCaller,
                need: Need) -> errors.RegistryError:
        return _unauthorized(self.challenge(request, need.required + need.wanted,
                                            "insufficient_scope"), need)


@dataclass
class BasicAuthenticator:
    """htpasswd mode: Basic credentials on every request, the rules for what they allow."""

    realm: str
    login: Login
    policy: Policy

    def challenge(self) -> str:
        return f"Basic realm={_quoted(self.realm)}"

    async def caller(self, request: web.Request, need: Need) -> RuleCaller:
        header = request.headers.get("Authorization")
        if header is None:
            if not need.required:  # /v2/ tells clients to send credentials from now on
                raise _unauthorized(self.challenge(), need)
            return RuleCaller(ANONYMOUS, self.policy)
        credentials = basic_credentials(header)
        try:
            identity = credentials and await self.login.sign_in(request.remote or "",
                                                                *credentials)
        except Throttled as err:
            raise errors.TooManyRequests(message=str(err),
                                         headers={"Retry-After": str(err.retry_after)}) from None
        if identity is None:
            raise _unauthorized(self.challenge(), need, "incorrect username or password")
        return RuleCaller(identity, self.policy)

    def refusal(self, request: web.Request, caller: TokenCaller | RuleCaller,
                need: Need) -> errors.RegistryError:
        if caller.identity.anonymous:
            return _unauthorized(self.challenge(), need)
        return errors.Denied(detail=[scope.to_access() for scope in need.required])


class AccessControl:
    """The middleware and the routes (Dockyard's token endpoint, if it issues) of one mode."""

    def __init__(self, authenticator: Authenticator,
                 routes: Sequence[web.RouteDef] = ()) -> None:
        self.authenticator = authenticator
        self.routes = list(routes)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        need = need_of(request)
        if need is None:
            return await handler(request)
        caller = await self.authenticator.caller(request, need)
        if not all(caller.allows(scope) for scope in need.required):
            raise self.authenticator.refusal(request, caller, need)
        request[CALLER] = caller
        return await handler(request)
