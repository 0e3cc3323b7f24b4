"""The pull-through cache: repositories under a mirrored namespace are fetched from an upstream.

``ProxyRegistry`` is the model's ``Registry`` with one difference: for a name
under a configured prefix (``""`` mirrors every name, as distribution's
``proxy.remoteurl`` does) ``repository`` returns a ``ProxyRepository``, which
answers the same calls the HTTP handlers make, from the cache when it can and
from the upstream when it must.  The cache is ordinary storage in
distribution's layout, so cached content is served exactly like pushed
content (sendfile included).

- ``upstream``: the HTTP client, Docker token auth, errors passed through;
- ``fanout`` and ``downloads``: one upstream fetch per blob, streamed to every
  waiting client while it is written to storage and verified;
- ``repository``: manifests (tag freshness, HEAD revalidation, stale
  fallback), blobs, refused pushes, deletion that only evicts;
- ``eviction``: cached content unused for ``ttl`` goes;
- ``stats``: hits, misses, upstream bytes, as log lines and ``/metrics``.
"""

from .registry import ProxyRegistry, install

__all__ = ["ProxyRegistry", "install"]
