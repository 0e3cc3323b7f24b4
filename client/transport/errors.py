"""Registry failures as exceptions that print as one line.

A registry explains a refusal in a JSON body (``{"errors": [{"code",
"message", "detail"}]}``); that code and message are what the user needs to
see, so they are kept, with the HTTP status for callers that branch on it.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import DockyardError


class TransportError(DockyardError):
    """The registry could not be reached, or kept failing after the retries."""


class RegistryError(DockyardError):
    """The registry answered with an error status."""

    def __init__(self, registry: str, status: int, code: str, message: str,
                 detail: Any = None) -> None:
        super().__init__(f"{registry}: {message} ({code})" if code else f"{registry}: {message}")
        self.registry = registry
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


class AuthenticationError(RegistryError):
    """401/403: no, wrong or insufficient credentials."""


class NotFoundError(RegistryError):
    """404: the repository, manifest, blob or upload is unknown to the registry."""


def error_from_reply(registry: str, status: int, reason: str | None, body: bytes,
                     hint: str = "") -> RegistryError:
    """Build the exception for an error response from its JSON body (absent for HEAD)."""
    code, message, detail = "", "", None
    try:
        errors = json.loads(body)["errors"]
        first = errors[0]
        code, message, detail = str(first.get("code", "")), str(first.get("message", "")), \
            first.get("detail")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    message = message or code.lower().replace("_", " ") or f"HTTP {status} {reason or ''}".strip()
    if hint:
        message = f"{message}; {hint}"
    kind = {401: AuthenticationError, 403: AuthenticationError, 404: NotFoundError}
    return kind.get(status, RegistryError)(registry, status, code, message, detail)
