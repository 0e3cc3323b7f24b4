"""The upstream registry, spoken to as a client: Docker token auth, manifests, blobs, tags.

Authentication follows what Docker Hub expects of a client: a request without
a token gets ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,
scope=...``; the token comes from that realm (anonymously, or with the
configured account as Basic credentials) and is kept per scope until it
expires, so a busy mirror asks the realm once per repository and lifetime.
A ``Basic`` challenge is answered with the account directly.

Upstream refusals are passed through as the upstream said them (its status,
code, message and detail, and ``Retry-After``/``RateLimit-*`` headers), with
one change: a ``401`` becomes ``403`` (a ``401`` from this registry would ask
the client to sign in *here*, which would not help).  An upstream that cannot
be reached is ``503 UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from ocispec import mediatypes as mt
from ocispec.challenge import Challenge, parse_challenges, preferred
from ocispec.digest import Digest

from .. import errors
from ..config import UpstreamConfig
from .stats import Stats

MANIFEST_ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST,
                             mt.DOCKER_MANIFEST])
TOKEN_LIFETIME = 60
"""Docker token auth: a token whose lifetime is not given lasts 60 s."""
TOKEN_MARGIN = 10
"""Seconds before expiry a cached token is no longer used (clock skew, the request's own time)."""
PASSED_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                  "Docker-RateLimit-Source")
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)

# What reaching the upstream can raise besides an answer.
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class UpstreamError(errors.RegistryError):
    """The upstream's own refusal, passed through to the client."""

    def __init__(self, status: int, code: str, message: str, detail: object = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, message, headers)
        self.status = 403 if status == 401 else status
        self.code = code
        self.upstream_status = status


def unreachable(url: str, err: BaseException) -> errors.RegistryError:
    return errors.Unavailable(message=f"upstream {url} unreachable: {err or type(err).__name__}")


@dataclass(frozen=True)
class Manifest:
    digest: Digest
    data: bytes
    media_type: str


class Upstream:
    """One upstream registry, with the account and token cache that go with it."""

    def __init__(self, config: UpstreamConfig, stats: Stats) -> None:
        self.url = config.remote_url
        self.stats = stats
        self._account = (_basic(config.username, config.password)
                         if config.username is not None and config.password is not None
                         else None)
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (Authorization, expiry)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=TIMEOUT, auto_decompress=False,
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # --- the API -------------------------------------------------------------------------

    async def head_manifest(self, name: str, reference: str) -> Digest | None:
        """The digest ``reference`` names upstream now (a HEAD: not a pull on Docker Hub);
        None when the upstream does not say (then a GET must tell)."""
        async with await self.request("HEAD", name, f"manifests/{reference}",
                                      {"Accept": MANIFEST_ACCEPT}) as response:
            text = response.headers.get("Docker-Content-Digest")
        try:
            return Digest.parse(text) if text else None
        except ValueError:
            return None

    async def get_manifest(self, name: str, reference: str) -> Manifest:
        """The manifest's bytes, checked against the digest when ``reference`` is one."""
        try:
            async with await self.request("GET", name, f"manifests/{reference}",
                                          {"Accept": MANIFEST_ACCEPT}) as response:
                data = await response.read()
                media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        except NETWORK_ERRORS as err:
            raise unreachable(self.url, err) from None
        self.stats.upstream_bytes += len(data)
        expected = Digest.parse(reference) if ":" in reference else None
        digest = Digest.of(data, expected.algorithm if expected else "sha256")
        if expected is not None and digest != expected:
            raise errors.Unavailable(message=f"upstream {self.url} sent a manifest that does "
                                             f"not match {expected}")
        return Manifest(digest, data, media_type)

    async def open_blob(self, name: str, digest: Digest) -> aiohttp.ClientResponse:
        """The blob's response, body unread: the caller streams it and releases it."""
        return await self.request("GET", name, f"blobs/{digest}")

    async def tags(self, name: str) -> list[str]:
        """Every tag upstream, following ``Link`` pagination."""
        found: list[str] = []
        path: str | None = "tags/list"
        while path is not None:
            try:
                async with await self.request("GET", name, path) as response:
                    body = await response.json(content_type=None)
                    link = response.links.get("next", {}).get("url")
            except NETWORK_ERRORS as err:
                raise unreachable(self.url, err) from None
            found += body.get("tags") or []
            path = None
            if link is not None:
                path = str(link).split(f"/v2/{name}/", 1)[-1]
        return found

    # --- requests and authentication -----------------------------------------------------

    async def request(self, method: str, name: str, path: str,
                      headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
        """``METHOD /v2/<name>/<path>``, signed in as the upstream asks; an error unless 2xx."""
        url = f"{self.url}/v2/{name}/{path}"
        scope = f"repository:{name}:pull"
        self.stats.count_request(method, path.split("/", 1)[0])
        try:
            response = await self._send(method, url, headers, self._cached(scope))
            if response.status == 401:
                challenge = preferred(parse_challenges(
                    response.headers.getall("WWW-Authenticate", ())))
                if challenge is not None:
                    response.release()
                    response = await self._send(method, url, headers,
                                                await self._authorization(challenge, scope))
        except NETWORK_ERRORS as err:
            raise unreachable(self.url, err) from None
        if response.status >= 400:
            raise await _refusal(response)
        return response

    async def _send(self, method: str, url: str, headers: Mapping[str, str] | None,
                    authorization: str | None) -> aiohttp.ClientResponse:
        sent = dict(headers or {})
        if authorization:
            sent["Authorization"] = authorization
        return await self.session.request(method, url, headers=sent)

    def _cached(self, scope: str) -> str | None:
        value, expiry = self._tokens.get(scope, (None, 0.0))
        return value if expiry > time.monotonic() else None

    async def _authorization(self, challenge: Challenge, scope: str) -> str:
        if challenge.scheme == "basic":
            if self._account is None:
                raise UpstreamError(401, "UNAUTHORIZED",
                                    f"upstream {self.url} needs credentials: set its username "
                                    f"and password")
            return self._account
        token, lifetime = await self._fetch_token(challenge, scope)
        value = f"Bearer {token}"
        self._tokens[scope] = (value, time.monotonic() + max(lifetime - TOKEN_MARGIN, 0))
        return value

    async def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, float]:
        """A token for ``scope`` from the challenge's realm, and how long it lasts."""
        params = {"scope": scope}
        if challenge.service:
            params["service"] = challenge.service
        self.stats.token_requests += 1
        headers = {"Authorization": self._account} if self._account else {}
        async with self.session.get(challenge.realm, params=params,
                                    headers=headers) as response:
            if response.status != 200:
                raise await _refusal(response, f"token from {challenge.realm}: ")
            body = await response.json(content_type=None)
        token = body.get("token") or body.get("access_token")
        if not token:
            raise errors.Unavailable(message=f"upstream token realm {challenge.realm} "
                                             f"sent no token")
        return token, float(body.get("expires_in") or TOKEN_LIFETIME)


async def _refusal(response: aiohttp.ClientResponse, prefix: str = "") -> UpstreamError:
    """The upstream's error as the spec's JSON gives it, or its status line when it gives none."""
    headers = {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}
    code, message, detail = _status_code(response.status), response.reason or "error", None
    try:
        body = json.loads(await response.read() or b"null")
        first = body["errors"][0]
        code, message, detail = first.get("code", code), first.get("message", message), \
            first.get("detail")
    except (ValueError, TypeError, KeyError, IndexError, aiohttp.ClientError):
        pass
    finally:
        response.release()
    return UpstreamError(response.status, code, prefix + str(message), detail, headers)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _status_code(status: int) -> str:
    return {401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN", 429: "TOOMANYREQUESTS",
            503: "UNAVAILABLE"}.get(status, "UNKNOWN")
