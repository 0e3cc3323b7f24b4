"""``GET /v2/``: the version check every client makes first."""

from aiohttp import web

routes = web.RouteTableDef()


@routes.get("/v2/")
async def version_check(request: web.Request) -> web.Response:
    return web.json_response({})
