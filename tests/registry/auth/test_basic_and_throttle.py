"""htpasswd (Basic) mode, and the throttle on failed logins in both modes."""

from __future__ import annotations

import pytest

from registry.auth.throttle import LoginThrottle

from ..images import add_blob
from .conftest import fetch_token
from .kit import GROUPS, PASSWORDS, RULES, SERVICE, basic, challenge, token_settings, \
    write_htpasswd

TAGS = "/v2/team-a/app/tags/list"


def basic_settings(tmp_path, **extension) -> dict:
    write_htpasswd(tmp_path / "htpasswd", PASSWORDS)
    return {"auth": {"htpasswd": {"realm": "Dockyard test", "path": str(tmp_path / "htpasswd")}},
            "dockyard": {"auth": {"groups": GROUPS, "rules": RULES[:3], **extension}}}


@pytest.fixture
async def basic_client(secure_client, tmp_path):
    return await secure_client(basic_settings(tmp_path))


async def test_version_check_asks_for_basic_credentials(basic_client):
    response = await basic_client.get("/v2/")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Dockyard test"'
    assert (await basic_client.get("/v2/", headers=basic("carol"))).status == 200


async def test_rules_apply_to_basic_users(basic_client):
    assert (await basic_client.get(TAGS, headers=basic("bob"))).status == 404  # allowed
    response = await basic_client.get(TAGS, headers=basic("carol"))
    assert response.status == 403
    assert (await response.json())["errors"][0]["code"] == "DENIED"
    response = await basic_client.delete(f"{TAGS[:-10]}/manifests/latest", headers=basic("bob"))
    assert response.status == 403
    response = await basic_client.get(TAGS, headers=basic("bob", "wrong"))
    assert response.status == 401 and challenge(response).scheme == "basic"


async def test_anonymous_pull_without_credentials(basic_client):
    assert (await basic_client.get("/v2/public/base/tags/list")).status == 404
    response = await basic_client.get(TAGS)
    assert response.status == 401 and challenge(response).scheme == "basic"
    response = await basic_client.post("/v2/public/base/blobs/uploads/")
    assert response.status == 401


async def test_without_rules_every_user_may_do_everything(secure_client, tmp_path):
    write_htpasswd(tmp_path / "htpasswd", PASSWORDS)
    client = await secure_client({"auth": {"htpasswd": {"path": str(tmp_path / "htpasswd")}}})
    response = await client.post("/v2/any/thing/blobs/uploads/", headers=basic("carol"))
    assert response.status == 202
    assert (await client.get("/v2/any/thing/tags/list")).status == 401


async def test_basic_catalog_is_filtered(basic_client, registry_model):
    for name in ("team-a/app", "team-b/app", "public/base"):
        await add_blob(registry_model, name, b"x")
    response = await basic_client.get("/v2/_catalog", headers=basic("alice"))
    assert (await response.json())["repositories"] == ["public/base", "team-a/app"]
    response = await basic_client.get("/v2/_catalog")
    assert (await response.json())["repositories"] == ["public/base"]


def throttled(tmp_path, settings: dict) -> dict:
    settings["dockyard"]["auth"]["throttle"] = {"attempts": 3, "window": "10m"}
    return settings


async def test_throttle_on_the_token_endpoint(secure_client, tmp_path):
    client = await secure_client(throttled(tmp_path, token_settings(tmp_path)))
    wrong_user = await client.get("/auth/token", headers=basic("mallory", "x"))
    wrong_password = await client.get("/auth/token", headers=basic("alice", "x"))
    assert (wrong_user.status, await wrong_user.read()) == (wrong_password.status,
                                                            await wrong_password.read())
    await fetch_token(client, user="alice")  # a success does not reset the count
    response = await client.post("/auth/token", data={"grant_type": "password",
                                                      "username": "alice", "password": "x"})
    assert response.status == 401
    response = await client.get("/auth/token", params={"service": SERVICE},
                                headers=basic("alice"))
    assert response.status == 429
    assert 590 <= int(response.headers["Retry-After"]) <= 600
    assert (await response.json())["error"] == "too_many_requests"
    refresh = await client.post("/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": "x"})
    assert refresh.status == 429
    await fetch_token(client)  # anonymous tokens need no password


async def test_throttle_in_basic_mode(secure_client, tmp_path):
    client = await secure_client(throttled(tmp_path, basic_settings(tmp_path)))
    for _ in range(3):
        assert (await client.get("/v2/", headers=basic("alice", "wrong"))).status == 401
    response = await client.get("/v2/", headers=basic("alice"))
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.json())["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_throttle_window_slides():
    now = [1000.0]
    throttle = LoginThrottle(attempts=2, window=60, clock=lambda: now[0])
    throttle.failed("a")
    now[0] += 30
    throttle.failed("a")
    assert throttle.retry_after("a") == 30
    assert throttle.retry_after("b") is None
    now[0] += 30
    assert throttle.retry_after("a") is None  # the first failure is a minute old
    throttle.failed("a")
    assert throttle.retry_after("a") == 30
