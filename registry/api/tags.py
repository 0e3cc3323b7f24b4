"""``GET /v2/<name>/tags/list``: a repository's tags, sorted, with ``n``/``last`` pagination."""

from aiohttp import web

from .common import NAME, repository_of
from .pagination import Page

routes = web.RouteTableDef()


@routes.get(f"{NAME}/tags/list")
async def list_tags(request: web.Request) -> web.Response:
    repository = repository_of(request)
    page = Page.of(request)
    tags, headers = page.select(await repository.tags.all())
    return web.json_response({"name": repository.name, "tags": tags}, headers=headers)
