"""What the cache did: hits, misses, revalidations, stale answers, upstream requests and bytes.

Counted per upstream and per process (each worker counts its own), logged as
it happens (misses and stale answers at info, hits at debug) and served as
Prometheus text at ``/metrics``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from aiohttp import web


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    revalidations: int = 0
    stale: int = 0
    evictions: int = 0
    upstream_bytes: int = 0
    token_requests: int = 0
    upstream_requests: Counter = field(default_factory=Counter)  # (method, kind) -> count

    def count_request(self, method: str, kind: str) -> None:
        self.upstream_requests[(method, kind)] += 1


_HELP = {
    "hits": "requests answered from the cache",
    "misses": "requests that had to fetch from upstream",
    "revalidations": "tags checked with upstream (HEAD) after their TTL",
    "stale": "cached answers given while upstream failed",
    "evictions": "manifests and blobs evicted for being unused",
    "upstream_bytes": "bytes of manifests and blobs received from upstream",
    "token_requests": "tokens fetched from upstream realms",
}


def prometheus_text(stats: Iterable[tuple[str, Stats]]) -> str:
    """The counters of each (upstream prefix, Stats) in Prometheus' text format."""
    stats = list(stats)
    lines = []
    for metric in (f.name for f in fields(Stats) if f.name in _HELP):
        name = f"dockyard_proxy_{metric}_total"
        lines += [f"# HELP {name} {_HELP[metric]}", f"# TYPE {name} counter"]
        lines += [f'{name}{{prefix="{prefix}"}} {getattr(s, metric)}' for prefix, s in stats]
    name = "dockyard_proxy_upstream_requests_total"
    lines += [f"# HELP {name} requests sent upstream", f"# TYPE {name} counter"]
    for prefix, s in stats:
        lines += [f'{name}{{prefix="{prefix}",method="{method}",kind="{kind}"}} {count}'
                  for (method, kind), count in sorted(s.upstream_requests.items())]
    return "\n".join(lines) + "\n"


def metrics_route(stats: Iterable[tuple[str, Stats]]) -> web.RouteDef:
    collected = list(stats)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=prometheus_text(collected),
                            content_type="text/plain", charset="utf-8")

    return web.get("/metrics", metrics)
