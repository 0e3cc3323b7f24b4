"""Manifest push, pull and delete: every media type, reference form and error code."""

from __future__ import annotations

import json

import pytest

from ocispec import mediatypes as mt
from ocispec.digest import Digest
from registry.app import create_app
from registry.model import Registry

from .images import add_blob, descriptor, encode, error_code, image, index, push

NAME = "library/app"
AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}


async def _index_of(registry_model, client, media_type: str) -> bytes:
    """An index (or Docker list) whose two child images are already pushed."""
    child_type = mt.OCI_MANIFEST if media_type == mt.OCI_INDEX else mt.DOCKER_MANIFEST
    children = []
    for seed, platform in (("x", AMD64), ("y", ARM64)):
        data = await image(registry_model, NAME, child_type, seed=seed)
        await push(client, NAME, str(Digest.of(data)), data, child_type)
        children.append((data, child_type, platform))
    return index(children, media_type)


async def _manifest_of(registry_model, client, media_type: str) -> bytes:
    if media_type in mt.INDEXES:
        return await _index_of(registry_model, client, media_type)
    return await image(registry_model, NAME, media_type)


@pytest.mark.parametrize("media_type", sorted(mt.MANIFESTS))
async def test_round_trip_keeps_exact_bytes(client, registry_model, media_type):
    data = await _manifest_of(registry_model, client, media_type)
    digest = str(Digest.of(data))
    response = await push(client, NAME, "v1", data, media_type)
    assert response.headers["Location"] == f"/v2/{NAME}/manifests/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert "OCI-Subject" not in response.headers

    for reference in ("v1", digest):
        response = await client.get(f"/v2/{NAME}/manifests/{reference}",
                                    headers={"Accept": media_type})
        assert response.status == 200
        assert await response.read() == data
        assert response.headers["Content-Type"] == media_type
        assert response.headers["Content-Length"] == str(len(data))
        assert response.headers["Docker-Content-Digest"] == digest
        assert response.headers["ETag"] == f'"{digest}"'

    response = await client.head(f"/v2/{NAME}/manifests/v1", headers={"Accept": media_type})
    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Docker-Content-Digest"] == digest
    assert await response.read() == b""


async def test_push_by_digest_and_fetch_as_blob(client, registry_model):
    data = await image(registry_model, NAME)
    digest = str(Digest.of(data))
    await push(client, NAME, digest, data)
    assert (await client.get(f"/v2/{NAME}/manifests/{digest}")).status == 200
    # Linked as a blob too, as distribution does.
    assert await registry_model.repository(NAME).blobs.exists(Digest.parse(digest))


async def test_push_by_sha512_digest(client, registry_model):
    data = await image(registry_model, NAME)
    digest = str(Digest.of(data, "sha512"))
    response = await push(client, NAME, digest, data)
    assert response.headers["Docker-Content-Digest"] == digest
    assert await (await client.get(f"/v2/{NAME}/manifests/{digest}")).read() == data


async def test_digest_reference_must_match_content(client, registry_model):
    data = await image(registry_model, NAME)
    response = await push(client, NAME, str(Digest.of(b"something else")), data, expect=400)
    assert await error_code(response) == "DIGEST_INVALID"


async def test_tag_overwrite_moves_the_tag(client, registry_model):
    first = await image(registry_model, NAME, seed="1")
    second = await image(registry_model, NAME, seed="2")
    await push(client, NAME, "latest", first)
    await push(client, NAME, "latest", second)
    assert await (await client.get(f"/v2/{NAME}/manifests/latest")).read() == second
    # The first stays reachable by digest.
    response = await client.get(f"/v2/{NAME}/manifests/{Digest.of(first)}")
    assert await response.read() == first


async def test_missing_accept_and_wildcards_get_what_is_stored(client, registry_model):
    data = await image(registry_model, NAME)
    await push(client, NAME, "v1", data)
    for accept in (None, "*/*", "application/json, */*;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        response = await client.get(f"/v2/{NAME}/manifests/v1", headers=headers)
        assert response.status == 200
        assert response.headers["Content-Type"] == mt.OCI_MANIFEST


@pytest.mark.parametrize("media_type", [mt.OCI_MANIFEST, mt.OCI_INDEX])
async def test_oci_content_refused_when_not_accepted(client, registry_model, media_type):
    data = await _manifest_of(registry_model, client, media_type)
    await push(client, NAME, "v1", data, media_type)
    accept = f"{mt.DOCKER_MANIFEST}, {mt.DOCKER_MANIFEST_LIST}"
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers={"Accept": accept})
    assert response.status == 404
    assert await error_code(response) == "MANIFEST_UNKNOWN"
    # Several Accept headers count together, parameters ignored.
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers=[
        ("Accept", mt.DOCKER_MANIFEST), ("Accept", f"{media_type}; q=0.9")])
    assert response.status == 200


async def test_docker_manifest_served_even_if_not_accepted(client, registry_model):
    data = await image(registry_model, NAME, mt.DOCKER_MANIFEST)
    await push(client, NAME, "v1", data, mt.DOCKER_MANIFEST)
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers={"Accept": mt.OCI_MANIFEST})
    assert response.status == 200
    assert response.headers["Content-Type"] == mt.DOCKER_MANIFEST


async def test_manifest_list_by_tag_falls_back_to_linux_amd64(client, registry_model):
    listing = await _index_of(registry_model, client, mt.DOCKER_MANIFEST_LIST)
    await push(client, NAME, "multi", listing, mt.DOCKER_MANIFEST_LIST)
    amd64 = json.loads(listing)["manifests"][0]["digest"]
    only_schema2 = {"Accept": mt.DOCKER_MANIFEST}

    response = await client.get(f"/v2/{NAME}/manifests/multi", headers=only_schema2)
    assert response.status == 200
    assert response.headers["Docker-Content-Digest"] == amd64
    assert response.headers["Content-Type"] == mt.DOCKER_MANIFEST
    # By digest the client asked for that very list: it gets it.
    response = await client.get(f"/v2/{NAME}/manifests/{Digest.of(listing)}",
                                headers=only_schema2)
    assert response.headers["Content-Type"] == mt.DOCKER_MANIFEST_LIST
    # Accepting neither lists nor schema 2: distribution's MANIFEST_INVALID.
    response = await client.get(f"/v2/{NAME}/manifests/multi",
                                headers={"Accept": "application/json"})
    assert response.status == 400
    assert await error_code(response) == "MANIFEST_INVALID"


async def test_manifest_list_without_linux_amd64(client, registry_model):
    data = await image(registry_model, NAME, mt.DOCKER_MANIFEST)
    await push(client, NAME, str(Digest.of(data)), data, mt.DOCKER_MANIFEST)
    listing = index([(data, mt.DOCKER_MANIFEST, ARM64)], mt.DOCKER_MANIFEST_LIST)
    await push(client, NAME, "arm", listing, mt.DOCKER_MANIFEST_LIST)
    response = await client.get(f"/v2/{NAME}/manifests/arm",
                                headers={"Accept": mt.DOCKER_MANIFEST})
    assert await error_code(response) == "MANIFEST_UNKNOWN"


async def test_if_none_match_answers_not_modified(client, registry_model):
    data = await image(registry_model, NAME)
    digest = (await push(client, NAME, "v1", data)).headers["Docker-Content-Digest"]
    response = await client.get(f"/v2/{NAME}/manifests/v1",
                                headers={"If-None-Match": f'"{digest}"'})
    assert response.status == 304
    assert response.headers["ETag"] == f'"{digest}"'


@pytest.mark.parametrize("missing", ["config", "layer"])
async def test_missing_blob_is_manifest_blob_unknown(client, registry_model, missing):
    config, layer = b'{"os": "linux"}', b"layer"
    await add_blob(registry_model, NAME, layer if missing == "config" else config)
    data = encode({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                   "config": descriptor(mt.OCI_CONFIG, config),
                   "layers": [descriptor(mt.OCI_LAYER_GZIP, layer)]})
    response = await push(client, NAME, "v1", data, expect=404)
    assert await error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    expected = config if missing == "config" else layer
    assert (await response.json())["errors"][0]["detail"]["digest"] == str(Digest.of(expected))


async def test_blob_of_another_repository_is_not_enough(client, registry_model):
    data = await image(registry_model, "other/repo")
    response = await push(client, NAME, "v1", data, expect=404)
    assert await error_code(response) == "MANIFEST_BLOB_UNKNOWN"


async def test_index_child_must_be_a_manifest_here(client, registry_model):
    child = await image(registry_model, NAME)  # blobs present, manifest never pushed
    response = await push(client, NAME, "v1", index([(child, mt.OCI_MANIFEST, AMD64)]),
                          mt.OCI_INDEX, expect=404)
    assert await error_code(response) == "MANIFEST_BLOB_UNKNOWN"


async def test_foreign_layers_need_not_be_present(client, registry_model):
    config = b'{"os": "windows"}'
    await add_blob(registry_model, NAME, config)
    foreign = descriptor(mt.DOCKER_FOREIGN_LAYER_GZIP, b"windows base",
                         urls=["https://example.invalid/layer"])
    data = encode({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                   "config": descriptor(mt.DOCKER_CONFIG, config), "layers": [foreign]})
    await push(client, NAME, "windows", data, mt.DOCKER_MANIFEST)


async def test_subject_need_not_exist(client, registry_model):
    subject = descriptor(mt.OCI_MANIFEST, b"never pushed")
    data = await image(registry_model, NAME, subject=subject, artifact_type="application/x-sig")
    response = await push(client, NAME, str(Digest.of(data)), data)
    assert response.headers["OCI-Subject"] == subject["digest"]


@pytest.mark.parametrize("body, content_type, why", [
    (b"not json", mt.OCI_MANIFEST, "JSON"),
    (b'{"schemaVersion": 1, "name": "x", "fsLayers": []}', "application/json", "schema 1"),
    (b"{}", "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
    (b'{"schemaVersion": 2, "mediaType": "%s", "manifests": []}' % mt.OCI_INDEX.encode(),
     mt.OCI_MANIFEST, "does not match"),
    (b'{"schemaVersion": 2, "config": {}, "layers": []}', mt.DOCKER_MANIFEST, "mediaType"),
    (b'{"schemaVersion": 2, "mediaType": "%s"}' % mt.OCI_MANIFEST.encode(),
     mt.OCI_MANIFEST, "config"),
])
async def test_invalid_manifest(client, body, content_type, why):
    response = await push(client, NAME, "v1", body, content_type, expect=400)
    error = (await response.json())["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert why in error["detail"]


async def test_oversized_manifest_is_refused(client):
    response = await push(client, NAME, "v1", b" " * (4 << 20) + b"{}", expect=413)
    assert await error_code(response) == "MANIFEST_INVALID"


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/v2/Bad/manifests/v1", 400, "NAME_INVALID"),
    ("PUT", f"/v2/{NAME}/manifests/.bad-tag", 400, "TAG_INVALID"),
    ("GET", f"/v2/{NAME}/manifests/.INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"),
    ("GET", f"/v2/{NAME}/manifests/sha256:short", 400, "DIGEST_INVALID"),
    ("PUT", f"/v2/{NAME}/manifests/sha256:totallywrong", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/{NAME}/manifests/md5:{'0' * 32}", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/{NAME}/manifests/nosuchtag", 404, "MANIFEST_UNKNOWN"),
    ("GET", f"/v2/{NAME}/manifests/{Digest.of(b'x')}", 404, "MANIFEST_UNKNOWN"),
    ("DELETE", f"/v2/{NAME}/manifests/nosuchtag", 404, "MANIFEST_UNKNOWN"),
    ("DELETE", f"/v2/{NAME}/manifests/{Digest.of(b'x')}", 404, "MANIFEST_UNKNOWN"),
])
async def test_error_codes(client, method, path, status, code):
    response = await client.request(method, path, data=b"{}")
    assert response.status == status
    assert await error_code(response) == code


async def test_head_of_unknown_manifest_is_bare_404(client):
    response = await client.head(f"/v2/{NAME}/manifests/nosuchtag")
    assert response.status == 404
    assert await response.read() == b""


async def test_repositories_do_not_share_manifests(client, registry_model):
    data = await image(registry_model, NAME)
    digest = str(Digest.of(data))
    await push(client, NAME, "v1", data)  # now in the cache too
    response = await client.get(f"/v2/other/manifests/{digest}")
    assert await error_code(response) == "MANIFEST_UNKNOWN"


async def test_delete_by_digest_removes_manifest_and_its_tags(client, registry_model):
    kept = await image(registry_model, NAME, seed="kept")
    doomed = await image(registry_model, NAME, seed="doomed")
    await push(client, NAME, "kept", kept)
    for tag in ("a", "b"):
        await push(client, NAME, tag, doomed)
    digest = str(Digest.of(doomed))

    response = await client.delete(f"/v2/{NAME}/manifests/{digest}")
    assert response.status == 202
    for reference in (digest, "a", "b"):
        response = await client.get(f"/v2/{NAME}/manifests/{reference}")
        assert response.status == 404  # even though its content is still cached
    tags = await (await client.get(f"/v2/{NAME}/tags/list")).json()
    assert tags["tags"] == ["kept"]
    assert (await client.delete(f"/v2/{NAME}/manifests/{digest}")).status == 404


async def test_delete_by_tag_removes_only_the_tag(client, registry_model):
    data = await image(registry_model, NAME)
    await push(client, NAME, "v1", data)
    await push(client, NAME, "v2", data)
    assert (await client.delete(f"/v2/{NAME}/manifests/v1")).status == 202
    assert (await client.get(f"/v2/{NAME}/manifests/v1")).status == 404
    assert (await client.get(f"/v2/{NAME}/manifests/v2")).status == 200
    assert (await client.get(f"/v2/{NAME}/manifests/{Digest.of(data)}")).status == 200


async def test_deletion_disabled(aiohttp_client, driver):
    client = await aiohttp_client(create_app(Registry(driver, delete_enabled=False)))
    for reference in ("v1", str(Digest.of(b"x"))):
        response = await client.delete(f"/v2/{NAME}/manifests/{reference}")
        assert response.status == 405
        assert await error_code(response) == "UNSUPPORTED"
