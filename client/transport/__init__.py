"""The registry HTTP client: Docker Registry v2 / OCI Distribution over aiohttp.

Layers, bottom up: ``endpoints`` (URL scheme, TLS, Docker Hub's API host),
``http`` (one exchange, retried with back-off), ``auth`` (challenges and
cached tokens), ``client``/``repository``/``upload`` (the API calls).
"""

from .client import RegistryClient
from .endpoints import Endpoints
from .errors import AuthenticationError, NotFoundError, RegistryError, TransportError
from .repository import MANIFEST_ACCEPT, FetchedManifest, RemoteRepository
from .retry import RetryPolicy

__all__ = [
    "AuthenticationError", "Endpoints", "FetchedManifest", "MANIFEST_ACCEPT", "NotFoundError",
    "RegistryClient", "RegistryError", "RemoteRepository", "RetryPolicy", "TransportError",
]
