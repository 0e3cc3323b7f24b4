"""The auth settings: distribution's ``auth`` keys, ``dockyard.auth``, and every mistake named."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from registry import config
from registry.auth import setup
from registry.auth.keys import load_private_key
from registry.config import ConfigError

from .kit import load_config, token_settings

OWN = {"dockyard": {"auth": {"issuer": {"key": "/tmp/key.pem"}}}}


def settings(auth=None, **extension) -> dict:
    result = {"auth": auth} if auth is not None else {}
    if extension:
        result["dockyard"] = {"auth": extension}
    return result


def test_token_mode_with_own_issuer(tmp_path):
    auth = load_config(tmp_path, token_settings(tmp_path)).auth
    assert auth.token.service == "test-registry" and auth.token.realm is None
    assert auth.issuer.key == str(tmp_path / "token.key")
    assert auth.issuer.algorithm == "ES256" and auth.issuer.expiration == 300
    assert auth.groups == {"team-a": ("alice", "bob")}
    assert [rule.anonymous for rule in auth.rules] == [False, False, True, False]
    assert auth.rules[0].actions == {"pull", "push"}


def test_own_issuer_defaults_and_environment(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"version": "0.1", "auth": {"token": {}}, **OWN}))
    auth = config.load(str(path), {"REGISTRY_AUTH_TOKEN_REALM": "https://r.example/auth/token",
                                   "REGISTRY_DOCKYARD_AUTH_ISSUER_EXPIRATION": "15m",
                                   "REGISTRY_DOCKYARD_AUTH_RULES":
                                       '[{repositories: ["*"], users: ["*"], actions: ["*"]}]'}
                       ).auth
    assert (auth.token.service, auth.token.issuer) == ("dockyard-registry", "dockyard")
    assert auth.token.realm == "https://r.example/auth/token"
    assert auth.issuer.expiration == 900
    assert auth.rules[0].actions == {"pull", "push", "delete"}


def test_no_auth_is_the_default(tmp_path):
    assert not load_config(tmp_path, {}).auth.enabled
    assert setup.build(load_config(tmp_path, {}).auth) is None


@pytest.mark.parametrize("raw, message", [
    (settings({"token": {}, "htpasswd": {"path": "x"}}), "exactly one of token, htpasswd"),
    (settings({"silly": {"realm": "x"}}), "auth.silly: not supported"),
    (settings({"ldap": {}}), "auth.ldap: unknown authentication mode"),
    (settings(rules=[]), "dockyard.auth: needs auth.token or auth.htpasswd"),
    (settings({"htpasswd": {"path": "x"}}, issuer={"key": "k"}), "needs auth.token"),
    (settings({"htpasswd": {}}), "auth.htpasswd.path: required"),
    (settings({"token": {"service": "s", "issuer": "i", "rootcertbundle": "b"}}),
     "auth.token.realm: required"),
    (settings({"token": {"realm": "r", "issuer": "i", "rootcertbundle": "b"}}),
     "auth.token.service: required"),
    (settings({"token": {"realm": "r", "service": "s", "issuer": "i"}}),
     "auth.token.rootcertbundle: required"),
    (settings({"token": {"realm": "r", "service": "s", "issuer": "i", "jwks": "j"}},
              users="u"), "dockyard.auth.users: only used by"),
    (settings({"token": {"signingalgorithms": ["none"]}}, issuer={"key": "k"}),
     "unsupported NONE"),
    (settings({"token": {}}, issuer={}), "dockyard.auth.issuer.key: required"),
    (settings({"token": {}}, issuer={"key": "k", "algorithm": "HS256"}),
     "dockyard.auth.issuer.algorithm"),
    (settings({"token": {}}, issuer={"key": "k", "expiration": "0s"}), "longer than 0"),
    (settings({"htpasswd": {"path": "x"}}, users="y"), "auth.htpasswd.path names the users"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"repositories": ["*"], "anonymous": True,
                                                   "actions": ["push"]}]),
     "dockyard.auth.rules.0.actions: an anonymous rule may only allow pull"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"repositories": ["*"], "actions": ["pull"]}]),
     "dockyard.auth.rules.0: names nobody"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"users": ["a"], "actions": ["pull"]}]),
     "dockyard.auth.rules.0.repositories: required"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"repositories": ["*"], "users": ["a"],
                                                   "actions": ["read"]}]),
     "expected some of pull, push, delete or *, got read"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"repositories": ["*"], "groups": ["g"],
                                                   "actions": ["pull"]}]),
     "no such group: g"),
    (settings({"htpasswd": {"path": "x"}}, rules=[{"repositories": ["*"], "robots": ["ci"],
                                                   "actions": ["pull"]}]),
     "dockyard.auth.robots (their secrets file) is not set"),
    (settings({"htpasswd": {"path": "x"}}, rules={"repositories": ["*"]}),
     "dockyard.auth.rules: expected a list of rules"),
    (settings({"htpasswd": {"path": "x"}}, throttle={"attempts": 0}), "at least 1"),
])
def test_mistakes_are_named(tmp_path, raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path, raw)


def test_unknown_keys_warn(tmp_path):
    loaded = load_config(tmp_path, settings({"htpasswd": {"path": "x", "relam": "typo"}},
                                            colour="blue"))
    assert "unknown key: auth.htpasswd.relam" in loaded.warnings
    assert "unknown key: dockyard.auth.colour" in loaded.warnings


def test_signing_key_is_created_once_owner_only(tmp_path):
    raw = token_settings(tmp_path)
    raw["dockyard"]["auth"]["issuer"] = {"key": str(tmp_path / "keys" / "token.pem"),
                                         "algorithm": "RS256"}
    auth = load_config(tmp_path, raw).auth
    setup.build(auth)
    key_path = tmp_path / "keys" / "token.pem"
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    key = load_private_key(str(key_path))
    assert isinstance(key, rsa.RSAPrivateKey)
    setup.build(auth)
    assert load_private_key(str(key_path)).private_numbers() == key.private_numbers()


def test_unusable_files_are_config_errors(tmp_path):
    raw = token_settings(tmp_path)
    (tmp_path / "token.key").write_text("not a key")
    with pytest.raises(ConfigError, match="dockyard.auth.issuer.key: cannot use"):
        setup.build(load_config(tmp_path, raw).auth)
    raw["auth"]["token"]["signingalgorithms"] = ["RS256"]
    (tmp_path / "token.key").unlink()
    with pytest.raises(ConfigError, match="signingalgorithms: does not allow ES256"):
        setup.build(load_config(tmp_path, raw).auth)
    raw["auth"]["token"]["jwks"] = str(tmp_path / "token.key")  # a PEM file, not JSON
    with pytest.raises(ConfigError, match="auth.token.jwks: cannot use"):
        setup.build(load_config(tmp_path, raw).auth)
