"""Access control from the config: files read, keys loaded, the mode's middleware assembled.

``build`` runs once, before worker processes fork, so that every worker
holds the same keys; a token signing key that does not exist yet is created
here (and only here), which lets one command start a complete secure
registry.  Any file that cannot be used is a ConfigError naming its key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from ..config import AuthConfig, ConfigError, IssuerConfig
from .accounts import Accounts, Login
from .issuer import TokenIssuer
from .keys import (KeyRing, PrivateKey, algorithm_of, generate_private_key, load_certificates, load_jwks,
                   load_private_key, private_key_pem, write_private)
from .middleware import AccessControl, BasicAuthenticator, BearerAuth
from .passwords import PasswordFile
from .rules import EVERYTHING_FOR_USERS, Policy
from .throttle import LoginThrottle

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _load(key: str, path: str, loader: Callable[[str], _T]) -> _T:
    try:
        return loader(path)
    except FileNotFoundError:
        raise ConfigError(f"{key}: no such file: {path}") from None
    except OSError as err:
        raise ConfigError(f"{key}: cannot read {path}: {err.strerror}") from None
    except ValueError as err:
        raise ConfigError(f"{key}: cannot use {path}: {err}") from None


def issuer_key(issuer: IssuerConfig) -> PrivateKey:
    """The token signing key, created (readable by its owner only) if the file does not exist."""
    if not os.path.exists(issuer.key):
        directory = os.path.dirname(os.path.abspath(issuer.key))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            write_private(issuer.key, private_key_pem(generate_private_key(issuer.algorithm)))
        except OSError as err:
            raise ConfigError(f"dockyard.auth.issuer.key: cannot create {issuer.key}: "
                              f"{err.strerror}") from None
        log.info("created a new %s token signing key at %s", issuer.algorithm, issuer.key)
    return _load("dockyard.auth.issuer.key", issuer.key, load_private_key)


def _password_file(path: str | None, key: str) -> PasswordFile | None:
    if path is None:
        return None
    if not os.path.exists(path):
        log.warning("%s: %s does not exist yet: nobody can sign in with it until it is created "
                    "(dockyard-registry user add / robot add)", key, path)
    return PasswordFile(path)


def build(auth: AuthConfig) -> AccessControl | None:
    """The configured access control, or None when authentication is off (the default)."""
    if not auth.enabled:
        return None
    policy = Policy(auth.rules if auth.rules is not None else EVERYTHING_FOR_USERS, auth.groups)
    users = auth.htpasswd.path if auth.htpasswd else auth.users
    users_key = "auth.htpasswd.path" if auth.htpasswd else "dockyard.auth.users"
    login = Login(Accounts(_password_file(users, users_key),
                           _password_file(auth.robots, "dockyard.auth.robots")),
                  LoginThrottle(auth.throttle_attempts, auth.throttle_window))
    if auth.htpasswd is not None:
        return AccessControl(BasicAuthenticator(auth.htpasswd.realm, login, policy))
    token = auth.token
    assert token is not None  # enabled, and not htpasswd
    keyring = KeyRing(
        _load("auth.token.jwks", token.jwks, load_jwks) if token.jwks else None,
        _load("auth.token.rootcertbundle", token.root_cert_bundle, load_certificates)
        if token.root_cert_bundle else ())
    if auth.issuer is None:
        return AccessControl(BearerAuth(keyring, token.algorithms, token.issuer, token.service,
                                        token.realm, policy=None))
    key = issuer_key(auth.issuer)
    if algorithm_of(key) not in token.algorithms:
        raise ConfigError(f"auth.token.signingalgorithms: does not allow {algorithm_of(key)}, "
                          f"the algorithm of dockyard.auth.issuer.key")
    keyring.trust([key])
    issuer = TokenIssuer(key, token.issuer, token.service, auth.issuer.expiration,
                         auth.issuer.refresh_expiration, policy, login)
    return AccessControl(BearerAuth(keyring, token.algorithms, token.issuer, token.service,
                                    token.realm, policy), issuer.routes())
