"""Single HTTP exchanges, retried when retrying can help.

Everything above this module sees either a complete ``Reply`` (small JSON
bodies, read in full inside the retry loop so a reset mid-body is retried too)
or a streaming ``aiohttp.ClientResponse`` (blobs). Connection resets,
timeouts, 429 and 5xx are retried per the ``RetryPolicy``; a refused
connection, a name that does not resolve or a TLS failure are not, since
trying again changes nothing and the user should hear about it at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from .endpoints import Endpoints
from .errors import TransportError
from .retry import RETRY_STATUSES, RetryPolicy

log = logging.getLogger("dockyard.transport")

# A body is sent again on a retry, so a stream is given as a factory of fresh streams.
Body = bytes | Callable[[], AsyncIterable[bytes]] | None

USER_AGENT = "dockyard/0.1"
# Manifests, token replies, tag lists and error bodies are small; refuse a flood.
DEFAULT_READ_LIMIT = 4 << 20
# Failures of a connection already made: the next try may well succeed.
TRANSIENT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                    asyncio.TimeoutError)


@dataclass(frozen=True)
class Reply:
    """A response read in full."""

    status: int
    reason: str | None
    headers: CIMultiDictProxy[str]
    url: URL
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def describe(err: BaseException) -> str:
    """An exception as a short phrase (aiohttp's are sometimes empty)."""
    return str(err) or type(err).__name__


class HttpSender:
    """An aiohttp session with the retry policy and per-host TLS settings applied."""

    def __init__(self, endpoints: Endpoints, retry: RetryPolicy, *,
                 connections_per_host: int = 8) -> None:
        self.endpoints = endpoints
        self.retry = retry
        self._connections_per_host = connections_per_host
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=self._connections_per_host),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60),
                headers={"User-Agent": USER_AGENT},
                read_bufsize=1 << 20,
            )
        return self._session

    async def stream(self, method: str, url: str | URL, *, headers: dict[str, str] | None = None,
                     body: Body = None, allow_redirects: bool = True) -> aiohttp.ClientResponse:
        """Send and return the response unread; the caller must release it."""
        return await self._exchange(method, URL(url), headers, body, allow_redirects, None)

    async def fetch(self, method: str, url: str | URL, *, headers: dict[str, str] | None = None,
                    body: Body = None, allow_redirects: bool = True,
                    limit: int = DEFAULT_READ_LIMIT) -> Reply:
        """Send and read the whole response body (at most ``limit`` bytes)."""
        return await self._exchange(method, URL(url), headers, body, allow_redirects, limit)

    async def _exchange(self, method: str, url: URL, headers: dict[str, str] | None, body: Body,
                        allow_redirects: bool, limit: int | None) -> Any:
        session = self._open_session()
        ssl = self.endpoints.ssl_context(url.host_port_subcomponent or "") \
            if url.scheme == "https" else True
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            retry_after = None
            try:
                resp = await session.request(method, url, headers=headers, data=_fresh(body),
                                             ssl=ssl, allow_redirects=allow_redirects)
                log.debug("%s %s -> %s", method, url, resp.status)
                if resp.status in RETRY_STATUSES and not last:
                    retry_after = resp.headers.get("Retry-After")
                    failure = f"HTTP {resp.status}"
                    resp.release()
                elif limit is None:
                    return resp
                else:
                    async with resp:
                        # A HEAD's Content-Length is the size of what GET would send.
                        body = b"" if method == "HEAD" else await read_limited(resp, limit)
                        return Reply(resp.status, resp.reason, resp.headers, resp.url, body)
            except aiohttp.ClientConnectorError as err:
                raise TransportError(f"cannot connect to {url.host_port_subcomponent}: "
                                     f"{_connect_failure(err)}") from err
            except TRANSIENT_ERRORS as err:
                failure = describe(err)
                if last:
                    raise TransportError(f"{method} {url}: {failure} "
                                         f"(tried {attempt} times)") from err
            wait = self.retry.delay(attempt, retry_after)
            log.debug("%s %s failed (%s); retrying in %.2fs", method, url, failure, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _connect_failure(err: aiohttp.ClientConnectorError) -> str:
    cause = getattr(err, "certificate_error", None) or err.os_error
    errno = getattr(cause, "errno", None)
    return os.strerror(errno) if isinstance(errno, int) and errno > 0 else describe(cause)


def _fresh(body: Body) -> Any:
    return body() if callable(body) else body


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise TransportError(f"{resp.url}: response of {resp.content_length} bytes is too large")
    chunks, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise TransportError(f"{resp.url}: response is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
