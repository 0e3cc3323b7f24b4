"""Content management workflow: delete a tag, a manifest and blobs, and see them gone.

Deleting by tag is what CNCF distribution refuses: the spec allows a registry to
refuse it (400 UNSUPPORTED, or 405), but one that accepts it answers 202.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .client import OCIClient
from .settings import Workflow
from .steps import expect_2xx, expect_status, put_manifest
from .testdata import TEST_TAG, Blob, ConformanceData

WORKFLOW = Workflow.CONTENT_MANAGEMENT


@dataclass
class ManagementState:
    tag_to_delete: str = ""
    tag_count: int = 0
    blob_delete_allowed: bool = True


@pytest.fixture(scope="module")
def state() -> ManagementState:
    return ManagementState()


async def tag_count(oci: OCIClient) -> int:
    response = await oci.request("GET", "/v2/<name>/tags/list")
    expect_status(response, 200)
    return len(response.json().get("tags") or [])


async def upload(oci: OCIClient, blob: Blob) -> None:
    """Set-up's push: only the final PUT's status is checked, as in the Go suite."""
    started = await oci.request("POST", "/v2/<name>/blobs/uploads/")
    expect_2xx(await oci.request("PUT", started.relative_location(),
                                 params={"digest": blob.digest},
                                 headers={"Content-Type": "application/octet-stream"},
                                 body=blob.content))


class TestSetup:
    async def test_populate_registry_with_test_config_blob(self, oci: OCIClient,
                                                           data: ConformanceData) -> None:
        await upload(oci, data.configs[3])

    async def test_populate_registry_with_test_layer(self, oci: OCIClient,
                                                     data: ConformanceData) -> None:
        await upload(oci, data.layer)

    async def test_populate_registry_with_test_tag(self, oci: OCIClient, data: ConformanceData,
                                                   state: ManagementState) -> None:
        state.tag_to_delete = TEST_TAG
        expect_2xx(await put_manifest(oci, state.tag_to_delete, data.manifests[3]))

    async def test_count_tags_before_anything_is_deleted(self, oci: OCIClient,
                                                         state: ManagementState) -> None:
        state.tag_count = await tag_count(oci)


class TestManifestDelete:
    async def test_delete_tag_is_202_unless_tag_deletion_is_disallowed(
            self, oci: OCIClient, state: ManagementState) -> None:
        response = await oci.request("DELETE", "/v2/<name>/manifests/<reference>",
                                     reference=state.tag_to_delete)
        expect_status(response, 202, 400, 405)
        if response.status == 400:
            assert response.error_codes()[:1] == ["UNSUPPORTED"]

    async def test_delete_manifest_by_digest_is_202_unless_already_deleted(
            self, oci: OCIClient, data: ConformanceData) -> None:
        response = await oci.request("DELETE", "/v2/<name>/manifests/<reference>",
                                     reference=data.manifests[3].digest)
        expect_status(response, 202, 404)

    async def test_get_deleted_manifest_is_404_unless_delete_is_disallowed(
            self, oci: OCIClient, data: ConformanceData) -> None:
        response = await oci.request("GET", "/v2/<name>/manifests/<reference>",
                                     reference=data.manifests[3].digest)
        expect_status(response, 404, 200)

    async def test_tags_list_reflects_manifest_deletion(self, oci: OCIClient,
                                                        state: ManagementState) -> None:
        assert await tag_count(oci) < state.tag_count


class TestBlobDelete:
    async def test_delete_blob_is_202(self, oci: OCIClient, data: ConformanceData,
                                      state: ManagementState) -> None:
        for blob in (data.configs[3], data.layer):
            response = await oci.request("DELETE", "/v2/<name>/blobs/<digest>",
                                         digest=blob.digest)
            expect_status(response, 202, 404, 405)
        state.blob_delete_allowed = response.status != 405

    async def test_get_deleted_blob_is_404(self, oci: OCIClient, data: ConformanceData,
                                           state: ManagementState) -> None:
        if not state.blob_delete_allowed:
            pytest.skip("the registry does not delete blobs (405)")
        response = await oci.request("GET", "/v2/<name>/blobs/<digest>",
                                     digest=data.configs[3].digest)
        expect_status(response, 404)
