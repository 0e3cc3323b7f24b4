"""The conformance suite's HTTP client: what reggie does for the Go suite, over aiohttp.

Requests are written as the spec's path templates (``/v2/<name>/blobs/<digest>``)
filled from the target's namespace; a ``Location`` a registry returned is followed
as given, its own query string (distribution keeps upload state there) kept and
extended. ``Content-Length`` always comes from the body actually sent, as Go's
HTTP client does whatever header the Go suite sets. Basic and Bearer-token auth
are answered from ``OCI_USERNAME``/``OCI_PASSWORD`` when a registry asks.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from .settings import Settings

USER_AGENT = "dockyard-conformance-tests"
TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass(frozen=True)
class Response:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    base_url: str

    def header(self, name: str) -> str:
        """A header's value, or "" when absent (Go's ``Header().Get``)."""
        return self.headers.get(name, "")

    def json(self) -> Any:
        return json.loads(self.body)

    def relative_location(self) -> str:
        """The Location's path and query, whether the registry sent it absolute or not."""
        parts = urlsplit(self.header("Location"))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def absolute_location(self) -> str:
        location = self.header("Location")
        return urljoin(self.base_url + "/", location) if location else ""

    def error_codes(self) -> list[str]:
        """The ``code`` of each entry of the spec's error body."""
        return [entry["code"] for entry in self.json()["errors"]]

    def tags(self) -> list[str]:
        """The tag list of a ``tags/list`` answer; [] when the body is no such list."""
        try:
            return list(self.json().get("tags") or [])
        except (ValueError, AttributeError):
            return []


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class OCIClient:
    """Requests against one registry and namespace, as the Go suite's ``client``."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings, base_url: str) -> None:
        self.session = session
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self._authorization: str | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, base_url: str) -> AsyncIterator["OCIClient"]:
        async with aiohttp.ClientSession(timeout=TIMEOUT,
                                         headers={"User-Agent": USER_AGENT}) as session:
            yield cls(session, settings, base_url)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    def url(self, path: str, params: Mapping[str, str] | None = None, *, name: str | None = None,
            reference: str | None = None, digest: str | None = None) -> URL:
        """Fill a path template and append ``params`` to whatever query it already carries."""
        path = path.replace("<name>", name or self.namespace)
        if reference is not None:
            path = path.replace("<reference>", reference)
        if digest is not None:
            path = path.replace("<digest>", digest)
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        return URL(self.base_url + path, encoded=True)

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      headers: Mapping[str, str] | None = None, body: bytes | None = None,
                      name: str | None = None, reference: str | None = None,
                      digest: str | None = None) -> Response:
        url = self.url(path, params, name=name, reference=reference, digest=digest)
        sent = {k: v for k, v in (headers or {}).items() if k.lower() != "content-length"}
        response = await self._send(method, url, sent, body)
        if response.status == 401 and await self._authorize(response):
            response = await self._send(method, url, sent, body)
        return response

    async def _send(self, method: str, url: URL, headers: dict[str, str],
                    body: bytes | None) -> Response:
        if self._authorization:
            headers = {**headers, "Authorization": self._authorization}
        async with self.session.request(method, url, headers=headers, data=body) as resp:
            return Response(resp.status, resp.headers, await resp.read(), self.base_url)

    async def _authorize(self, response: Response) -> bool:
        """Answer a 401's challenge once: basic credentials, or a token from the realm."""
        user, password = self.settings.username, self.settings.password
        challenge = response.header("WWW-Authenticate")
        if not user or not challenge:
            return False
        basic = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            self._authorization = basic
            return True
        if scheme != "bearer":
            return False
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            return False
        async with self.session.get(realm, params=params,
                                    headers={"Authorization": basic}) as token_response:
            if token_response.status != 200:
                return False
            token = await token_response.json(content_type=None)
        self._authorization = f"Bearer {token.get('token') or token.get('access_token')}"
        return True
