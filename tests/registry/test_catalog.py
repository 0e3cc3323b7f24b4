"""The catalog: repositories found in storage (nested names too), paginated."""

from __future__ import annotations

from .images import add_blob, error_code, image, push

# Sorted as strings: "a-b" < "a/b" because "-" sorts before "/".
REPOSITORIES = ["a-b", "a/b", "a/b/c", "library/ubuntu", "z"]


async def _populate(client, registry_model) -> None:
    for name in REPOSITORIES:
        if name == "a/b/c":  # a repository with blobs only counts too
            await add_blob(registry_model, name, b"blob")
        else:
            await push(client, name, "v1", await image(registry_model, name))


async def _catalog(client, query: str = ""):
    response = await client.get(f"/v2/_catalog{query}")
    assert response.status == 200
    return (await response.json())["repositories"], response.headers.get("Link")


async def test_empty_registry(client):
    assert await _catalog(client) == ([], None)


async def test_lists_every_repository(client, registry_model):
    await _populate(client, registry_model)
    assert await _catalog(client) == (REPOSITORIES, None)


async def test_pagination(client, registry_model):
    await _populate(client, registry_model)
    names, link = await _catalog(client, "?n=2")
    assert names == REPOSITORIES[:2]
    assert link == '</v2/_catalog?n=2&last=a/b>; rel="next"'
    assert await _catalog(client, "?n=2&last=a/b") == (
        REPOSITORIES[2:4], '</v2/_catalog?n=2&last=library/ubuntu>; rel="next"')
    assert await _catalog(client, "?n=2&last=library/ubuntu") == (["z"], None)
    assert await _catalog(client, "?n=0") == ([], None)


async def test_bad_n(client):
    for n in ("-3", "x", "1001"):
        response = await client.get("/v2/_catalog", params={"n": n})
        assert response.status == 400
        assert await error_code(response) == "PAGINATION_NUMBER_INVALID"
