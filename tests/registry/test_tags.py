"""Tag listing: sorted, paginated with n and last, and its error codes."""

from __future__ import annotations

from ocispec.digest import Digest

from .images import error_code, image, push

NAME = "team/app"
TAGS = ["1.0", "1.1", "2.0", "latest", "v10", "v9"]  # as sorted lexically


async def _tagged(client, registry_model) -> None:
    data = await image(registry_model, NAME)
    for tag in reversed(TAGS):
        await push(client, NAME, tag, data)


async def _list(client, query: str = ""):
    response = await client.get(f"/v2/{NAME}/tags/list{query}")
    assert response.status == 200
    return (await response.json())["tags"], response.headers.get("Link")


async def test_all_tags_sorted(client, registry_model):
    await _tagged(client, registry_model)
    response = await client.get(f"/v2/{NAME}/tags/list")
    assert await response.json() == {"name": NAME, "tags": TAGS}
    assert "Link" not in response.headers


async def test_pagination_with_n_and_last(client, registry_model):
    await _tagged(client, registry_model)
    tags, link = await _list(client, "?n=2")
    assert tags == TAGS[:2]
    assert link == f'</v2/{NAME}/tags/list?n=2&last=1.1>; rel="next"'

    seen, query = list(tags), "?n=2&last=1.1"
    while query:
        tags, link = await _list(client, query)
        seen += tags
        query = link and link[link.index("?"):link.index(">")]
    assert seen == TAGS

    assert await _list(client, "?last=latest") == (["v10", "v9"], None)
    assert await _list(client, "?n=10&last=2.5") == (["latest", "v10", "v9"], None)
    assert await _list(client, "?n=2&last=v10") == (["v9"], None)


async def test_n_zero_is_an_empty_page(client, registry_model):
    await _tagged(client, registry_model)
    assert await _list(client, "?n=0") == ([], None)


async def test_bad_n_is_pagination_number_invalid(client, registry_model):
    await _tagged(client, registry_model)
    for n in ("-1", "abc", "1.5", ""):
        response = await client.get(f"/v2/{NAME}/tags/list", params={"n": n})
        assert response.status == 400
        assert await error_code(response) == "PAGINATION_NUMBER_INVALID"


async def test_unknown_repository_is_name_unknown(client):
    response = await client.get("/v2/no/such/repo/tags/list")
    assert response.status == 404
    assert await error_code(response) == "NAME_UNKNOWN"


async def test_invalid_name_is_name_invalid(client):
    response = await client.get("/v2/Upper/tags/list")
    assert response.status == 400
    assert await error_code(response) == "NAME_INVALID"


async def test_deleting_the_last_tag_leaves_an_empty_list(client, registry_model):
    data = await image(registry_model, NAME)
    await push(client, NAME, "only", data)
    assert (await client.delete(f"/v2/{NAME}/manifests/{Digest.of(data)}")).status == 202
    assert await _list(client) == ([], None)
