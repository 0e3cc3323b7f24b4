"""Credentials in docker's and podman's files and through docker-credential helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap

import pytest

from client.credentials import (HUB_SERVER, CredentialError, Credentials, CredentialStore,
                                normalize_server)


def write_config(directory, doc) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(doc))


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def docker_dir(home):
    return home / ".docker"


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """``docker-credential-fake`` on PATH, keeping its secrets in a JSON file; returns that file."""
    bindir, vault = tmp_path / "bin", tmp_path / "vault.json"
    bindir.mkdir()
    vault.write_text("{}")
    script = bindir / "docker-credential-fake"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""
        import json, sys
        vault = json.load(open({str(vault)!r}))
        action, data = sys.argv[1], sys.stdin.read()
        if action == "get":
            if data not in vault:
                print("credentials not found in native keychain")
                sys.exit(1)
            print(json.dumps({{"ServerURL": data, **vault[data]}}))
        elif action == "store":
            entry = json.loads(data)
            vault[entry["ServerURL"]] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
        elif action == "erase":
            vault.pop(data, None)
        json.dump(vault, open({str(vault)!r}, "w"))
        """))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return vault


def test_reads_docker_auths(docker_dir):
    write_config(docker_dir, {"auths": {
        HUB_SERVER: {"auth": auth("hubuser", "hubpass")},
        "https://registry.example.com/v2/": {"auth": auth("u", "p:with:colons")},
        "localhost:5000": {"identitytoken": "refresh-me"},
    }})
    store = CredentialStore()
    assert store.get("docker.io") == Credentials("hubuser", "hubpass")
    assert store.get("index.docker.io") == Credentials("hubuser", "hubpass")
    assert store.get("registry.example.com").password == "p:with:colons"
    assert store.get("localhost:5000").identity_token == "refresh-me"
    assert store.get("quay.io") is None


def test_docker_config_env_and_override(tmp_path, monkeypatch):
    write_config(tmp_path / "env", {"auths": {"a.io": {"auth": auth("env", "x")}}})
    write_config(tmp_path / "flag", {"auths": {"a.io": {"auth": auth("flag", "x")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "env"))
    assert CredentialStore().get("a.io").username == "env"
    assert CredentialStore(tmp_path / "flag").get("a.io").username == "flag"


def test_reads_podman_auth_json(tmp_path, monkeypatch):
    (tmp_path / "run" / "containers").mkdir(parents=True)
    (tmp_path / "run" / "containers" / "auth.json").write_text(json.dumps(
        {"auths": {"docker.io": {"auth": auth("podman", "pw")}}}))
    assert CredentialStore().get("docker.io") == Credentials("podman", "pw")


def test_login_writes_docker_format_privately(docker_dir):
    write_config(docker_dir, {"auths": {"other.io": {"auth": auth("o", "p")}},
                              "psFormat": "table {{.ID}}"})
    store = CredentialStore()
    store.store("docker.io", Credentials("me", "pw"))
    store.store("localhost:5000", Credentials("me", "pw2"))
    path = docker_dir / "config.json"
    doc = json.loads(path.read_text())
    assert doc["auths"][HUB_SERVER] == {"auth": auth("me", "pw")}
    assert doc["auths"]["localhost:5000"] == {"auth": auth("me", "pw2")}
    assert doc["auths"]["other.io"] == {"auth": auth("o", "p")}
    assert doc["psFormat"] == "table {{.ID}}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in docker_dir.iterdir()] == ["config.json"]  # no temp file left


def test_logout_removes_every_alias(docker_dir):
    write_config(docker_dir, {"auths": {HUB_SERVER: {"auth": auth("a", "b")},
                                        "docker.io": {"auth": auth("a", "b")},
                                        "keep.io": {"auth": auth("c", "d")}}})
    store = CredentialStore()
    assert store.erase("docker.io") is True
    assert list(json.loads((docker_dir / "config.json").read_text())["auths"]) == ["keep.io"]
    assert store.erase("docker.io") is False


def test_cred_helpers_and_creds_store(docker_dir, helper):
    helper.write_text(json.dumps({
        "per-host.io": {"Username": "helped", "Secret": "s1"},
        HUB_SERVER: {"Username": "<token>", "Secret": "refresh"},
    }))
    write_config(docker_dir, {"credHelpers": {"per-host.io": "fake"},
                              "auths": {"plain.io": {"auth": auth("file", "x")}}})
    store = CredentialStore()
    assert store.get("per-host.io") == Credentials("helped", "s1")
    assert store.get("plain.io") == Credentials("file", "x")
    write_config(docker_dir, {"credsStore": "fake"})
    assert store.get("docker.io") == Credentials(identity_token="refresh")
    assert store.get("unknown.io") is None


def test_login_and_logout_through_the_helper(docker_dir, helper):
    write_config(docker_dir, {"credsStore": "fake"})
    store = CredentialStore()
    store.store("localhost:5000", Credentials("me", "pw"))
    assert json.loads(helper.read_text())["localhost:5000"] == {"Username": "me",
                                                                "Secret": "pw"}
    assert "auths" not in json.loads((docker_dir / "config.json").read_text())
    assert store.get("localhost:5000") == Credentials("me", "pw")
    assert store.erase("localhost:5000") is True
    assert json.loads(helper.read_text()) == {}


def test_missing_helper_is_a_clear_error(docker_dir):
    write_config(docker_dir, {"credsStore": "does-not-exist"})
    with pytest.raises(CredentialError, match="docker-credential-does-not-exist"):
        CredentialStore().get("docker.io")


def test_broken_config_is_a_clear_error(docker_dir):
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text("{not json")
    with pytest.raises(CredentialError, match="cannot read"):
        CredentialStore().get("docker.io")


@pytest.mark.parametrize("server, registry", [
    ("https://index.docker.io/v1/", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("http://localhost:5000/", "localhost:5000"),
    ("quay.io", "quay.io"),
])
def test_normalize_server(server, registry):
    assert normalize_server(server) == registry
