"""Push workflow: streamed, monolithic and chunked blob uploads, cross-repository mounts, manifests.

The chunked-upload tests are the ones CNCF distribution fails: a chunk that does
not start where the upload ends (out of order, or a retried chunk) must be
refused with 416, and a GET on the upload URL from before the last chunk (stale)
must still report the upload's progress with 204, Location and Range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .client import OCIClient, Response
from .settings import Settings, Workflow
from .steps import Created, expect_status, put_manifest, start_upload, tear_down, warn
from .testdata import EMPTY_LAYER_TAG, NONEXISTENT_MANIFEST, Blob, ConformanceData

WORKFLOW = Workflow.PUSH
OCTET_STREAM = {"Content-Type": "application/octet-stream"}
PUSH_TAGS = [f"test{i}" for i in range(4)]


@dataclass
class PushState:
    last: Response | None = None
    session: Response | None = None  # the POST whose upload URL goes stale in the chunked tests
    created: Created = field(default_factory=Created)

    def last_response(self) -> Response:
        assert self.last is not None, "the previous step did not get a response"
        return self.last


@pytest.fixture(scope="module")
def state() -> PushState:
    return PushState()


async def put_blob(oci: OCIClient, location: str, blob: Blob, *, body: bool = True) -> Response:
    """Finish an upload at ``location`` with ``?digest=``, sending the blob (or nothing) as body."""
    return await oci.request("PUT", location, params={"digest": blob.digest},
                             headers=OCTET_STREAM, body=blob.content if body else None)


async def patch_chunk(oci: OCIClient, location: str, chunk: bytes, content_range: str
                      ) -> Response:
    return await oci.request("PATCH", location, body=chunk,
                             headers={**OCTET_STREAM, "Content-Range": content_range})


async def get_blob(oci: OCIClient, blob: Blob) -> Response:
    return await oci.request("GET", "/v2/<name>/blobs/<digest>", digest=blob.digest)


def expect_created_at(response: Response) -> None:
    expect_status(response, 201)
    assert response.header("Location"), "no Location on 201"


class TestBlobUploadStreamed:
    async def test_patch_with_blob_in_body_is_202(self, oci: OCIClient, data: ConformanceData,
                                                  state: PushState) -> None:
        started = await start_upload(oci)
        assert started.header("Location"), f"no upload Location: HTTP {started.status}"
        state.last = await oci.request("PATCH", started.relative_location(),
                                       headers=OCTET_STREAM, body=data.blob_a.content)
        expect_status(state.last, 202)

    async def test_put_to_session_url_with_digest_is_201(
            self, oci: OCIClient, data: ConformanceData, state: PushState) -> None:
        response = await put_blob(oci, state.last_response().relative_location(), data.blob_a,
                                  body=False)
        expect_created_at(response)
        state.created.blobs.append(("", data.blob_a.digest))


class TestBlobUploadMonolithic:
    async def test_get_nonexistent_blob_is_404(self, oci: OCIClient,
                                              data: ConformanceData) -> None:
        response = await oci.request("GET", "/v2/<name>/blobs/<digest>", digest=data.dummy_digest)
        expect_status(response, 404)

    async def test_post_with_digest_and_blob_is_201_or_202(
            self, oci: OCIClient, data: ConformanceData, state: PushState) -> None:
        config = data.configs[1]
        state.last = await oci.request("POST", "/v2/<name>/blobs/uploads/",
                                       params={"digest": config.digest}, headers=OCTET_STREAM,
                                       body=config.content)
        assert state.last.header("Location"), f"no Location: HTTP {state.last.status}"
        expect_status(state.last, 201, 202)
        state.created.blobs.append(("", config.digest))

    async def test_get_blob_from_prior_request_is_200_or_404_by_its_status(
            self, oci: OCIClient, data: ConformanceData, state: PushState) -> None:
        """A monolithic POST answered 202 only opened a session: the blob must not exist yet."""
        response = await get_blob(oci, data.configs[1])
        expect_status(response, 404 if state.last_response().status == 202 else 200)

    async def test_post_yields_a_session_id(self, oci: OCIClient, state: PushState) -> None:
        state.last = await start_upload(oci)
        expect_status(state.last, 202)

    async def test_put_upload_of_a_blob_is_201(self, oci: OCIClient, data: ConformanceData,
                                               state: PushState) -> None:
        response = await put_blob(oci, state.last_response().relative_location(),
                                  data.configs[1])
        expect_created_at(response)

    async def test_get_existing_blob_is_200(self, oci: OCIClient, data: ConformanceData) -> None:
        expect_status(await get_blob(oci, data.configs[1]), 200)

    async def test_put_upload_of_a_layer_blob_is_201(self, oci: OCIClient, data: ConformanceData,
                                                     state: PushState) -> None:
        started = await start_upload(oci)
        expect_created_at(await put_blob(oci, started.relative_location(), data.layer))
        state.created.blobs.append(("", data.layer.digest))

    async def test_get_existing_layer_is_200(self, oci: OCIClient, data: ConformanceData) -> None:
        expect_status(await get_blob(oci, data.layer), 200)


class TestBlobUploadChunked:
    async def test_out_of_order_chunk_is_416(self, oci: OCIClient,
                                             data: ConformanceData) -> None:
        """The second chunk first: its Content-Range does not start at 0, where the upload is."""
        started = await start_upload(oci)
        assert started.header("Location"), f"no upload Location: HTTP {started.status}"
        min_length = started.header("OCI-Chunk-Min-Length")
        if min_length and int(min_length) > len(data.chunked.chunk1):
            data.rebuild_chunked_blob(int(min_length) * 2 - 2)
        response = await patch_chunk(oci, started.relative_location(), data.chunked.chunk2,
                                     data.chunked.chunk2_range)
        expect_status(response, 416)

    async def test_patch_with_first_chunk_is_202(self, oci: OCIClient, data: ConformanceData,
                                                 state: PushState) -> None:
        state.session = await start_upload(oci)
        assert state.session.header("Location"), f"no Location: HTTP {state.session.status}"
        state.last = await patch_chunk(oci, state.session.relative_location(),
                                       data.chunked.chunk1, data.chunked.chunk1_range)
        expect_status(state.last, 202)
        assert state.last.header("Range") == data.chunked.chunk1_range

    async def test_retry_of_previous_chunk_is_416(self, oci: OCIClient, data: ConformanceData,
                                                  state: PushState) -> None:
        """The first chunk again, at the session's first URL: the upload is already past it."""
        assert state.session is not None, "no upload session"
        response = await patch_chunk(oci, state.session.relative_location(),
                                     data.chunked.chunk1, data.chunked.chunk1_range)
        expect_status(response, 416)

    async def test_get_on_stale_upload_is_204_with_range_and_location(
            self, oci: OCIClient, data: ConformanceData, state: PushState) -> None:
        assert state.session is not None, "no upload session"
        state.last = await oci.request("GET", state.session.relative_location())
        expect_status(state.last, 204)
        assert state.last.header("Location"), "no Location on upload status"
        assert state.last.header("Range") == data.chunked.chunk1_range

    async def test_patch_with_second_chunk_is_202(self, oci: OCIClient, data: ConformanceData,
                                                  state: PushState) -> None:
        state.last = await patch_chunk(oci, state.last_response().relative_location(),
                                       data.chunked.chunk2, data.chunked.chunk2_range)
        expect_status(state.last, 202)
        assert state.last.header("Location"), "no Location after a chunk"
        assert state.last.header("Range") == f"0-{len(data.chunked.blob.content) - 1}"

    async def test_put_with_digest_is_201(self, oci: OCIClient, data: ConformanceData,
                                          state: PushState) -> None:
        response = await put_blob(oci, state.last_response().relative_location(),
                                  data.chunked.blob, body=False)
        expect_created_at(response)
        state.created.blobs.append(("", data.chunked.blob.digest))


class TestCrossRepositoryBlobMount:
    async def test_mount_without_from_yields_a_session(self, oci: OCIClient,
                                                       data: ConformanceData,
                                                       settings: Settings) -> None:
        response = await oci.request("POST", "/v2/<name>/blobs/uploads/",
                                     name=settings.crossmount_namespace,
                                     params={"mount": data.dummy_digest})
        expect_status(response, 202)
        assert response.absolute_location()

    async def test_mount_of_another_repositorys_blob_is_201_or_202(
            self, oci: OCIClient, data: ConformanceData, settings: Settings,
            state: PushState) -> None:
        state.last = await oci.request("POST", "/v2/<name>/blobs/uploads/",
                                       name=settings.crossmount_namespace,
                                       params={"mount": data.blob_a.digest,
                                               "from": settings.namespace})
        expect_status(state.last, 201, 202)
        if state.last.status == 201:
            state.created.blobs.append((settings.crossmount_namespace, data.blob_a.digest))

    async def test_mounted_blob_is_in_the_cross_mount_namespace(
            self, oci: OCIClient, data: ConformanceData, settings: Settings,
            state: PushState) -> None:
        if state.last_response().status != 201:
            pytest.skip("the registry opened an upload session instead of mounting")
        location = state.last_response().relative_location()
        assert location == f"/v2/{settings.crossmount_namespace}/blobs/{data.blob_a.digest}"
        expect_status(await oci.request("GET", location), 200)

    async def test_failed_mount_yields_a_session(self, settings: Settings,
                                                 state: PushState) -> None:
        if state.last_response().status != 202:
            pytest.skip("the registry mounted the blob")
        assert state.last_response().relative_location().startswith(
            f"/v2/{settings.crossmount_namespace}/blobs/uploads/")

    @pytest.mark.parametrize("enabled", [True, False], ids=["enabled-201", "disabled-202"])
    async def test_mount_without_from_under_automatic_content_discovery(
            self, oci: OCIClient, data: ConformanceData, settings: Settings, state: PushState,
            enabled: bool) -> None:
        """OCI_AUTOMATIC_CROSSMOUNT says whether the registry finds a mount's source by itself."""
        if settings.automatic_crossmount is not enabled:
            pytest.skip("OCI_AUTOMATIC_CROSSMOUNT does not select this case")
        if state.last_response().status != 201:
            pytest.skip("the explicit mount was not performed")
        response = await oci.request("POST", "/v2/<name>/blobs/uploads/",
                                     name=settings.crossmount_namespace,
                                     params={"mount": data.blob_a.digest})
        expect_status(response, 201 if enabled else 202)


class TestManifestUpload:
    async def test_get_nonexistent_manifest_is_404(self, oci: OCIClient) -> None:
        response = await oci.request("GET", "/v2/<name>/manifests/<reference>",
                                     reference=NONEXISTENT_MANIFEST)
        expect_status(response, 404)

    async def test_put_accepts_a_manifest_upload(self, oci: OCIClient, data: ConformanceData,
                                                 state: PushState) -> None:
        for tag in PUSH_TAGS:
            expect_created_at(await put_manifest(oci, tag, data.manifests[1]))
            state.created.manifests.append(tag)
        state.created.manifests.append(data.manifests[1].digest)

    async def test_manifest_with_no_layers_is_accepted(self, oci: OCIClient,
                                                       data: ConformanceData,
                                                       state: PushState) -> None:
        """Allowed to be refused (the Go suite only warns), but must then not be half-stored."""
        response = await put_manifest(oci, EMPTY_LAYER_TAG, data.empty_layer_manifest)
        if response.status != 201:
            warn("image manifest with no layers is not supported")
            return
        assert response.header("Location"), "no Location on 201"
        state.created.manifests += [EMPTY_LAYER_TAG, data.empty_layer_manifest.digest]

    async def test_get_manifest_by_digest_is_200(self, oci: OCIClient,
                                                 data: ConformanceData) -> None:
        response = await oci.request("GET", "/v2/<name>/manifests/<reference>",
                                     reference=data.manifests[1].digest,
                                     headers={"Accept": data.manifests[1].media_type})
        expect_status(response, 200)


class TestTeardown:
    async def test_delete_manifests_and_blobs_created_in_tests(
            self, oci: OCIClient, settings: Settings, state: PushState) -> None:
        await tear_down(oci, state.created,
                        manifests_first=settings.delete_manifest_before_blobs)
