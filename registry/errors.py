"""The spec's error codes, each with its HTTP status, as exceptions.

Handlers and the model raise these; one middleware renders them as the
spec's JSON body (``{"errors": [{"code", "message", "detail"}]}``).
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base class: ``code`` and ``status`` come from the table below."""

    code = "UNKNOWN"
    status = 500
    message = "unknown error"

    def __init__(self, detail: Any = None, message: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        self.detail = detail
        if message:
            self.message = message
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


def _error(code: str, status: int, message: str) -> type[RegistryError]:
    name = "".join(part.capitalize() for part in code.split("_"))
    return type(name, (RegistryError,), {"code": code, "status": status, "message": message})


# One row per error code of the OCI distribution spec (plus distribution's extras).
BlobUnknown = _error("BLOB_UNKNOWN", 404, "blob unknown to registry")
BlobUploadInvalid = _error("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
BlobUploadUnknown = _error("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DigestInvalid = _error("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
ManifestBlobUnknown = _error("MANIFEST_BLOB_UNKNOWN", 404,
                             "manifest references a manifest or blob unknown to registry")
ManifestInvalid = _error("MANIFEST_INVALID", 400, "manifest invalid")
ManifestUnknown = _error("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NameInvalid = _error("NAME_INVALID", 400, "invalid repository name")
NameUnknown = _error("NAME_UNKNOWN", 404, "repository name not known to registry")
SizeInvalid = _error("SIZE_INVALID", 400, "provided length did not match content length")
Unauthorized = _error("UNAUTHORIZED", 401, "authentication required")
Denied = _error("DENIED", 403, "requested access to the resource is denied")
Unsupported = _error("UNSUPPORTED", 405, "the operation is unsupported")
TooManyRequests = _error("TOOMANYREQUESTS", 429, "too many requests")
PaginationNumberInvalid = _error("PAGINATION_NUMBER_INVALID", 400,
                                 "invalid number of results requested")
TagInvalid = _error("TAG_INVALID", 400, "manifest tag did not match URI")
RangeInvalid = _error("RANGE_INVALID", 416, "invalid content range")
Unavailable = _error("UNAVAILABLE", 503, "service unavailable")
