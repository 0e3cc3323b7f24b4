"""Saying so when a cached answer is given because the upstream failed.

The model marks the request (a context variable: aiohttp runs each request
in a task of its own) and a response hook adds ``Warning: 110 - "Response is
Stale"`` (RFC 7234) and ``Dockyard-Proxy-Stale: <what upstream answered>``,
without the handlers knowing there is a cache.
"""

from __future__ import annotations

import contextvars

from aiohttp import web

HEADER = "Dockyard-Proxy-Stale"
_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("proxy_stale",
                                                                    default=None)


def mark_stale(reason: str) -> None:
    _reason.set(reason)


async def stale_headers(request: web.Request, response: web.StreamResponse) -> None:
    reason = _reason.get()
    if reason is not None:
        response.headers["Warning"] = '110 - "Response is Stale"'
        response.headers[HEADER] = reason
