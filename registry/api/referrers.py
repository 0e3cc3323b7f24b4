"""``GET /v2/<name>/referrers/<digest>``: the OCI 1.1 referrers API.

Answers an image index of the manifests whose ``subject`` is the digest,
empty (not 404) when there are none or the subject does not exist.
"""

import json

from aiohttp import web

from ocispec import mediatypes as mt

from .common import NAME, parse_digest, repository_of

routes = web.RouteTableDef()


@routes.get(f"{NAME}/referrers/{{digest}}")
async def list_referrers(request: web.Request) -> web.Response:
    repository = repository_of(request)
    subject = parse_digest(request.match_info["digest"])
    artifact_types = frozenset(request.query.getall("artifactType", ())) or None
    descriptors = await repository.referrers.list(subject, artifact_types)
    headers = {"Content-Type": mt.OCI_INDEX}  # exactly this: clients compare it as a string
    if artifact_types:
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
    return web.Response(body=json.dumps(index).encode(), headers=headers)
