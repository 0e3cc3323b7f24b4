"""What every handler needs: the model for the request, and parsed path parameters."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ocispec.digest import Digest, InvalidDigest

from .. import errors
from ..model import Registry, Repository

# Repository names contain slashes, so the name segment is greedy; the
# handler validates it against the spec's grammar (NAME_INVALID, not 404).
NAME = "/v2/{name:.+}"


REGISTRY = web.AppKey("registry", Registry)


class Caller(Protocol):
    """Who sent the request, as the auth middleware found; absent when the registry has no auth."""

    def may_pull(self, name: str) -> bool:
        """Whether the request's credential covers reading ``name`` (a mount's source)."""

    def may_list(self, name: str) -> bool:
        """Whether ``name`` shows in this caller's catalog."""


CALLER = web.RequestKey("caller", Caller)


def registry_of(request: web.Request) -> Registry:
    return request.app[REGISTRY]


def repository_of(request: web.Request) -> Repository:
    return registry_of(request).repository(request.match_info["name"])


def parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigest as err:
        raise errors.DigestInvalid(detail={"digest": text}, message=str(err)) from None


def require_delete_enabled(request: web.Request) -> None:
    if not registry_of(request).delete_enabled:
        raise errors.Unsupported(message="deletion is disabled in this registry's configuration")
