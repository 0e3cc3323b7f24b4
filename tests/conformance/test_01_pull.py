"""Pull workflow: fetch blobs and manifests (by tag and by digest) that set-up pushed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ocispec import mediatypes

from .client import OCIClient
from .settings import Settings, Workflow
from .steps import Created, expect_status, push_blob, push_manifest, tear_down
from .testdata import ERROR_CODES, INVALID_MANIFEST, NONEXISTENT_MANIFEST, TEST_TAG, ConformanceData

WORKFLOW = Workflow.PULL
ACCEPT_MANIFEST = {"Accept": mediatypes.OCI_MANIFEST}


@dataclass
class PullState:
    tag: str = ""
    created: Created = field(default_factory=Created)


@pytest.fixture(scope="module")
def state() -> PullState:
    return PullState()


@pytest.mark.usefixtures("pushes_own_content")
class TestSetup:
    @pytest.mark.parametrize("index", [0, 1])
    async def test_populate_registry_with_test_blob(self, oci: OCIClient, data: ConformanceData,
                                                    state: PullState, index: int) -> None:
        await push_blob(oci, data.configs[index], state.created)

    async def test_populate_registry_with_test_layer(self, oci: OCIClient, data: ConformanceData,
                                                     state: PullState) -> None:
        await push_blob(oci, data.layer, state.created)

    async def test_populate_registry_with_test_manifest_by_tag(
            self, oci: OCIClient, data: ConformanceData, state: PullState) -> None:
        state.tag = TEST_TAG
        await push_manifest(oci, data.manifests[0], state.created, tag=state.tag)

    async def test_populate_registry_with_test_manifest_by_digest(
            self, oci: OCIClient, data: ConformanceData, state: PullState) -> None:
        await push_manifest(oci, data.manifests[1], state.created)


def test_get_tag_name_from_environment(settings: Settings, state: PullState) -> None:
    """Without set-up, the tag to pull is the registry's own, named by OCI_TAG_NAME."""
    if settings.runs_setup(WORKFLOW):
        pytest.skip("set-up pushed the content")
    state.tag = settings.tag_name or state.tag


BOTH_METHODS = pytest.mark.parametrize("method", ["HEAD", "GET"])


class TestPullBlobs:
    @BOTH_METHODS
    async def test_nonexistent_blob_is_404(self, oci: OCIClient, data: ConformanceData,
                                           method: str) -> None:
        response = await oci.request(method, "/v2/<name>/blobs/<digest>", digest=data.dummy_digest)
        expect_status(response, 404)

    @BOTH_METHODS
    async def test_existing_blob_is_200(self, oci: OCIClient, data: ConformanceData,
                                        method: str) -> None:
        config = data.configs[0]
        response = await oci.request(method, "/v2/<name>/blobs/<digest>", digest=config.digest)
        expect_status(response, 200)
        assert response.header("Docker-Content-Digest") in {"", config.digest}


async def pull_manifest(oci: OCIClient, method: str, reference: str, digest: str) -> None:
    """HEAD or GET a manifest asking for OCI: 200, and the right Docker-Content-Digest if any."""
    response = await oci.request(method, "/v2/<name>/manifests/<reference>",
                                 reference=reference, headers=ACCEPT_MANIFEST)
    expect_status(response, 200)
    assert response.header("Docker-Content-Digest") in {"", digest}


class TestPullManifests:
    @BOTH_METHODS
    async def test_nonexistent_manifest_is_404(self, oci: OCIClient, method: str) -> None:
        response = await oci.request(method, "/v2/<name>/manifests/<reference>",
                                     reference=NONEXISTENT_MANIFEST)
        expect_status(response, 404)

    @BOTH_METHODS
    @pytest.mark.parametrize("index", [0, 1])
    async def test_manifest_by_digest_is_200(self, oci: OCIClient, data: ConformanceData,
                                             method: str, index: int) -> None:
        digest = data.manifests[index].digest
        await pull_manifest(oci, method, digest, digest)

    @BOTH_METHODS
    async def test_manifest_by_tag_is_200(self, oci: OCIClient, data: ConformanceData,
                                          state: PullState, method: str) -> None:
        assert state.tag, "no tag to pull"
        await pull_manifest(oci, method, state.tag, data.manifests[0].digest)


class TestErrorCodes:
    async def test_400_body_is_oci_error_json(self, oci: OCIClient) -> None:
        """A malformed digest as reference: 404, or 400 with a spec error code in the body."""
        response = await oci.request("GET", "/v2/<name>/manifests/<reference>",
                                     reference="sha256:totallywrong",
                                     headers={"Content-Type": mediatypes.OCI_MANIFEST},
                                     body=INVALID_MANIFEST)
        expect_status(response, 400, 404)
        if response.status == 400:
            codes = response.error_codes()
            assert codes and codes[0] in ERROR_CODES, codes


@pytest.mark.usefixtures("pushes_own_content")
class TestTeardown:
    async def test_delete_manifests_and_blobs_created_in_setup(
            self, oci: OCIClient, settings: Settings, state: PullState) -> None:
        await tear_down(oci, state.created,
                        manifests_first=settings.delete_manifest_before_blobs)
