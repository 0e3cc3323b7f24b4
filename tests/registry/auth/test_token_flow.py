"""Docker token auth end to end: challenge, token from the registry's own endpoint, retry.

Then every way a token must be refused, each answered with a fresh challenge
(``error="invalid_token"`` or ``"insufficient_scope"``) so that real clients
go and fetch a better one.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from registry.auth import jwt
from registry.auth.keys import KeyRing, key_id, load_private_key
from registry.auth.passwords import PasswordFile

from ..images import add_blob
from .conftest import fetch_token
from .kit import (ISSUER, ROBOT_SECRET, SERVICE, access, b64json, basic, bearer, challenge,
                  claims, unsigned, with_kid)

BLOB = b"a layer of team a"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def push_url(name: str = "team-a/app") -> str:
    return f"/v2/{name}/blobs/uploads/?digest={DIGEST}"


async def test_challenge_token_retry(token_client):
    """What docker, podman and skopeo do: 401, token for the scope the challenge names, retry."""
    response = await token_client.post(push_url())
    assert response.status == 401
    assert (await response.json())["errors"][0]["code"] == "UNAUTHORIZED"
    asked = challenge(response)
    assert asked.scheme == "bearer"
    assert asked.realm == f"http://127.0.0.1:{token_client.port}/auth/token"
    assert asked.service == SERVICE
    assert asked.scopes == ("repository:team-a/app:pull,push",)

    realm = asked.realm.removeprefix(f"http://127.0.0.1:{token_client.port}")
    answer = await token_client.get(realm, params={"service": asked.service,
                                                   "scope": asked.scopes[0]},
                                    headers=basic("alice"))
    assert answer.status == 200
    body = await answer.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")
    assert "refresh_token" not in body

    response = await token_client.post(push_url(), data=BLOB, headers=bearer(body["token"]))
    assert response.status == 201, await response.text()
    pulled = await token_client.get(f"/v2/team-a/app/blobs/{DIGEST}",
                                    headers=bearer(body["token"]))
    assert await pulled.read() == BLOB


async def test_token_claims(token_client, tmp_path):
    body = await fetch_token(token_client, "repository:team-a/app:pull", user="bob")
    key = load_private_key(str(tmp_path / "token.key"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # ES256 by default
    ring = KeyRing()
    ring.trust([key])
    payload = jwt.verify(body["token"], ring, {"ES256"})
    assert payload["iss"] == ISSUER and payload["aud"] == SERVICE and payload["sub"] == "bob"
    assert payload["access"] == access("team-a/app", "pull")
    assert payload["exp"] - payload["iat"] == 300
    assert {"nbf", "jti"} <= set(payload)


async def test_version_check_needs_a_token_but_any_will_do(token_client):
    response = await token_client.get("/v2/")
    assert response.status == 401
    assert challenge(response).scopes == ()
    anonymous = await fetch_token(token_client)
    response = await token_client.get("/v2/", headers=bearer(anonymous["token"]))
    assert response.status == 200


async def test_catalog_challenge_names_the_catalog_scope(token_client):
    response = await token_client.get("/v2/_catalog")
    assert challenge(response).scopes == ("registry:catalog:*",)


async def test_delete_needs_the_delete_action(token_client):
    response = await token_client.delete(f"/v2/team-a/app/blobs/{DIGEST}")
    assert challenge(response).scopes == ("repository:team-a/app:delete",)


async def test_head_refusal_has_no_body(token_client):
    response = await token_client.head(f"/v2/team-a/app/blobs/{DIGEST}")
    assert response.status == 401 and await response.read() == b""
    assert challenge(response).scopes == ("repository:team-a/app:pull",)


async def test_invalid_repository_name_is_name_invalid_not_a_challenge(token_client):
    response = await token_client.get("/v2/Not_Valid/tags/list")
    assert response.status == 400
    assert (await response.json())["errors"][0]["code"] == "NAME_INVALID"


# -- what the token endpoint grants


async def test_grant_is_the_intersection_of_asked_and_allowed(token_client):
    scope = "repository:team-a/app:pull,push,delete"
    grants = {user: (await fetch_token(token_client, scope, user=user))["scope"]
              for user in ("alice", "bob", "carol")}
    assert grants == {"alice": scope, "bob": "repository:team-a/app:pull,push", "carol": ""}


async def test_several_scope_parameters(token_client):
    body = await fetch_token(token_client, "repository:team-a/app:push",
                             "repository:public/base:pull", "registry:catalog:*", user="bob")
    assert body["scope"].split() == ["repository:team-a/app:push",
                                     "repository:public/base:pull", "registry:catalog:*"]


async def test_anonymous_token_holds_only_anonymous_pull(token_client):
    body = await fetch_token(token_client, "repository:public/base:pull,push",
                             "repository:team-a/app:pull")
    assert body["scope"] == "repository:public/base:pull"


async def test_robot_gets_what_its_rules_give_and_nothing_for_every_user(token_client):
    body = await fetch_token(token_client, "repository:ci/tool:pull,push",
                             "repository:team-a/app:pull,delete", "repository:team-a/web:pull",
                             user="robot+ci", password=ROBOT_SECRET)
    assert body["scope"].split() == ["repository:ci/tool:pull,push",
                                     "repository:team-a/app:pull"]


async def test_wrong_service_is_refused(token_client):
    response = await token_client.get("/auth/token", params={"service": "elsewhere"},
                                      headers=basic("alice"))
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_request"


@pytest.mark.parametrize("user, password", [("alice", "wrong"), ("mallory", "alice-pw"),
                                            ("robot+ghost", "x"), ("robot+ci", "alice-pw")])
async def test_wrong_credentials_say_only_that(token_client, user, password):
    response = await token_client.get("/auth/token", params={"service": SERVICE},
                                      headers=basic(user, password))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == f'Basic realm="{SERVICE}"'
    assert await response.json() == {"error": "invalid_grant",
                                     "error_description": "incorrect username or password"}


async def test_oauth_password_grant_and_refresh(token_client):
    form = {"grant_type": "password", "username": "bob", "password": "bob-pw",
            "service": SERVICE, "client_id": "docker", "access_type": "offline",
            "scope": "repository:team-a/app:pull repository:public/base:pull"}
    response = await token_client.post("/auth/token", data=form)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["scope"] == "repository:team-a/app:pull repository:public/base:pull"
    assert body["access_token"] == body["token"]
    refresh = body["refresh_token"]
    response = await token_client.post("/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE,
        "client_id": "docker", "scope": "repository:team-a/app:push"})
    assert response.status == 200
    renewed = await response.json()
    assert renewed["scope"] == "repository:team-a/app:push"
    assert "refresh_token" not in renewed
    # A refresh token is never an access token.
    response = await token_client.get("/v2/team-a/app/tags/list", headers=bearer(refresh))
    assert response.status == 401


async def test_get_with_offline_token_returns_a_refresh_token(token_client):
    body = await fetch_token(token_client, user="alice", offline_token="true", client_id="x")
    assert body["refresh_token"]
    anonymous = await fetch_token(token_client, offline_token="true")
    assert "refresh_token" not in anonymous  # nobody to refresh


async def test_new_password_ends_refresh_tokens(token_client, tmp_path):
    refresh = (await fetch_token(token_client, user="alice", offline_token="true"))[
        "refresh_token"]
    PasswordFile(str(tmp_path / "htpasswd")).set("alice", "a new password")
    response = await token_client.post("/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE})
    assert response.status == 401
    assert (await response.json())["error"] == "invalid_grant"


@pytest.mark.parametrize("form", [{"grant_type": "client_credentials"}, {}])
async def test_unsupported_grant(token_client, form):
    response = await token_client.post("/auth/token", data=form)
    assert response.status == 400
    assert (await response.json())["error"] == "unsupported_grant_type"


# -- tokens that must be refused


async def good_token(client, scope: str = "repository:team-a/app:pull") -> str:
    return (await fetch_token(client, scope, user="alice"))["token"]


def own_key(tmp_path):
    return load_private_key(str(tmp_path / "token.key"))


async def assert_refused(client, token: str, error: str = "invalid_token",
                         url: str = "/v2/team-a/app/tags/list", method: str = "GET") -> None:
    response = await client.request(method, url, headers=bearer(token))
    assert response.status == 401, await response.text()
    assert (await response.json())["errors"][0]["code"] == "UNAUTHORIZED"
    assert challenge(response).params["error"] == error


async def test_bad_signature(token_client):
    token = await good_token(token_client)
    head, payload, signature = token.split(".")
    tampered = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    await assert_refused(token_client, f"{head}.{payload}.{tampered}")


async def test_changed_claims_break_the_signature(token_client):
    token = await good_token(token_client)
    head, _, signature = token.split(".")
    forged = b64json(claims(access=access("team-a/app", "pull", "push", "delete")))
    await assert_refused(token_client, f"{head}.{forged}.{signature}")


async def test_signed_by_another_key(token_client, tmp_path):
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.sign(claims(access=access("team-a/app", "pull")), stranger)
    await assert_refused(token_client, token)  # its kid is unknown
    await assert_refused(token_client, with_kid(token, own_key(tmp_path)))  # or claims ours


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "ES256K", ""])
async def test_unaccepted_algorithms(token_client, tmp_path, alg):
    header = {"typ": "JWT", "alg": alg, "kid": key_id(own_key(tmp_path))}
    await assert_refused(token_client, unsigned(header, claims(
        access=access("team-a/app", "pull")), b"x" * 64))


async def test_algorithm_must_fit_the_key(token_client, tmp_path):
    """An ES256 key named in an RS256 header (algorithm confusion) is refused."""
    header = {"typ": "JWT", "alg": "RS256", "kid": key_id(own_key(tmp_path))}
    await assert_refused(token_client, unsigned(header, claims(), b"x" * 256))


# Times are offsets from when the test runs (not from collection: a long suite
# would turn "120 s in the future" into the past).
_RELATIVE_TIMES = ("exp", "nbf", "iat")


@pytest.mark.parametrize("overrides", [
    {"exp": -120},  # expired, beyond the 60 s leeway
    {"nbf": 120},  # not yet valid
    {"iat": 120},  # issued in the future
    {"aud": "another-registry"},
    {"aud": ["another-registry", "a-third"]},
    {"iss": "someone-else"},
    {"exp": None},
    {"exp": "tomorrow"},
    {"access": "everything"},
    {"access": [{"type": "repository", "name": "team-a/app"}]},
])
async def test_claims_that_are_refused(token_client, tmp_path, overrides):
    now = int(time.time())
    overrides = {key: now + value if key in _RELATIVE_TIMES and isinstance(value, int) else value
                 for key, value in overrides.items()}
    payload = claims(**{"access": access("team-a/app", "pull"), **overrides})
    await assert_refused(token_client, jwt.sign(payload, own_key(tmp_path)))


async def test_small_clock_skew_is_tolerated(token_client, tmp_path):
    now = int(time.time())
    payload = claims(access=access("team-a/app", "pull"), exp=now - 20, nbf=now + 20)
    response = await token_client.get("/v2/team-a/app/tags/list",
                                      headers=bearer(jwt.sign(payload, own_key(tmp_path))))
    assert response.status == 404  # through the check; nothing pushed yet


async def test_audience_list_containing_the_service(token_client, tmp_path):
    payload = claims(access=access("team-a/app", "pull"), aud=["other", SERVICE])
    response = await token_client.get("/v2/team-a/app/tags/list",
                                      headers=bearer(jwt.sign(payload, own_key(tmp_path))))
    assert response.status == 404


async def test_token_for_one_repository_used_on_another(token_client):
    token = await good_token(token_client, "repository:team-a/app:pull,push")
    await assert_refused(token_client, token, "insufficient_scope",
                         url="/v2/team-a/web/tags/list")


async def test_pull_token_used_to_push(token_client):
    token = await good_token(token_client, "repository:team-a/app:pull")
    await assert_refused(token_client, token, "insufficient_scope", url=push_url(),
                         method="POST")


async def test_push_token_used_to_delete(token_client):
    token = await good_token(token_client, "repository:team-a/app:pull,push")
    await assert_refused(token_client, token, "insufficient_scope",
                         url=f"/v2/team-a/app/blobs/{DIGEST}", method="DELETE")


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer a.b", "Bearer a.b.c", "Bearer ...", "Bearer !!!.***.???",
    "Basic YWxpY2U6YWxpY2UtcHc=", "Token abc", "bearer", "Bearer eyJ9.eyJ9.",
])
async def test_malformed_authorization_headers(token_client, header):
    response = await token_client.get("/v2/team-a/app/tags/list",
                                      headers={"Authorization": header})
    assert response.status == 401
    assert challenge(response).params["error"] == "invalid_token"


# -- the two places that look past the check


async def test_mount_needs_pull_on_the_source_else_falls_back_to_a_session(token_client):
    owner = await good_token(token_client, "repository:team-a/app:pull,push")
    assert (await token_client.post(push_url(), data=BLOB, headers=bearer(owner))).status == 201
    mount = f"/v2/team-a/web/blobs/uploads/?mount={DIGEST}&from=team-a/app"

    response = await token_client.post(mount)
    assert challenge(response).scopes == ("repository:team-a/web:pull,push",
                                          "repository:team-a/app:pull")
    narrow = await good_token(token_client, "repository:team-a/web:pull,push")
    response = await token_client.post(mount, headers=bearer(narrow))
    assert response.status == 202  # no pull on the source in this token: an upload session

    both = (await fetch_token(token_client, "repository:team-a/web:pull,push",
                              "repository:team-a/app:pull", user="bob"))["token"]
    response = await token_client.post(mount, headers=bearer(both))
    assert response.status == 201


async def test_catalog_lists_what_the_caller_may_pull(token_client, registry_model):
    for name in ("team-a/app", "team-b/app", "public/base", "ci/tool"):
        await add_blob(registry_model, name, BLOB)

    async def catalog(user: str | None, password: str | None = None) -> list[str]:
        token = (await fetch_token(token_client, "registry:catalog:*", user=user,
                                   password=password))["token"]
        response = await token_client.get("/v2/_catalog", headers=bearer(token))
        assert response.status == 200
        return (await response.json())["repositories"]

    assert await catalog("alice") == ["public/base", "team-a/app"]
    assert await catalog("carol") == ["public/base"]
    assert await catalog(None) == ["public/base"]
    assert await catalog("robot+ci", ROBOT_SECRET) == ["ci/tool", "public/base", "team-a/app"]
    token = (await fetch_token(token_client, "registry:catalog:*", user="alice"))["token"]
    response = await token_client.get("/v2/_catalog", params={"n": "1"}, headers=bearer(token))
    assert (await response.json())["repositories"] == ["public/base"]  # filtered, then paged
    assert "last=public/base" in response.headers["Link"].replace("%2F", "/")
