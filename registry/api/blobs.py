"""(to be written)"""

from aiohttp import web

routes = web.RouteTableDef()
