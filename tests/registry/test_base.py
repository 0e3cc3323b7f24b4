async def test_version_check(client):
    response = await client.get("/v2/")
    assert response.status == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert await response.json() == {}


async def test_invalid_name_is_name_invalid(client):
    response = await client.get("/v2/UPPER/tags/list")
    assert response.status in (400, 404)
