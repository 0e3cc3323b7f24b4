"""The token-auth and Basic flows against a fake registry on 127.0.0.1."""

from __future__ import annotations

import pytest

from client.credentials import Credentials
from client.transport import AuthenticationError, RegistryClient
from client.transport import auth as auth_module
from ocispec.challenge import parse_challenges

from .conftest import FAST_RETRY
from .fakes import TokenAuthRegistry

ALICE = Credentials("alice", "secret")


def client_with(credentials: Credentials | None, calls: list[str] | None = None) -> RegistryClient:
    def lookup(registry: str) -> Credentials | None:
        if calls is not None:
            calls.append(registry)
        return credentials
    return RegistryClient(credentials=lookup, retry=FAST_RETRY)


async def test_anonymous_pull_gets_a_scoped_token(token_server, token_registry, registry_client):
    tags = await registry_client.repository(token_server, "public/app").list_tags()
    assert tags == ["v1"]
    [request] = token_registry.token_requests
    assert request == {"method": "GET", "user": None, "scopes": ["repository:public/app:pull"],
                       "service": "fake-registry", "account": None}


async def test_tokens_are_cached_per_scope(token_server, token_registry, registry_client):
    app = registry_client.repository(token_server, "public/app")
    await app.list_tags()
    await app.list_tags()
    assert len(token_registry.token_requests) == 1
    await registry_client.repository(token_server, "public/other").list_tags()
    assert len(token_registry.token_requests) == 2


async def test_expired_token_is_renewed(token_server, token_registry, registry_client,
                                        monkeypatch):
    app = registry_client.repository(token_server, "public/app")
    await app.list_tags()
    later = auth_module.time.monotonic() + 61  # no expires_in: a token lives 60 s
    monkeypatch.setattr(auth_module.time, "monotonic", lambda: later)
    await app.list_tags()
    assert len(token_registry.token_requests) == 2


async def test_refused_token_is_fetched_again(token_server, token_registry, registry_client):
    app = registry_client.repository(token_server, "public/app")
    await app.list_tags()
    token_registry.granted.clear()  # the registry forgets every token it issued
    assert await app.list_tags() == ["v1"]
    assert len(token_registry.token_requests) == 2


async def test_private_repository_needs_login(token_server, registry_client):
    with pytest.raises(AuthenticationError) as caught:
        await registry_client.repository(token_server, "team/app").list_tags()
    assert caught.value.status == 401 and caught.value.code == "UNAUTHORIZED"
    assert f"dockyard login {token_server}" in str(caught.value)


async def test_credentials_go_to_the_realm(token_server, token_registry):
    calls: list[str] = []
    async with client_with(ALICE, calls) as client:
        assert await client.repository(token_server, "team/app").list_tags() == ["v1"]
        await client.repository(token_server, "team/other").list_tags()
    assert [r["user"] for r in token_registry.token_requests] == ["alice", "alice"]
    assert token_registry.token_requests[0]["account"] == "alice"
    assert calls == [token_server]  # looked up once per registry


@pytest.mark.parametrize("token_registry", [TokenAuthRegistry(token_key="access_token",
                                                              expires_in=300)])
async def test_access_token_field_is_accepted(token_server, registry_client):
    assert await registry_client.repository(token_server, "public/app").list_tags() == ["v1"]


async def test_identity_token_uses_the_oauth_refresh_grant(token_server, token_registry):
    async with client_with(Credentials(identity_token="refresh-alice")) as client:
        assert await client.repository(token_server, "team/app").list_tags() == ["v1"]
    [request] = token_registry.token_requests
    assert (request["method"], request["user"], request["service"]) == \
        ("POST", "alice", "fake-registry")


async def test_wrong_password_is_an_authentication_error(token_server):
    async with client_with(Credentials("alice", "wrong")) as client:
        with pytest.raises(AuthenticationError, match="incorrect username or password"):
            await client.repository(token_server, "team/app").list_tags()


async def test_check_login_bearer(token_server, token_registry):
    async with client_with(ALICE) as client:
        await client.check_login(token_server)
    assert token_registry.token_requests[-1]["scopes"] == []
    async with client_with(Credentials("alice", "wrong")) as client:
        with pytest.raises(AuthenticationError):
            await client.check_login(token_server)


@pytest.mark.parametrize("token_registry", [TokenAuthRegistry(mode="basic")])
async def test_basic_challenge(token_server, token_registry, registry_client):
    async with client_with(ALICE) as client:
        assert await client.repository(token_server, "team/app").list_tags() == ["v1"]
        await client.check_login(token_server)
    async with client_with(Credentials("alice", "wrong")) as client:
        with pytest.raises(AuthenticationError, match="authentication required"):
            await client.check_login(token_server)
    with pytest.raises(AuthenticationError, match="dockyard login"):
        await registry_client.repository(token_server, "team/app").list_tags()
    assert token_registry.token_requests == []


def test_challenge_parsing():
    header = ('Basic realm="r", Bearer realm="https://auth.example/token",service="reg",'
              'scope="repository:a:pull repository:b:pull",error="insufficient_scope"')
    basic, bearer = parse_challenges([header])
    assert (basic.scheme, basic.realm) == ("basic", "r")
    assert bearer.scheme == "bearer"
    assert (bearer.realm, bearer.service) == ("https://auth.example/token", "reg")
    assert bearer.scopes == ("repository:a:pull", "repository:b:pull")
    [escaped] = parse_challenges(['Bearer realm="say \\"hi\\""'])
    assert escaped.realm == 'say "hi"'
