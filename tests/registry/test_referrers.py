"""The referrers API: an index of the manifests whose subject is a digest."""

from __future__ import annotations

import pytest

from ocispec import mediatypes as mt
from ocispec.digest import Digest

from .images import descriptor, error_code, image, index, push

NAME = "signed/app"
SIGNATURE = "application/vnd.example.signature"
SBOM = "application/vnd.example.sbom"


@pytest.fixture
async def subject(client, registry_model) -> dict:
    data = await image(registry_model, NAME, seed="subject")
    await push(client, NAME, "v1", data)
    return descriptor(mt.OCI_MANIFEST, data)


async def _refer(client, registry_model, subject, seed, **kwargs) -> str:
    data = await image(registry_model, NAME, seed=seed, subject=subject, **kwargs)
    digest = str(Digest.of(data))
    response = await push(client, NAME, digest, data)
    assert response.headers["OCI-Subject"] == subject["digest"]
    return digest


async def _referrers(client, digest, query=""):
    response = await client.get(f"/v2/{NAME}/referrers/{digest}{query}")
    assert response.status == 200
    assert response.headers["Content-Type"] == mt.OCI_INDEX
    body = await response.json()
    assert body["schemaVersion"] == 2 and body["mediaType"] == mt.OCI_INDEX
    return body["manifests"], response.headers.get("OCI-Filters-Applied")


async def test_lists_referrer_descriptors(client, registry_model, subject):
    signature = await _refer(client, registry_model, subject, "sig", artifact_type=SIGNATURE,
                             config_type=mt.OCI_EMPTY, annotations={"who": "me"})
    # Without artifactType the config's media type stands for it.
    sbom = await _refer(client, registry_model, subject, "sbom", config_type=SBOM)
    manifests, filters = await _referrers(client, subject["digest"])
    assert filters is None
    by_digest = {m["digest"]: m for m in manifests}
    assert set(by_digest) == {signature, sbom}
    assert by_digest[signature]["artifactType"] == SIGNATURE
    assert by_digest[signature]["annotations"] == {"who": "me"}
    assert by_digest[signature]["mediaType"] == mt.OCI_MANIFEST
    assert by_digest[sbom]["artifactType"] == SBOM
    response = await client.get(f"/v2/{NAME}/manifests/{sbom}")
    assert by_digest[sbom]["size"] == len(await response.read())


async def test_artifact_type_filter(client, registry_model, subject):
    signature = await _refer(client, registry_model, subject, "sig", artifact_type=SIGNATURE)
    await _refer(client, registry_model, subject, "sbom", artifact_type=SBOM)
    manifests, filters = await _referrers(client, subject["digest"],
                                          f"?artifactType={SIGNATURE}")
    assert filters == "artifactType"
    assert [m["digest"] for m in manifests] == [signature]


async def test_index_can_refer(client, registry_model, subject):
    child = await image(registry_model, NAME, seed="child")
    await push(client, NAME, str(Digest.of(child)), child)
    data = index([(child, mt.OCI_MANIFEST, {"os": "linux", "architecture": "amd64"})],
                 subject=subject, artifactType=SBOM)
    response = await push(client, NAME, str(Digest.of(data)), data, mt.OCI_INDEX)
    assert response.headers["OCI-Subject"] == subject["digest"]
    manifests, _ = await _referrers(client, subject["digest"])
    assert manifests == [descriptor(mt.OCI_INDEX, data, artifactType=SBOM)]


async def test_subject_absent(client, registry_model):
    assert await _referrers(client, Digest.of(b"nothing")) == ([], None)
    missing = descriptor(mt.OCI_MANIFEST, b"never pushed")
    referrer = await _refer(client, registry_model, missing, "early", artifact_type=SIGNATURE)
    manifests, _ = await _referrers(client, missing["digest"])
    assert [m["digest"] for m in manifests] == [referrer]


async def test_deleted_referrer_disappears(client, registry_model, subject):
    referrer = await _refer(client, registry_model, subject, "sig", artifact_type=SIGNATURE)
    assert (await client.delete(f"/v2/{NAME}/manifests/{referrer}")).status == 202
    assert await _referrers(client, subject["digest"]) == ([], None)


async def test_invalid_digest(client):
    response = await client.get(f"/v2/{NAME}/referrers/sha256:nothex")
    assert response.status == 400
    assert await error_code(response) == "DIGEST_INVALID"
