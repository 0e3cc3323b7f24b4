"""``HEAD``/``GET``/``PUT``/``DELETE /v2/<name>/manifests/<reference>`` (a tag or a digest).

``GET`` is the request a registry answers most, so its path is kept short:
one storage read (the tag, or the revision link), the content from the
model's cache, and no JSON parsing unless ``Accept`` rules out the stored type.
"""

from __future__ import annotations

import functools

from aiohttp import web

from ocispec import mediatypes as mt
from ocispec.digest import Digest, is_digest
from ocispec.manifest import parse_manifest
from ocispec.names import is_valid_tag

from .. import errors
from ..model import Repository
from ..model.manifests import Reference, StoredManifest
from .common import NAME, parse_digest, repository_of, require_delete_enabled

routes = web.RouteTableDef()

PATH = f"{NAME}/manifests/{{reference}}"

# distribution's limit; the spec asks registries to accept manifests of at least 4 MB.
MAX_MANIFEST_SIZE = 4 << 20

# What distribution serves a client that accepts no manifest list, in place of the list.
DEFAULT_PLATFORM = {"os": "linux", "architecture": "amd64"}


class ManifestTooLarge(errors.ManifestInvalid):
    status = 413
    message = f"manifest larger than {MAX_MANIFEST_SIZE} bytes"


def _reference(request: web.Request, *, pushing: bool) -> Reference:
    """The digest or tag of the URL, checked against the grammar before storage is touched.

    A malformed tag is TAG_INVALID when pushing; when reading or deleting it
    names nothing that can exist, so it is MANIFEST_UNKNOWN (a 404, as the
    conformance suite expects for one).
    """
    text = request.match_info["reference"]
    if is_digest(text):
        return parse_digest(text)
    if is_valid_tag(text):
        return text
    if pushing:
        raise errors.TagInvalid(detail={"tag": text}, message="invalid tag")
    raise errors.ManifestUnknown(detail={"tag": text})


@routes.get(PATH)  # HEAD too: aiohttp answers it from this handler without the body
async def get_manifest(request: web.Request) -> web.Response:
    repository = repository_of(request)
    reference = _reference(request, pushing=False)
    stored = await repository.manifests.get(reference)
    accepted = _accepted(request)
    if accepted is not None and stored.media_type not in accepted:
        stored = await _substitute(repository, reference, stored, accepted)
    digest = str(stored.digest)
    etag = f'"{digest}"'
    if any(tag in (etag, digest) for tag in request.headers.getall("If-None-Match", ())):
        return web.Response(status=304, headers={"ETag": etag, "Docker-Content-Digest": digest})
    return web.Response(body=stored.data, headers={
        "Content-Type": stored.media_type, "Docker-Content-Digest": digest, "ETag": etag})


@routes.put(PATH)
async def put_manifest(request: web.Request) -> web.Response:
    repository = repository_of(request)
    reference = _reference(request, pushing=True)
    data = await _read_body(request)
    digest, manifest = await repository.manifests.put(
        reference, data, request.headers.get("Content-Type"))
    headers = {"Location": f"/v2/{repository.name}/manifests/{digest}",
               "Docker-Content-Digest": str(digest)}
    if manifest.subject is not None:
        headers["OCI-Subject"] = str(manifest.subject.digest)
    return web.Response(status=201, headers=headers)


@routes.delete(PATH)
async def delete_manifest(request: web.Request) -> web.Response:
    """By digest: the manifest and every tag on it.  By tag: only that tag (OCI 1.1)."""
    require_delete_enabled(request)
    repository = repository_of(request)
    reference = _reference(request, pushing=False)
    if isinstance(reference, Digest):
        await repository.manifests.delete(reference)
    else:
        await repository.tags.untag(reference)
    return web.Response(status=202)


async def _read_body(request: web.Request) -> bytes:
    """The whole body, refused with 413 as soon as it passes the limit (never buffered beyond it)."""
    if (request.content_length or 0) > MAX_MANIFEST_SIZE:
        raise ManifestTooLarge(detail={"size": request.content_length})
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > MAX_MANIFEST_SIZE:
            raise ManifestTooLarge()
    return bytes(body)


def _accepted(request: web.Request) -> frozenset[str] | None:
    """The media types ``Accept`` names; None when it names none, or a wildcard (anything goes).

    distribution treats a missing Accept as "schema 1 only" (a pre-2016
    Docker); such clients are gone, so Dockyard reads it as HTTP does.
    """
    return _media_types(tuple(request.headers.getall("Accept", ())))


@functools.lru_cache(maxsize=256)
def _media_types(values: tuple[str, ...]) -> frozenset[str] | None:
    """``_accepted`` for the header's values; a client sends the same ones every time."""
    types = {part.split(";", 1)[0].strip().lower() for value in values for part in value.split(",")}
    types.discard("")
    if not types or "*/*" in types or "application/*" in types:
        return None
    return frozenset(types)


async def _substitute(repository: Repository, reference: Reference, stored: StoredManifest,
                      accepted: frozenset[str]) -> StoredManifest:
    """What to send a client whose ``Accept`` does not list the stored type, as distribution does.

    OCI manifests and indexes are refused (MANIFEST_UNKNOWN); a Docker
    manifest list asked for by tag is replaced by its linux/amd64 image;
    a Docker schema 2 manifest is sent anyway, as every client reads it.
    """
    if stored.media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX):
        raise errors.ManifestUnknown(
            detail={"mediaType": stored.media_type},
            message=f"{stored.media_type} found, but the Accept header does not allow it")
    if stored.media_type == mt.DOCKER_MANIFEST_LIST and not isinstance(reference, Digest):
        return await _default_platform(repository, stored, accepted)
    return stored


async def _default_platform(repository: Repository, listing: StoredManifest,
                            accepted: frozenset[str]) -> StoredManifest:
    children = parse_manifest(listing.data, listing.media_type).children
    child = next((c for c in children
                  if c.platform and all(c.platform.get(k) == v
                                        for k, v in DEFAULT_PLATFORM.items())), None)
    if child is None:
        raise errors.ManifestUnknown(
            detail={"digest": str(listing.digest)},
            message="the client accepts no manifest list, and this one has no linux/amd64 image")
    image = await repository.manifests.get(child.digest)
    if image.media_type not in accepted:
        raise errors.ManifestInvalid(detail={"mediaType": image.media_type},
                                     message=f"{image.media_type} not supported by client")
    return image
