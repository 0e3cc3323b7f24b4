"""Pushing blobs: monolithic, chunked, streamed and mounted uploads, status, cancel, errors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from ocispec.digest import Digest
from registry.api import uploads as uploads_api
from registry.app import create_app
from registry.model import Registry
from registry.model import paths
from registry.model import uploads as uploads_model
from registry.model.uploads import purge_stale
from registry.storage.filesystem import FileSystemDriver

from .images import add_blob, error_code

NAME = "library/app"
UPLOADS = f"/v2/{NAME}/blobs/uploads/"
DATA = bytes(range(256)) * 12  # 3072 bytes
DIGEST = Digest.of(DATA)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def start(client, name: str = NAME) -> str:
    """POST a new session; returns its Location."""
    response = await client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status == 202, await response.text()
    return response.headers["Location"]


async def patch(client, location: str, data: bytes, start_at: int | None = None):
    headers = {"Content-Type": "application/octet-stream"}
    if start_at is not None:
        headers["Content-Range"] = f"{start_at}-{start_at + len(data) - 1}"
    return await client.patch(location, data=data, headers=headers)


async def blob_of(client, digest: Digest = DIGEST, name: str = NAME) -> bytes | None:
    response = await client.get(f"/v2/{name}/blobs/{digest}")
    return await response.read() if response.status == 200 else None


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def check_created(response, digest: Digest = DIGEST, name: str = NAME) -> None:
    assert response.status == 201
    assert response.headers["Location"] == f"/v2/{name}/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == str(digest)


async def body(*chunks: bytes):
    """A body of unknown length: aiohttp sends it with chunked transfer encoding."""
    for chunk in chunks:
        yield chunk


async def test_post_starts_a_session(client):
    response = await client.post(UPLOADS)
    assert response.status == 202
    upload_id = response.headers["Docker-Upload-UUID"]
    assert UUID.fullmatch(upload_id)
    assert response.headers["Location"] == f"{UPLOADS}{upload_id}"
    assert response.headers["Range"] == "0-0"
    assert int(response.headers["OCI-Chunk-Min-Length"]) > 0
    assert response.headers["Content-Length"] == "0"


async def test_single_post_monolithic(client):
    response = await client.post(UPLOADS, params={"digest": str(DIGEST)}, data=DATA)
    check_created(response)
    assert await blob_of(client) == DATA


async def test_post_then_put(client):
    location = await start(client)
    check_created(await client.put(location, params={"digest": str(DIGEST)}, data=DATA))
    assert await blob_of(client) == DATA


async def test_chunked_upload(client):
    location = await start(client)
    for offset in range(0, len(DATA), 1000):
        response = await patch(client, location, DATA[offset:offset + 1000], offset)
        assert response.status == 202
        end = min(offset + 1000, len(DATA)) - 1
        assert response.headers["Range"] == f"0-{end}"
        assert response.headers["Location"] == location
        assert response.headers["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]
    status = await client.get(location)
    assert status.status == 204
    assert status.headers["Range"] == f"0-{len(DATA) - 1}"
    check_created(await client.put(location, params={"digest": str(DIGEST)}))
    assert await blob_of(client) == DATA


async def test_last_chunk_in_put_with_content_range(client):
    location = await start(client)
    assert (await patch(client, location, DATA[:2000], 0)).status == 202
    response = await client.put(location, params={"digest": str(DIGEST)}, data=DATA[2000:],
                                headers={"Content-Range": f"2000-{len(DATA) - 1}"})
    check_created(response)
    assert await blob_of(client) == DATA


async def test_streamed_patch_without_length_or_range(client):
    """Docker's way: one PATCH with the whole blob in chunked transfer encoding."""
    location = await start(client)
    response = await client.patch(location, data=body(DATA[:1], DATA[1:2000], DATA[2000:]))
    assert response.status == 202
    assert response.headers["Range"] == f"0-{len(DATA) - 1}"
    check_created(await client.put(location, params={"digest": str(DIGEST)}))


async def test_large_body_is_written_in_batches(client):
    data = bytes(range(256)) * (12 << 10)  # 3 MiB: several batches
    location = await start(client)
    response = await client.patch(location, data=body(*(data[i:i + 65536]
                                                        for i in range(0, len(data), 65536))))
    assert response.headers["Range"] == f"0-{len(data) - 1}"
    check_created(await client.put(location, params={"digest": str(Digest.of(data))}),
                  Digest.of(data))
    assert await blob_of(client, Digest.of(data)) == data


@pytest.mark.parametrize("first_start", [None, 1000], ids=["fresh", "after-a-chunk"])
async def test_out_of_order_chunk_is_416(client, first_start):
    location = await start(client)
    expected_range = "0-0"
    if first_start is not None:
        assert (await patch(client, location, DATA[:1000], 0)).status == 202
        expected_range = "0-999"
    response = await patch(client, location, DATA[2000:], 2000)
    assert response.status == 416
    assert await error_code(response) == "RANGE_INVALID"
    assert response.headers["Range"] == expected_range
    assert response.headers["Location"] == location
    # The session is unharmed: the right chunk still goes on.
    done = 0 if first_start is None else 1000
    assert (await patch(client, location, DATA[done:], done)).status == 202
    check_created(await client.put(location, params={"digest": str(DIGEST)}))


async def test_repeated_chunk_is_416_and_stale_status_tells_where_to_go_on(client):
    """The conformance suite's sequence, all on the Location of the POST."""
    location = await start(client)
    assert (await patch(client, location, DATA[:1000], 0)).status == 202
    repeated = await patch(client, location, DATA[:1000], 0)
    assert repeated.status == 416
    assert repeated.headers["Range"] == "0-999"
    status = await client.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-999"
    assert status.headers["Location"] == location
    assert (await patch(client, status.headers["Location"], DATA[1000:], 1000)).status == 202
    check_created(await client.put(location, params={"digest": str(DIGEST)}))
    assert await blob_of(client) == DATA


@pytest.mark.parametrize("content_range", ["garbage", "0-", "-9", "5-1", "0-9-2", "bytes 0-x"])
async def test_malformed_content_range_is_416(client, content_range):
    location = await start(client)
    response = await client.patch(location, data=b"0123456789",
                                  headers={"Content-Range": content_range})
    assert response.status == 416
    assert await error_code(response) == "RANGE_INVALID"
    assert response.headers["Range"] == "0-0"


async def test_content_length_must_match_content_range(client):
    location = await start(client)
    response = await client.patch(location, data=b"0123456789", headers={"Content-Range": "0-4"})
    assert response.status == 400
    assert await error_code(response) == "SIZE_INVALID"
    assert (await client.get(location)).headers["Range"] == "0-0"  # nothing was written


async def test_streamed_chunk_shorter_than_its_content_range(client):
    location = await start(client)
    response = await client.patch(location, data=body(b"01234"), headers={"Content-Range": "0-9"})
    assert response.status == 400
    assert await error_code(response) == "SIZE_INVALID"
    assert response.headers["Range"] == "0-4"  # what did arrive is kept, and said so


async def test_cancel(client):
    location = await start(client)
    assert (await patch(client, location, DATA[:10], 0)).status == 202
    assert (await client.delete(location)).status == 204
    for method in ("GET", "DELETE", "PATCH", "PUT"):
        response = await client.request(method, location, params={"digest": str(DIGEST)})
        assert response.status == 404
        assert await error_code(response) == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize("upload_id", [
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301",  # well formed, never issued
    "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
    "not-a-session",
    "...",
    "3f2504e0-4f89-41d3-9a0c-0305e82c330",
    "x" * 300,
])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_unknown_upload_ids(client, upload_id, method):
    response = await client.request(method, f"{UPLOADS}{upload_id}",
                                    params={"digest": str(DIGEST)}, data=b"abc")
    assert response.status == 404
    assert await error_code(response) == "BLOB_UPLOAD_UNKNOWN"


async def test_session_belongs_to_its_repository(client):
    location = await start(client)
    elsewhere = location.replace(f"/v2/{NAME}/", "/v2/library/other/")
    response = await client.get(elsewhere)
    assert response.status == 404
    assert await error_code(response) == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize("how", ["chunked", "put", "single-post"])
async def test_digest_mismatch_leaves_nothing_behind(client, driver, how):
    wrong = Digest.of(b"something else")
    if how == "single-post":
        response = await client.post(UPLOADS, params={"digest": str(wrong)}, data=DATA)
    else:
        location = await start(client)
        if how == "chunked":
            assert (await patch(client, location, DATA, 0)).status == 202
        response = await client.put(location, params={"digest": str(wrong)},
                                    data=b"" if how == "chunked" else DATA)
        assert (await client.get(location)).status == 404
    assert response.status == 400
    assert await error_code(response) == "DIGEST_INVALID"
    assert await blob_of(client, wrong) is None
    assert await blob_of(client, DIGEST) is None
    assert stored_files(Path(driver.root)) == []


async def test_put_without_digest_keeps_the_session(client):
    location = await start(client)
    assert (await patch(client, location, DATA, 0)).status == 202
    response = await client.put(location)
    assert response.status == 400
    assert await error_code(response) == "DIGEST_INVALID"
    assert (await client.get(location)).headers["Range"] == f"0-{len(DATA) - 1}"
    check_created(await client.put(location, params={"digest": str(DIGEST)}))


@pytest.mark.parametrize("digest", ["sha256:abc", f"md5:{'0' * 32}", "latest"])
async def test_invalid_digest_parameter(client, digest):
    location = await start(client)
    response = await client.put(location, params={"digest": digest}, data=DATA)
    assert response.status == 400
    assert await error_code(response) == "DIGEST_INVALID"
    response = await client.post(UPLOADS, params={"digest": digest}, data=DATA)
    assert await error_code(response) == "DIGEST_INVALID"


@pytest.mark.parametrize("how", ["single-post", "chunked"])
async def test_sha512(client, how):
    digest = Digest.of(DATA, "sha512")
    if how == "single-post":
        response = await client.post(UPLOADS, params={"digest": str(digest)}, data=DATA)
    else:
        location = await start(client)
        assert (await patch(client, location, DATA[:100], 0)).status == 202
        response = await client.put(location, params={"digest": str(digest)}, data=DATA[100:])
    check_created(response, digest)
    assert await blob_of(client, digest) == DATA


async def test_empty_blob(client):
    digest = Digest.of(b"")
    check_created(await client.put(await start(client), params={"digest": str(digest)}), digest)
    assert await blob_of(client, digest) == b""


async def test_same_content_in_two_repositories(client, driver):
    for name in (NAME, "library/other"):
        response = await client.post(f"/v2/{name}/blobs/uploads/", params={"digest": str(DIGEST)},
                                     data=DATA)
        check_created(response, name=name)
        assert await blob_of(client, name=name) == DATA
    blob_file = Path(driver.root + paths.blob_data(DIGEST))
    assert [p for p in stored_files(Path(driver.root)) if p.name == "data"] == [blob_file]


async def test_invalid_repository_name(client):
    response = await client.post("/v2/Library/blobs/uploads/")
    assert response.status == 400
    assert await error_code(response) == "NAME_INVALID"


async def test_mount_from_a_repository_holding_the_blob(client, registry_model):
    await add_blob(registry_model, "library/base", DATA)
    response = await client.post(UPLOADS, params={"mount": str(DIGEST), "from": "library/base"})
    check_created(response)
    assert await blob_of(client) == DATA


@pytest.mark.parametrize("params", [
    {"mount": str(DIGEST), "from": "library/empty"},  # the source lacks the blob
    {"mount": str(DIGEST)},  # no source named
    {"mount": str(DIGEST), "from": "Not/Valid"},
    {"mount": "sha256:abc", "from": "library/base"},
])
async def test_mount_falls_back_to_a_session(client, registry_model, params):
    await add_blob(registry_model, "library/base", DATA)
    response = await client.post(UPLOADS, params=params)
    assert response.status == 202
    assert response.headers["Location"].startswith(UPLOADS)
    assert await blob_of(client) is None


async def test_mount_refused_by_the_access_check(client, registry_model, monkeypatch):
    async def refuse(request, source: str) -> bool:
        return False

    monkeypatch.setattr(uploads_api, "may_mount_from", refuse)
    await add_blob(registry_model, "library/base", DATA)
    response = await client.post(UPLOADS, params={"mount": str(DIGEST), "from": "library/base"})
    assert response.status == 202
    assert await blob_of(client) is None


@pytest.fixture
async def second_app(aiohttp_client, driver):
    """Another app over the same storage directory: a second worker process, or a restart."""
    other = FileSystemDriver(driver.root)
    yield await aiohttp_client(create_app(Registry(other)))
    await other.close()


async def test_session_continues_on_another_instance(client, second_app):
    location = await start(client)
    assert (await patch(client, location, DATA[:1000], 0)).status == 202
    status = await second_app.get(location)
    assert status.headers["Range"] == "0-999"
    assert (await patch(second_app, location, DATA[1000:2000], 1000)).status == 202
    # Back on the first instance, whose running hash stopped at 1000 bytes.
    response = await client.put(location, params={"digest": str(DIGEST)}, data=DATA[2000:],
                                headers={"Content-Range": f"2000-{len(DATA) - 1}"})
    check_created(response)
    assert await blob_of(second_app) == DATA


async def test_purge_stale(client, driver):
    nested = "library/deep/nested/app"
    old = [await start(client), await start(client, nested)]
    fresh = await start(client)
    for location in old:
        name, upload_id = location.removeprefix("/v2/").split("/blobs/uploads/")
        await driver.put_content(paths.upload_started_at(name, upload_id),
                                 b"2001-01-01T00:00:00Z")
    assert await purge_stale(driver, 3600) == 2
    for location in old:
        assert (await client.get(location)).status == 404
    assert (await client.get(fresh)).status == 204
    assert await purge_stale(driver, 3600) == 0


async def test_purge_stale_dry_run_deletes_nothing(client, driver, caplog):
    location = await start(client)
    name, upload_id = location.removeprefix("/v2/").split("/blobs/uploads/")
    await driver.put_content(paths.upload_started_at(name, upload_id), b"2001-01-01T00:00:00Z")
    with caplog.at_level("INFO", logger="registry.model.uploads"):
        assert await purge_stale(driver, 3600, dry_run=True) == 1
    assert upload_id in caplog.text
    assert (await client.get(location)).status == 204
    assert await purge_stale(driver, 3600) == 1
    assert (await client.get(location)).status == 404


async def test_purge_stale_on_empty_storage(driver):
    assert await purge_stale(driver, 0) == 0


async def test_status_answers_while_a_patch_is_in_flight(client):
    """A client resuming after a stalled PATCH asks for the status: it must not wait for it."""
    location = await start(client)
    assert (await patch(client, location, DATA, 0)).status == 202
    sent = b"x" * (uploads_model.BATCH_SIZE + 1000)  # more than the server buffers
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write((f"PATCH {location} HTTP/1.1\r\nHost: x\r\n"
                      f"Content-Length: {2 * len(sent)}\r\n"
                      f"Content-Range: {len(DATA)}-{len(DATA) + 2 * len(sent) - 1}\r\n\r\n"
                      ).encode() + sent)
        await writer.drain()
        stored = 0
        for _ in range(100):  # until the server has stored a batch of it
            response = await asyncio.wait_for(client.get(location), timeout=2)
            assert response.status == 204
            stored = int(response.headers["Range"].split("-")[1]) + 1
            if stored > len(DATA):
                break
            await asyncio.sleep(0.02)
        assert len(DATA) < stored <= len(DATA) + len(sent)
    finally:
        writer.close()
