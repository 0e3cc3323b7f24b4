"""Content discovery workflow: tag listing (order, ``n``, ``last``) and the referrers API.

Set-up pushes eight tags differing in case, an image (manifests[4]) with four
artifacts and an artifact index referring to it, and one artifact whose subject
(manifests[3]) is never pushed. The referrers answers must list exactly those,
with their annotations, filtered by ``artifactType`` when the registry says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ocispec import mediatypes

from .client import OCIClient, Response
from .settings import Settings, Workflow
from .steps import Created, expect_status, push_blob, push_manifest, tear_down, warn
from .testdata import (ANNOTATION_KEY, ARTIFACT_TYPE_A, ARTIFACT_TYPE_FILTER, EMPTY_JSON_DIGEST,
                       TEST_TAG, ConformanceData)

WORKFLOW = Workflow.CONTENT_DISCOVERY
TAGS = [f"{prefix}{i}" for i in range(4) for prefix in ("test", "TEST")]


@dataclass
class DiscoveryState:
    tags: list[str] = field(default_factory=list)
    created: Created = field(default_factory=Created)


@pytest.fixture(scope="module")
def state() -> DiscoveryState:
    return DiscoveryState()


async def list_tags(oci: OCIClient, **params: str) -> Response:
    return await oci.request("GET", "/v2/<name>/tags/list", params=params)


async def referrers(oci: OCIClient, digest: str, **params: str
                    ) -> tuple[list[dict], Response]:
    """The referrers index of ``digest``: 200 and exactly the OCI index media type."""
    response = await oci.request("GET", "/v2/<name>/referrers/<digest>", digest=digest,
                                 params=params)
    expect_status(response, 200)
    assert response.header("Content-Type") == mediatypes.OCI_INDEX
    return response.json()["manifests"], response


def expect_annotations(data: ConformanceData, manifests: list[dict]) -> None:
    """Each referrer carries its manifest's one annotation, copied into the descriptor."""
    for descriptor in manifests:
        annotations = descriptor.get("annotations") or {}
        assert len(annotations) == 1, descriptor
        assert annotations[ANNOTATION_KEY] == data.annotation_values.get(descriptor["digest"])


@pytest.mark.usefixtures("pushes_own_content")
class TestSetup:
    async def test_populate_registry_with_test_blob(self, oci: OCIClient, data: ConformanceData,
                                                    state: DiscoveryState) -> None:
        await push_blob(oci, data.configs[2], state.created)

    async def test_populate_registry_with_test_layer(self, oci: OCIClient, data: ConformanceData,
                                                     state: DiscoveryState) -> None:
        await push_blob(oci, data.layer, state.created)

    async def test_populate_registry_with_test_tags(self, oci: OCIClient, data: ConformanceData,
                                                    state: DiscoveryState) -> None:
        for tag in TAGS:
            await push_manifest(oci, data.manifests[2], state.created, tag=tag)
        state.tags = (await list_tags(oci)).tags()

    async def test_references_setup(self, oci: OCIClient, data: ConformanceData,
                                    state: DiscoveryState) -> None:
        """Some referrers before their subject is pushed, some after, one with no subject at all."""
        assert data.empty_json.digest == EMPTY_JSON_DIGEST
        subject = data.manifests[4].digest
        for blob in (data.empty_json, data.ref_blob_a):
            await push_blob(oci, blob, state.created)
        for artifact in (data.refs_a_config, data.refs_a_layer, data.refs_index):
            await push_manifest(oci, artifact, state.created, subject=subject)
        for blob in (data.configs[4], data.layer):
            await push_blob(oci, blob, state.created)
        await push_manifest(oci, data.manifests[4], state.created, tag=TEST_TAG)
        await push_blob(oci, data.ref_blob_b, state.created)
        for artifact in (data.refs_b_config, data.refs_b_layer):
            await push_manifest(oci, artifact, state.created, subject=subject)
        await push_manifest(oci, data.refs_c_layer, state.created,
                            subject=data.manifests[3].digest)


def test_populate_registry_with_test_tags_no_push(settings: Settings,
                                                  state: DiscoveryState) -> None:
    if settings.runs_setup(WORKFLOW):
        pytest.skip("set-up pushed the tags")
    state.tags = list(settings.tag_list or [])


class TestListingTags:
    async def test_list_tags_is_200_in_sorted_order(self, oci: OCIClient,
                                                    state: DiscoveryState) -> None:
        """Lexical (case-insensitive) order, or plain byte order as registries have long done."""
        response = await list_tags(oci)
        expect_status(response, 200)
        state.tags = response.tags()
        assert state.tags in (sorted(state.tags, key=str.lower), sorted(state.tags))

    async def test_number_of_tags_is_limited_by_n(self, oci: OCIClient,
                                                  state: DiscoveryState) -> None:
        wanted = len(state.tags) // 2
        response = await list_tags(oci, n=str(wanted))
        expect_status(response, 200)
        assert len(response.tags()) == wanted

    async def test_start_of_tag_list_is_set_by_last(self, oci: OCIClient,
                                                    state: DiscoveryState) -> None:
        wanted = len(state.tags) // 2
        first_page = await list_tags(oci, n=str(wanted))
        expect_status(first_page, 200)
        last = first_page.tags()[wanted - 1]
        next_page = await list_tags(oci, n=str(wanted), last=last)
        expect_status(next_page, 200)
        assert len(next_page.tags()) <= wanted
        assert last not in next_page.tags()


class TestListingReferrers:
    async def test_referrers_of_nonexistent_digest_is_empty_200(
            self, oci: OCIClient, data: ConformanceData) -> None:
        manifests, _ = await referrers(oci, data.dummy_digest)
        assert manifests == []

    async def test_referrers_of_existing_manifest_is_200(self, oci: OCIClient,
                                                         data: ConformanceData) -> None:
        manifests, _ = await referrers(oci, data.manifests[4].digest)
        assert len(manifests) == 5, [m["digest"] for m in manifests]
        assert manifests[0]["digest"] != manifests[1]["digest"]
        expect_annotations(data, manifests)

    async def test_referrers_with_artifact_type_filter_is_200(self, oci: OCIClient,
                                                              data: ConformanceData) -> None:
        """Filtering is optional; a registry that filtered must say so in OCI-Filters-Applied."""
        manifests, response = await referrers(oci, data.manifests[4].digest,
                                              artifactType=ARTIFACT_TYPE_A)
        if response.header("OCI-Filters-Applied"):
            assert len(manifests) == 2, [m["digest"] for m in manifests]
            assert response.header("OCI-Filters-Applied") == ARTIFACT_TYPE_FILTER
        else:
            assert len(manifests) == 5, [m["digest"] for m in manifests]
            warn("filtering by artifact-type is not implemented")
        expect_annotations(data, manifests)

    async def test_referrers_of_missing_manifest_is_200(self, oci: OCIClient,
                                                        data: ConformanceData) -> None:
        """A subject need not exist for its referrers to be listed."""
        manifests, _ = await referrers(oci, data.manifests[3].digest)
        assert [m["digest"] for m in manifests] == [data.refs_c_layer.digest]


@pytest.mark.usefixtures("pushes_own_content")
class TestTeardown:
    async def test_delete_manifests_and_blobs_created_in_tests(
            self, oci: OCIClient, settings: Settings, state: DiscoveryState) -> None:
        await tear_down(oci, state.created,
                        manifests_first=settings.delete_manifest_before_blobs)
