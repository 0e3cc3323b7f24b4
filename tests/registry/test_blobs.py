"""Reading and deleting blobs: ``HEAD``/``GET``/``DELETE /v2/<name>/blobs/<digest>``."""

from __future__ import annotations

import pytest

from ocispec.digest import Digest
from registry.app import create_app
from registry.model import Registry

from .images import add_blob, error_code

DATA = bytes(range(256)) * 40  # 10240 bytes
DIGEST = Digest.of(DATA)
URL = f"/v2/library/app/blobs/{DIGEST}"


@pytest.fixture
async def stored(registry_model):
    await add_blob(registry_model, "library/app", DATA)


@pytest.fixture
def streamed(driver, monkeypatch):
    """The driver as an object store: no local file, so blobs are streamed through Python."""
    monkeypatch.setattr(driver, "local_file", lambda path: None)


def _check_blob_headers(response, size: int = len(DATA), digest: Digest = DIGEST) -> None:
    assert response.headers["Content-Length"] == str(size)
    assert response.headers["Docker-Content-Digest"] == str(digest)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Accept-Ranges"] == "bytes"


async def test_head(client, stored):
    response = await client.head(URL)
    assert response.status == 200
    _check_blob_headers(response)
    assert await response.read() == b""


@pytest.mark.parametrize("mode", ["sendfile", "streamed"])
async def test_get(client, stored, request, mode):
    if mode == "streamed":
        request.getfixturevalue("streamed")
    response = await client.get(URL)
    assert response.status == 200
    _check_blob_headers(response)
    assert await response.read() == DATA


@pytest.mark.parametrize("mode", ["sendfile", "streamed"])
@pytest.mark.parametrize("header, content_range, expected", [
    ("bytes=0-99", "bytes 0-99/10240", DATA[:100]),
    ("bytes=10000-", "bytes 10000-10239/10240", DATA[10000:]),
    ("bytes=-40", "bytes 10200-10239/10240", DATA[-40:]),
    ("bytes=10200-99999", "bytes 10200-10239/10240", DATA[10200:]),
])
async def test_range(client, stored, request, mode, header, content_range, expected):
    if mode == "streamed":
        request.getfixturevalue("streamed")
    response = await client.get(URL, headers={"Range": header})
    assert response.status == 206
    assert response.headers["Content-Range"] == content_range
    assert await response.read() == expected


@pytest.mark.parametrize("mode", ["sendfile", "streamed"])
@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20001", "bytes=5-1", "chars=1-2"])
async def test_unsatisfiable_range(client, stored, request, mode, header):
    if mode == "streamed":
        request.getfixturevalue("streamed")
    response = await client.get(URL, headers={"Range": header})
    assert response.status == 416
    assert response.headers["Content-Range"] == "bytes */10240"


async def test_if_none_match_answers_not_modified(client, stored):
    response = await client.get(URL, headers={"If-None-Match": f'"{DIGEST}"'})
    assert response.status == 304
    assert response.headers["ETag"] == f'"{DIGEST}"'


async def test_redirect_where_the_driver_offers_one(client, stored, driver, monkeypatch):
    async def redirect_url(path: str) -> str:
        return "http://127.0.0.1:9/presigned"

    monkeypatch.setattr(driver, "redirect_url", redirect_url)
    response = await client.get(URL, allow_redirects=False)
    assert response.status == 307
    assert response.headers["Location"] == "http://127.0.0.1:9/presigned"
    assert (await client.head(URL)).status == 200  # metadata is answered here


async def test_sha512_blob(client, registry_model):
    digest = await registry_model.blob_store.put(DATA, "sha512")
    await registry_model.repository("library/app").blobs.link(digest)
    response = await client.get(f"/v2/library/app/blobs/{digest}")
    assert response.status == 200
    _check_blob_headers(response, digest=digest)
    assert await response.read() == DATA


async def test_empty_blob(client, registry_model):
    await add_blob(registry_model, "library/app", b"")
    response = await client.get(f"/v2/library/app/blobs/{Digest.of(b'')}")
    assert response.status == 200
    assert await response.read() == b""


async def test_blob_of_another_repository_is_unknown(client, stored):
    response = await client.get(f"/v2/library/other/blobs/{DIGEST}")
    assert response.status == 404
    assert await error_code(response) == "BLOB_UNKNOWN"


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", URL, 404, "BLOB_UNKNOWN"),
    ("DELETE", URL, 404, "BLOB_UNKNOWN"),
    ("GET", "/v2/library/app/blobs/sha256:abc", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/library/app/blobs/md5:{'0' * 32}", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/library/app/blobs/sha256:{'A' * 64}", 400, "DIGEST_INVALID"),
    ("GET", "/v2/library/app/blobs/latest", 400, "DIGEST_INVALID"),
    ("DELETE", "/v2/library/app/blobs/sha256:abc", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/Library/blobs/{DIGEST}", 400, "NAME_INVALID"),
    ("GET", f"/v2/library//app/blobs/{DIGEST}", 400, "NAME_INVALID"),
])
async def test_error_codes(client, method, path, status, code):
    response = await client.request(method, path)
    assert response.status == status
    assert await error_code(response) == code


async def test_head_of_unknown_blob_is_bare_404(client):
    response = await client.head(URL)
    assert response.status == 404
    assert await response.read() == b""


async def test_delete_unlinks_from_this_repository_only(client, registry_model, stored):
    await add_blob(registry_model, "library/other", DATA)
    response = await client.delete(URL)
    assert response.status == 202
    assert (await client.head(URL)).status == 404
    assert (await client.delete(URL)).status == 404
    assert (await client.get(f"/v2/library/other/blobs/{DIGEST}")).status == 200


async def test_delete_disabled(aiohttp_client, driver):
    registry = Registry(driver, delete_enabled=False)
    await add_blob(registry, "library/app", DATA)
    client = await aiohttp_client(create_app(registry))
    response = await client.delete(URL)
    assert response.status == 405
    assert await error_code(response) == "UNSUPPORTED"
    assert (await client.get(URL)).status == 200
