"""Small registries for client tests: only what a test needs to observe, on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

USERS = {"alice": "secret"}
REFRESH_TOKENS = {"refresh-alice": "alice"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def registry_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]})
    return web.Response(status=status, text=body, content_type="application/json",
                        headers=headers)


class TokenAuthRegistry:
    """A registry that checks auth and little else, as Docker's token-auth spec describes.

    In ``bearer`` mode tokens come from ``/token``: anyone may pull ``public/*``,
    alice may pull anything. In ``basic`` mode every request needs alice's
    Basic credentials. Every token request is recorded for the tests to inspect.
    """

    def __init__(self, mode: str = "bearer", token_key: str = "token",
                 expires_in: int | None = None) -> None:
        self.mode = mode
        self.token_key = token_key
        self.expires_in = expires_in
        self.realm = ""
        self.token_requests: list[dict[str, Any]] = []
        self.granted: dict[str, set[str]] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/token", self._token)
        app.router.add_get("/v2/", self._ping)
        app.router.add_get("/v2/{name:.+}/tags/list", self._tags)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            form = await request.post()
            user = REFRESH_TOKENS.get(str(form.get("refresh_token")))
            if form.get("grant_type") != "refresh_token" or user is None:
                return web.json_response({"error": "invalid_grant"}, status=401)
            scopes = str(form.get("scope", "")).split()
            service = form.get("service")
        else:
            user = None
            if "Authorization" in request.headers:
                user = next((u for u, p in USERS.items()
                             if request.headers["Authorization"] == basic(u, p)), None)
                if user is None:
                    return web.json_response({"details": "incorrect username or password"},
                                             status=401)
            scopes = request.query.getall("scope", [])
            service = request.query.get("service")
        self.token_requests.append({"method": request.method, "user": user, "scopes": scopes,
                                    "service": service,
                                    "account": request.query.get("account")})
        token = f"token-{len(self.token_requests)}"
        self.granted[token] = {s for s in scopes if user or s.startswith("repository:public/")}
        reply: dict[str, Any] = {self.token_key: token}
        if self.expires_in is not None:
            reply["expires_in"] = self.expires_in
        return web.json_response(reply)

    def _authorize(self, request: web.Request, scope: str | None) -> None:
        header = request.headers.get("Authorization", "")
        if self.mode == "basic":
            if header != basic("alice", USERS["alice"]):
                raise self._unauthorized('Basic realm="fake"')
            return
        grants = self.granted.get(header.removeprefix("Bearer "))
        if grants is None or (scope is not None and scope not in grants):
            challenge = f'Bearer realm="{self.realm}",service="fake-registry"'
            if scope:
                challenge += f',scope="{scope}"'
            raise self._unauthorized(challenge)

    @staticmethod
    def _unauthorized(challenge: str) -> web.HTTPUnauthorized:
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                       "message": "authentication required"}]})
        return web.HTTPUnauthorized(text=body, content_type="application/json",
                                    headers={"WWW-Authenticate": challenge})

    async def _ping(self, request: web.Request) -> web.Response:
        self._authorize(request, None)
        return web.json_response({})

    async def _tags(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self._authorize(request, f"repository:{name}:pull")
        return web.json_response({"name": name, "tags": ["v1"]})
