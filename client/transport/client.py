"""A registry client: endpoints, auth and retries behind a few calls.

``RegistryClient`` holds what is shared across registries and requests (one
connection pool, learnt endpoints and challenges, cached tokens);
``RemoteRepository`` (from ``client.repository(...)``) has the per-repository
operations pull and push are made of; ``client.pull_repository(...)`` is the
same repository read through its configured mirrors first.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from .auth import Authenticator, CredentialLookup, Scopes, normalise_scopes
from .endpoints import Endpoints
from .errors import RegistryError, TransportError, error_from_reply
from .http import DEFAULT_READ_LIMIT, Body, HttpSender, Reply, read_limited
from .mirrors import MirroredRepository, Mirrors
from .retry import RetryPolicy

from .repository import RemoteRepository

if TYPE_CHECKING:
    from ..config import ClientConfig

CATALOG_SCOPE = "registry:catalog:*"
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_ERROR_BODY_LIMIT = 64 << 10


class RegistryClient:
    """Talks to any number of registries; use as ``async with RegistryClient(...) as c``."""

    def __init__(self, *, credentials: CredentialLookup | None = None,
                 endpoints: Endpoints | None = None, retry: RetryPolicy | None = None,
                 connections_per_host: int = 8, mirrors: Mirrors | None = None) -> None:
        self.endpoints = endpoints or Endpoints()
        self.retry = retry or RetryPolicy()
        self.mirrors = mirrors or Mirrors()
        self._http = HttpSender(self.endpoints, self.retry,
                                connections_per_host=connections_per_host)
        self._auth = Authenticator(self._http, credentials)
        self._bases: dict[str, URL] = {}
        self._ping_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @classmethod
    def from_config(cls, config: "ClientConfig", credentials: CredentialLookup | None,
                    **kwargs: Any) -> "RegistryClient":
        """A client honouring the user's insecure registries, certificate folders and mirrors."""
        mirrors = Mirrors(config.mirrors)
        endpoints = Endpoints(config.insecure_registries, config.certs_dirs,
                              mirrors.plain_http_hosts())
        return cls(credentials=credentials, endpoints=endpoints, mirrors=mirrors, **kwargs)

    async def __aenter__(self) -> "RegistryClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.close()

    def repository(self, registry: str, name: str) -> RemoteRepository:
        """Operations on one repository (``name`` as in the reference: ``library/busybox``)."""
        return RemoteRepository(self, registry, name)

    def pull_repository(self, registry: str, name: str) -> RemoteRepository:
        """The repository for reading: through the registry's mirrors first, if it has any.
        Never for writing (a push must reach the registry itself)."""
        mirrors = self.mirrors.of(registry)
        if not mirrors:
            return self.repository(registry, name)
        return MirroredRepository(self, registry, name, mirrors)

    async def ping(self, registry: str) -> URL:
        """Find how ``registry`` is reached (``GET /v2/``) and learn its auth challenge.

        Done once per registry; returns the base URL in use.
        """
        if registry in self._bases:
            return self._bases[registry]
        async with self._ping_locks[registry]:
            if registry in self._bases:
                return self._bases[registry]
            failure: TransportError | None = None
            for base in self.endpoints.candidates(registry):
                try:
                    reply = await self._http.fetch("GET", f"{base}/v2/", limit=_ERROR_BODY_LIMIT)
                except TransportError as err:
                    failure = err
                    continue
                if reply.status == 401:
                    self._auth.learn(registry, reply.headers)
                elif reply.status != 200:
                    raise error_from_reply(registry, reply.status, reply.reason, reply.body,
                                           "is this a registry? GET /v2/ did not answer 200")
                self._bases[registry] = URL(base + "/")
                return self._bases[registry]
            assert failure is not None
            raise failure

    async def check_login(self, registry: str) -> None:
        """Authenticate to ``/v2/`` with the configured credentials, as ``docker login`` does.

        Raises ``AuthenticationError`` when the registry refuses them.
        """
        await self.fetch(registry, "GET", "/v2/", ())

    async def catalog(self, registry: str, page_size: int | None = None) -> list[str]:
        """Every repository name in ``registry`` (``/v2/_catalog``, following pagination)."""
        return await self.paginate(registry, "/v2/_catalog", (CATALOG_SCOPE,), "repositories",
                                   page_size)

    # The calls below are the building blocks for RemoteRepository and uploads.

    async def fetch(self, registry: str, method: str, target: str, scopes: Scopes, *,
                    headers: dict[str, str] | None = None, body: Body = None,
                    ok: tuple[int, ...] = (200,), limit: int = DEFAULT_READ_LIMIT) -> Reply:
        """An authorised request, read in full; raises ``RegistryError`` unless status is in ``ok``.

        ``target`` is a path (``/v2/...``, with query) or an absolute URL (upload locations).
        """
        return await self._send(registry, method, target, scopes, headers, body, ok, limit)

    async def stream(self, registry: str, method: str, target: str, scopes: Scopes, *,
                     headers: dict[str, str] | None = None,
                     ok: tuple[int, ...] = (200,)) -> aiohttp.ClientResponse:
        """As ``fetch`` but the body is left to the caller, who must release the response."""
        return await self._send(registry, method, target, scopes, headers, None, ok, None)

    async def paginate(self, registry: str, path: str, scopes: Scopes, key: str,
                       page_size: int | None) -> list[str]:
        """Collect ``key``'s list over every page, following ``Link: <...>; rel="next"``."""
        target: str | None = f"{path}?n={page_size}" if page_size else path
        items: list[str] = []
        seen = set()
        while target and target not in seen:
            seen.add(target)
            reply = await self.fetch(registry, "GET", target, scopes)
            try:
                items.extend(reply.json().get(key) or [])
            except (ValueError, AttributeError, TypeError):
                raise RegistryError(registry, reply.status, "", f"unreadable {path} reply") \
                    from None
            match = _NEXT_LINK.search(reply.headers.get("Link", ""))
            target = match.group(1) if match else None
        return items

    async def _send(self, registry: str, method: str, target: str, scopes: Scopes,
                    headers: dict[str, str] | None, body: Body, ok: tuple[int, ...],
                    limit: int | None) -> Any:
        url = (await self.ping(registry)).join(URL(target))
        scopes = normalise_scopes(scopes)
        for attempt in (1, 2):
            request_headers = dict(headers or {})
            authorization = await self._auth.authorization(registry, scopes)
            if authorization:
                request_headers["Authorization"] = authorization
            if limit is None:
                result = await self._http.stream(method, url, headers=request_headers)
            else:
                result = await self._http.fetch(method, url, headers=request_headers, body=body,
                                                limit=limit)
            if result.status == 401 and attempt == 1:
                challenge = self._auth.learn(registry, result.headers)
                if challenge is not None:
                    _discard(result)
                    self._auth.forget(registry, scopes)
                    # insufficient_scope names what the registry wants; ask for that too.
                    scopes = normalise_scopes(scopes + challenge.scopes)
                    continue
            if result.status in ok:
                return result
            raise await self._error(registry, result)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _error(self, registry: str, result: Reply | aiohttp.ClientResponse) -> RegistryError:
        if isinstance(result, Reply):
            body = result.body
        else:
            async with result:
                try:
                    body = await read_limited(result, _ERROR_BODY_LIMIT)
                except (aiohttp.ClientError, asyncio.TimeoutError, TransportError):
                    body = b""
        hint = ""
        if result.status in (401, 403) and not await self._auth.has_credentials(registry):
            hint = f"log in with 'dockyard login {registry}'"
        return error_from_reply(registry, result.status, result.reason, body, hint)


def _discard(result: Reply | aiohttp.ClientResponse) -> None:
    if isinstance(result, aiohttp.ClientResponse):
        result.release()
