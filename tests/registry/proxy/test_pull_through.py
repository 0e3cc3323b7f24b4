"""The pull-through cache against a fake Docker Hub (token realm of its own, library/, 429s)."""

from __future__ import annotations

import asyncio
import logging
import os
import time

from ocispec.digest import Digest
from registry.model import paths

from tests.helpers.fake_hub import ACCOUNT

from .conftest import ACCEPT, pull


async def test_first_pull_fills_the_cache_and_the_second_asks_upstream_for_no_blob(
        hub, make_proxy):
    image = await hub.add_image("library/busybox", "latest")
    proxy = await make_proxy(hub.url)
    assert await pull(proxy, "hub/busybox") == {str(d): b for d, b in image.blobs.items()}
    assert hub.count("GET", "blobs") == 3 and hub.count("GET", "manifests") == 1
    assert await pull(proxy, "hub/busybox") == {str(d): b for d, b in image.blobs.items()}
    # library/ normalisation: both spellings are one cached repository
    await pull(proxy, "hub/library/busybox")
    assert hub.count("GET", "blobs") == 3 and hub.count("GET", "manifests") == 1
    assert hub.count("GET", "token") == 1  # one token per scope, reused until it expires
    for digest in image.blobs:
        assert await proxy.registry.repository("hub/library/busybox").blobs.exists(digest)


async def test_tag_is_revalidated_with_head_after_its_ttl_and_refetched_when_it_moved(
        hub, make_proxy):
    await hub.add_image("library/alpine", "3", seed="one")
    proxy = await make_proxy(hub.url, tag_ttl=1.0)
    await pull(proxy, "hub/alpine", "3")
    await pull(proxy, "hub/alpine", "3")  # fresh: upstream not asked
    assert (hub.count("HEAD", "manifests"), hub.count("GET", "manifests")) == (0, 1)
    await asyncio.sleep(1.1)
    await pull(proxy, "hub/alpine", "3")  # stale: a HEAD, which agrees
    assert (hub.count("HEAD", "manifests"), hub.count("GET", "manifests")) == (1, 1)
    moved = await hub.add_image("library/alpine", "3", seed="two")
    await asyncio.sleep(1.1)
    response = await proxy.get("/v2/hub/alpine/manifests/3", headers=ACCEPT)
    assert response.headers["Docker-Content-Digest"] == str(moved.digest)
    assert (hub.count("HEAD", "manifests"), hub.count("GET", "manifests")) == (2, 2)


async def test_manifest_by_digest_is_cached_for_good(hub, make_proxy):
    image = await hub.add_image("library/busybox", "latest")
    proxy = await make_proxy(hub.url, tag_ttl=0)
    await pull(proxy, "hub/busybox", str(image.digest))
    await hub.stop()
    assert await pull(proxy, "hub/busybox", str(image.digest))
    assert hub.count("GET", "manifests") == 1 and hub.count("HEAD", "manifests") == 0


async def test_upstream_gone_serves_the_cache_and_says_so_but_fails_what_is_not_cached(
        hub, make_proxy):
    await hub.add_image("library/busybox", "latest")
    await hub.add_image("library/redis", "latest", seed="r")
    proxy = await make_proxy(hub.url, tag_ttl=0)
    await pull(proxy, "hub/busybox")
    await hub.stop()
    response = await proxy.get("/v2/hub/busybox/manifests/latest", headers=ACCEPT)
    assert response.status == 200
    assert response.headers["Warning"] == '110 - "Response is Stale"'
    assert "UNAVAILABLE" in response.headers["Dockyard-Proxy-Stale"]
    assert await pull(proxy, "hub/busybox")
    missing = await proxy.get("/v2/hub/redis/manifests/latest", headers=ACCEPT)
    assert missing.status == 503
    assert (await missing.json())["errors"][0]["code"] == "UNAVAILABLE"
    await hub.start()  # back: the same proxy fetches again
    assert await pull(proxy, "hub/redis")


async def test_rate_limited_upstream_still_serves_the_cache_and_passes_429_on_for_the_rest(
        hub, make_proxy):
    hub.pull_limit = 1
    await hub.add_image("library/busybox", "latest")
    await hub.add_image("library/redis", "latest", seed="r")
    proxy = await make_proxy(hub.url, tag_ttl=0)
    await pull(proxy, "hub/busybox")
    await hub.add_image("library/busybox", "latest", seed="moved")  # HEAD differs: a GET is due
    response = await proxy.get("/v2/hub/busybox/manifests/latest", headers=ACCEPT)
    assert response.status == 200
    assert "429 TOOMANYREQUESTS" in response.headers["Dockyard-Proxy-Stale"]
    limited = await proxy.get("/v2/hub/redis/manifests/latest", headers=ACCEPT)
    assert limited.status == 429
    assert (await limited.json())["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert limited.headers["Retry-After"] == "3600"
    assert limited.headers["RateLimit-Remaining"].startswith("0;")


async def test_uncached_content_fails_with_the_upstream_error(hub, make_proxy):
    proxy = await make_proxy(hub.url)
    response = await proxy.get("/v2/hub/nothing/manifests/latest", headers=ACCEPT)
    assert response.status == 404
    assert (await response.json())["errors"][0]["code"] in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN")


async def test_ten_concurrent_pulls_of_one_uncached_image_fetch_each_blob_once(hub, make_proxy):
    image = await hub.add_image("library/python", "3", layer_sizes=(3 << 20, 5 << 20))
    proxy = await make_proxy(hub.url)
    results = await asyncio.gather(*(pull(proxy, "hub/python", "3") for _ in range(10)))
    expected = {str(d): b for d, b in image.blobs.items()}
    assert all(result == expected for result in results)
    assert hub.count("GET", "blobs") == 3
    assert hub.count("GET", "manifests") == 1


async def test_a_truncated_upstream_blob_is_not_cached(hub, make_proxy):
    image = await hub.add_image("library/busybox", "latest", layer_sizes=(1 << 20,))
    layer = image.layers[0]
    hub.truncate.add(str(layer))
    proxy = await make_proxy(hub.url)
    manifest = await proxy.get("/v2/hub/busybox/manifests/latest", headers=ACCEPT)
    assert manifest.status == 200
    response = await proxy.get(f"/v2/hub/busybox/blobs/{layer}")
    body_complete = True
    try:
        body = await response.read()
        body_complete = Digest.of(body) == layer
    except Exception:
        body_complete = False
    assert not body_complete
    await asyncio.sleep(0.1)  # the download's clean-up
    assert not await proxy.registry.blob_store.exists(layer)
    uploads = proxy.registry.driver.local_file(paths.uploads_dir("hub/library/busybox"))
    assert not os.path.exists(uploads) or os.listdir(uploads) == []
    hub.truncate.clear()
    assert (await pull(proxy, "hub/busybox"))[str(layer)] == image.blobs[layer]


async def test_push_to_a_mirrored_namespace_is_refused_and_elsewhere_works(hub, make_proxy):
    proxy = await make_proxy(hub.url)
    started = await proxy.post("/v2/hub/mine/blobs/uploads/")
    assert started.status == 405
    error = (await started.json())["errors"][0]
    assert error["code"] == "UNSUPPORTED" and "pull-through cache" in error["message"]
    put = await proxy.put("/v2/hub/mine/manifests/v1", data=b"{}",
                          headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert put.status == 405
    assert (await proxy.post("/v2/private/app/blobs/uploads/")).status == 202


async def test_delete_evicts_from_the_cache_only(hub, make_proxy):
    image = await hub.add_image("library/busybox", "latest")
    proxy = await make_proxy(hub.url)
    await pull(proxy, "hub/busybox")
    deleted = await proxy.delete(f"/v2/hub/busybox/manifests/{image.digest}")
    assert deleted.status == 202
    assert await hub.registry.repository("library/busybox").manifests.exists(image.digest)
    await pull(proxy, "hub/busybox")
    assert hub.count("GET", "manifests") == 2


async def test_eviction_removes_unused_cached_content_but_never_pushed_content(
        hub, make_proxy, tmp_path):
    image = await hub.add_image("library/busybox", "latest")
    proxy = await make_proxy(hub.url, ttl=3600)
    registry = proxy.registry
    await pull(proxy, "hub/busybox")
    shared = image.layers[0]  # a private image built on the cached one
    await registry.repository("private/app").blobs.link(shared)
    old = time.time() - 7200
    root = tmp_path / "proxy-storage" / paths.repository("hub/library/busybox").lstrip("/")
    for directory, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(directory, name), (old, old))
    assert await registry.evict() == 1 + 3 + 1  # the manifest, its blobs and its own link
    assert not await registry.repository("hub/busybox").manifests.exists(image.digest)
    assert await registry.blob_store.exists(shared)  # still linked by private/app
    assert not await registry.blob_store.exists(image.layers[1])
    assert await registry.repository("private/app").blobs.exists(shared)
    await pull(proxy, "hub/busybox")  # fetched again
    assert hub.count("GET", "manifests") == 2


async def test_hits_misses_and_upstream_bytes_are_logged_and_counted(hub, make_proxy, caplog):
    image = await hub.add_image("library/busybox", "latest")
    proxy = await make_proxy(hub.url)
    with caplog.at_level(logging.DEBUG, logger="registry.proxy"):
        await pull(proxy, "hub/busybox")
        await pull(proxy, "hub/busybox")
    assert "proxy: miss blob" in caplog.text and "proxy: cached blob" in caplog.text
    assert "proxy: hit blob" in caplog.text
    metrics = await (await proxy.get("/metrics")).text()
    size = len(image.manifest) + sum(len(b) for b in image.blobs.values())
    assert f'dockyard_proxy_upstream_bytes_total{{prefix="hub"}} {size}' in metrics
    assert 'dockyard_proxy_misses_total{prefix="hub"} 4' in metrics
    assert 'dockyard_proxy_hits_total{prefix="hub"} 4' in metrics


async def test_a_blob_reaches_the_client_while_upstream_still_sends_it(hub, make_proxy):
    image = await hub.add_image("library/busybox", "latest", layer_sizes=(4 << 20,))
    layer = image.layers[0]
    proxy = await make_proxy(hub.url)
    hub.gate = asyncio.Event()
    response = await proxy.get(f"/v2/hub/busybox/blobs/{layer}")
    assert response.status == 200 and response.content_length == len(image.blobs[layer])
    first = await response.content.readexactly(1 << 20)  # upstream has sent only half
    assert first == image.blobs[layer][:1 << 20]
    assert not await proxy.registry.blob_store.exists(layer)  # not stored before verified
    hub.gate.set()
    rest = await response.read()
    assert first + rest == image.blobs[layer]
    assert await proxy.registry.repository("hub/busybox").blobs.exists(layer)


async def test_the_configured_account_signs_in_upstream_and_refusals_pass_through(
        hub, make_proxy):
    await hub.add_image("private/app", "v1")
    anonymous = await make_proxy(hub.url)
    refused = await anonymous.get("/v2/hub/private/app/manifests/v1", headers=ACCEPT)
    assert refused.status == 403  # upstream's 401: signing in *here* would not help
    assert (await refused.json())["errors"][0]["code"] == "UNAUTHORIZED"
    signed_in = await make_proxy(hub.url, account=ACCOUNT)
    assert await pull(signed_in, "hub/private/app", "v1")
