"""Steps several workflows share: push a blob or a manifest, clean up what was pushed.

These are the Go suite's ``pushBlob``/``pushManifest``/``deleteManifests``/
``deleteBlobs`` with the same expectations, so that set-up and tear-down fail the
same way there and here. Each records what it created in a :class:`Created`, and
tear-down deletes it newest first: a manifest pushed by tag is recorded as the
tag and then its digest, so the manifest goes first and takes the tag with it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from .client import OCIClient, Response
from .testdata import Blob


class ConformanceWarning(UserWarning):
    """What the Go suite prints as a WARNING: allowed, but worth knowing about."""


def warn(message: str) -> None:
    warnings.warn(message, ConformanceWarning, stacklevel=2)


def is_2xx(status: int) -> bool:
    return 200 <= status < 300


def describe(response: Response) -> str:
    """Status and the start of the body, for assertion messages that say what the registry said."""
    return f"HTTP {response.status}: {response.body[:300]!r}"


def expect_status(response: Response, *allowed: int) -> None:
    assert response.status in allowed, f"expected one of {allowed}, got {describe(response)}"


def expect_2xx(response: Response, *also: int) -> None:
    assert is_2xx(response.status) or response.status in also, \
        f"expected 2xx{' or ' + str(also) if also else ''}, got {describe(response)}"


@dataclass
class Created:
    """References to what a workflow pushed, in push order, for its tear-down."""

    blobs: list[tuple[str, str]] = field(default_factory=list)  # (repository or "", digest)
    manifests: list[str] = field(default_factory=list)  # tags and digests


async def start_upload(oci: OCIClient, *, name: str | None = None) -> Response:
    """POST a new upload session (the first step of every push)."""
    return await oci.request("POST", "/v2/<name>/blobs/uploads/", name=name)


async def push_blob(oci: OCIClient, blob: Blob, created: Created) -> None:
    """POST a session, then PUT ``?digest=`` with the whole blob: 202/201, then 201."""
    started = await start_upload(oci)
    expect_status(started, 202, 201)
    finished = await oci.request("PUT", started.relative_location(),
                                 params={"digest": blob.digest},
                                 headers={"Content-Type": "application/octet-stream"},
                                 body=blob.content)
    expect_status(finished, 201)
    created.blobs.append(("", blob.digest))


async def put_manifest(oci: OCIClient, reference: str, blob: Blob) -> Response:
    return await oci.request("PUT", "/v2/<name>/manifests/<reference>", reference=reference,
                             headers={"Content-Type": blob.media_type}, body=blob.content)


async def push_manifest(oci: OCIClient, blob: Blob, created: Created, *, tag: str | None = None,
                        subject: str | None = None) -> Response:
    """PUT a manifest by tag (or digest): 201 with a Location, and OCI-Subject if it has one.

    OCI-Subject may be absent (a registry without the referrers API), but when it
    is there it must name the subject.
    """
    response = await put_manifest(oci, tag or blob.digest, blob)
    expect_status(response, 201)
    assert response.header("Location"), "no Location on a created manifest"
    assert response.header("OCI-Subject") in {subject or "", ""}, \
        f"OCI-Subject {response.header('OCI-Subject')!r}, expected {subject!r}"
    created.manifests.append(tag or blob.digest)
    if tag:
        created.manifests.append(blob.digest)
    return response


async def delete_manifests(oci: OCIClient, created: Created) -> None:
    """Newest first: each reference that still resolves is deleted and then must be gone."""
    while created.manifests:
        reference = created.manifests.pop()
        found = await oci.request("GET", "/v2/<name>/manifests/<reference>", reference=reference)
        if found.status != 200:
            continue
        deleted = await oci.request("DELETE", "/v2/<name>/manifests/<reference>",
                                    reference=reference)
        expect_status(deleted, 202, 405, 404)
        gone = await oci.request("GET", "/v2/<name>/manifests/<reference>", reference=reference)
        expect_status(gone, 404)


async def delete_blobs(oci: OCIClient, created: Created) -> None:
    """Newest first; a registry may refuse blob deletion (405) or already have dropped it."""
    while created.blobs:
        name, digest = created.blobs.pop()
        deleted = await oci.request("DELETE", "/v2/<name>/blobs/<digest>", name=name or None,
                                    digest=digest)
        expect_status(deleted, 202, 404, 400, 405)


async def tear_down(oci: OCIClient, created: Created, *, manifests_first: bool) -> None:
    """Delete what a workflow created, in the configured order; both halves are always tried."""
    steps = [delete_manifests, delete_blobs]
    if not manifests_first:
        steps.reverse()
    failures: list[AssertionError] = []
    for step in steps:
        try:
            await step(oci, created)
        except AssertionError as err:
            failures.append(err)
    if failures:
        raise failures[0]
