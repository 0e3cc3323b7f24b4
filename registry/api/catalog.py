"""``GET /v2/_catalog``: the repositories of the registry, with ``n``/``last`` pagination."""

from aiohttp import web

from .common import registry_of
from .pagination import Page

routes = web.RouteTableDef()

# distribution's defaults: 100 names unless asked, at most 1000 (catalog.maxentries).
DEFAULT_ENTRIES = 100
MAX_ENTRIES = 1000


@routes.get("/v2/_catalog")
async def catalog(request: web.Request) -> web.Response:
    page = Page.of(request, default=DEFAULT_ENTRIES, maximum=MAX_ENTRIES)
    names, headers = page.select(await registry_of(request).catalog.repositories())
    return web.json_response({"repositories": names}, headers=headers)
