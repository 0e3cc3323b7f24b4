"""The registry with mirrored namespaces, and what one mirrored upstream keeps in memory.

``ProxyRegistry.repository`` is the one place that decides, by name, whether
a repository is ordinary (push and pull as usual) or a cache of an upstream:
the longest configured prefix that the name lies under wins, and ``""``
(distribution's ``proxy.remoteurl``) covers every name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import TypeVar

from aiohttp import web

from ocispec.names import is_valid_name

from .. import errors
from ..config import ProxyConfig, UpstreamConfig
from ..model import Registry, Repository
from ..storage.driver import StorageDriver
from .downloads import Downloads
from .eviction import Usage, evict_unused
from .repository import ProxyRepository
from .stale import stale_headers
from .stats import Stats, metrics_route
from .upstream import Upstream

log = logging.getLogger("registry.proxy")
_T = TypeVar("_T")

class Mirror:
    """One upstream under one prefix: its client, downloads, tag freshness and counters."""

    def __init__(self, config: UpstreamConfig, tag_ttl: float) -> None:
        self.config = config
        self.prefix = config.prefix
        self.tag_ttl = tag_ttl
        self.stats = Stats()
        self.upstream = Upstream(config, self.stats)
        self.downloads = Downloads(self.stats)
        self.usage = Usage(config.ttl)
        self._checked: dict[tuple[str, str], float] = {}  # (name, tag) -> when upstream agreed
        self._flights: dict[Hashable, asyncio.Future] = {}

    def covers(self, name: str) -> bool:
        return not self.prefix or name.startswith(self.prefix + "/")

    def names(self, name: str) -> tuple[str, str]:
        """(local, remote) names for ``name``: the prefix dropped upstream, and Docker Hub's
        ``library/`` added to official images on both sides so they share one cache."""
        remote = name[len(self.prefix) + 1:] if self.prefix else name
        if self.config.library and "/" not in remote:
            remote = f"library/{remote}"
            name = f"{self.prefix}/{remote}" if self.prefix else remote
        return name, remote

    # --- tag freshness -------------------------------------------------------------------

    def fresh(self, name: str, tag: str) -> bool:
        checked = self._checked.get((name, tag))
        return checked is not None and time.monotonic() - checked < self.tag_ttl

    def checked(self, name: str, tag: str) -> None:
        self._checked[(name, tag)] = time.monotonic()

    def forget(self, name: str, tag: str) -> None:
        self._checked.pop((name, tag), None)

    # --- one flight per key --------------------------------------------------------------

    async def single_flight(self, key: Hashable, work: Callable[[], Awaitable[_T]]) -> _T:
        """``work()``'s result; callers with the same key meanwhile share the one run."""
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = asyncio.ensure_future(work())
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    # --- what happened -------------------------------------------------------------------

    def hit(self, kind: str, name: str, reference: object) -> None:
        self.stats.hits += 1
        log.debug("proxy: hit %s %s@%s", kind, name, reference)

    def miss(self, kind: str, name: str, reference: object) -> None:
        self.stats.misses += 1
        log.info("proxy: miss %s %s@%s: fetching from %s", kind, name, reference,
                 self.upstream.url)

    def stale(self, name: str, reference: object, err: errors.RegistryError) -> str:
        """Count and log a cached answer given because upstream failed; the reason."""
        self.stats.stale += 1
        reason = f"upstream answered {getattr(err, 'upstream_status', err.status)} {err.code}: " \
                 f"{err.message}"
        log.warning("proxy: serving cached %s@%s: %s", name, reference, reason)
        return reason


class ProxyRegistry(Registry):
    """A registry where names under the configured prefixes are caches of upstreams."""

    def __init__(self, driver: StorageDriver, proxy: ProxyConfig, *,
                 delete_enabled: bool = True) -> None:
        super().__init__(driver, delete_enabled=delete_enabled)
        self.mirrors = sorted((Mirror(upstream, proxy.tag_ttl) for upstream in proxy.upstreams),
                              key=lambda mirror: len(mirror.prefix), reverse=True)
        self.eviction_interval = proxy.eviction_interval

    def mirror_of(self, name: str) -> Mirror | None:
        return next((mirror for mirror in self.mirrors if mirror.covers(name)), None)

    def repository(self, name: str) -> Repository | ProxyRepository:
        mirror = self.mirror_of(name) if is_valid_name(name) else None
        if mirror is None:
            return super().repository(name)
        local, remote = mirror.names(name)
        return ProxyRepository(super().repository(local), mirror, remote)

    async def evict(self) -> int:
        """Evict what each mirror has not used within its ttl; how many items went."""
        evicted = 0
        for mirror in self.mirrors:
            if mirror.config.ttl > 0:
                count = await evict_unused(self, mirror)
                mirror.stats.evictions += count
                evicted += count
        return evicted

    async def close(self) -> None:
        for mirror in self.mirrors:
            await mirror.downloads.close()
            await mirror.upstream.close()


def install(app: web.Application, registry: ProxyRegistry, *, evict: bool) -> None:
    """Hook the cache into ``app``: the stale-answer headers, ``/metrics``, and (when
    ``evict``, in one worker only) the eviction loop; upstream connections close with it."""
    for mirror in registry.mirrors:
        log.info("proxy: %s mirrors %s (tags revalidated after %gs, unused content evicted "
                 "after %s)", f"{mirror.prefix}/*" if mirror.prefix else "every repository",
                 mirror.upstream.url, mirror.tag_ttl,
                 f"{mirror.config.ttl:g}s" if mirror.config.ttl > 0 else "never")
    app.on_response_prepare.append(stale_headers)
    app.router.add_routes([metrics_route((m.prefix, m.stats) for m in registry.mirrors)])

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_evict_periodically(registry)) if evict else None
        yield
        if task is not None:
            task.cancel()
        await registry.close()

    app.cleanup_ctx.append(lifetime)


async def _evict_periodically(registry: ProxyRegistry) -> None:
    while True:
        await asyncio.sleep(registry.eviction_interval)
        try:
            evicted = await registry.evict()
            if evicted:
                log.info("proxy: evicted %d unused item%s", evicted, "" if evicted == 1 else "s")
        except Exception:
            log.exception("proxy: eviction failed; next attempt in %gs",
                          registry.eviction_interval)

