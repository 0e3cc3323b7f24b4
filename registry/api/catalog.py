"""``GET /v2/_catalog``: the repositories of the registry, with ``n``/``last`` pagination."""

from aiohttp import web

from .common import CALLER, registry_of
from .pagination import Page

routes = web.RouteTableDef()

# distribution's defaults: 100 names unless asked, at most 1000 (catalog.maxentries).
DEFAULT_ENTRIES = 100
MAX_ENTRIES = 1000


@routes.get("/v2/_catalog")
async def catalog(request: web.Request) -> web.Response:
    page = Page.of(request, default=DEFAULT_ENTRIES, maximum=MAX_ENTRIES)
    names = await registry_of(request).catalog.repositories()
    caller = request.get(CALLER)
    if caller is not None:  # only what this caller may pull, filtered before paginating
        names = [name for name in names if caller.may_list(name)]
    names, headers = page.select(names)
    return web.json_response({"repositories": names}, headers=headers)
