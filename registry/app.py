"""The aiohttp application: routes, error rendering and the protocol's common headers."""

from __future__ import annotations

import logging

from aiohttp import web

from .api import base, blobs, catalog, manifests, referrers, tags, uploads
from .api.common import REGISTRY
from .auth.middleware import AccessControl
from .errors import RegistryError
from .model import Registry

log = logging.getLogger("registry.app")

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


@web.middleware
async def render_errors(request: web.Request, handler) -> web.StreamResponse:
    """Turn model exceptions into the spec's JSON error body; log the unexpected with context."""
    try:
        return await handler(request)
    except RegistryError as err:
        if request.method == "HEAD":
            return web.Response(status=err.status, headers=err.headers)
        return web.json_response(err.to_json(), status=err.status, headers=err.headers)
    except (web.HTTPException, ConnectionResetError):  # aiohttp ends a lost connection quietly
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        body = RegistryError(message="internal server error").to_json()
        return web.json_response(body, status=500)


async def _protocol_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]


def create_app(registry: Registry, *, middlewares: tuple = (),
               access: AccessControl | None = None) -> web.Application:
    """The registry's HTTP application over ``registry``, open to all unless ``access`` is given.

    The access check runs inside ``render_errors`` so that its refusals get the
    spec's error body; its routes are Dockyard's token endpoint, when it issues.
    """
    checks = [access.middleware] if access else []
    app = web.Application(middlewares=[*middlewares, render_errors, *checks],
                          client_max_size=4 << 20)  # bounds manifest bodies; blobs are streamed
    app[REGISTRY] = registry
    if access:
        app.router.add_routes(access.routes)
    app.on_response_prepare.append(_protocol_headers)
    # Routes are tried in order: the busiest first, but uploads before
    # /blobs/{digest}, which would take an upload's URL otherwise.
    for module in (manifests, uploads, blobs, base, catalog, tags, referrers):
        app.router.add_routes(module.routes)
    return app
