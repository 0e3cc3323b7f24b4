"""Registry credentials, stored where docker and podman keep them.

Reading follows docker: a per-registry ``credHelpers`` entry, else the
``credsStore`` helper, else the ``auths`` entry of ``config.json``; podman's
``auth.json`` is read after that, so a ``podman login`` is honoured too.
Credential helpers are the ``docker-credential-<name>`` programs of
docker-credential-helpers, spoken to over stdin/stdout. Writing (``login``)
goes to the helper when one is configured, else into ``auths`` as base64
``user:password``, in a file only its owner can read.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocispec.reference import DEFAULT_REGISTRY, LEGACY_REGISTRY

from .config import docker_config_dir
from .errors import DockyardError
from .fsutil import write_atomic

# The key docker uses for Docker Hub, a leftover of the v1 API.
HUB_SERVER = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset({DEFAULT_REGISTRY, LEGACY_REGISTRY, "registry-1.docker.io"})
# What docker-credential-helpers print when they hold nothing for a server.
_NOT_FOUND = "credentials not found in native keychain"
# A helper's username meaning "the secret is an identity (refresh) token".
_TOKEN_USER = "<token>"


class CredentialError(DockyardError):
    """Credentials could not be read or written (bad file, failing helper)."""


@dataclass(frozen=True)
class Credentials:
    """A username and password, or an OAuth2 refresh token (``identitytoken``)."""

    username: str = ""
    password: str = ""
    identity_token: str | None = None

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"Credentials(username={self.username!r})"


def normalize_server(server: str) -> str:
    """The registry a ``login`` argument or a config key names: ``https://host/v1/`` -> ``host``,
    and every Docker Hub alias -> ``docker.io``."""
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme):]
    host = host.split("/", 1)[0]
    return DEFAULT_REGISTRY if host.lower() in _HUB_NAMES else host


def server_url(registry: str) -> str:
    """The key (and helper ``ServerURL``) docker uses for ``registry``."""
    return HUB_SERVER if normalize_server(registry) == DEFAULT_REGISTRY else registry


def podman_auth_files() -> list[Path]:
    """podman's ``auth.json`` locations: ``$REGISTRY_AUTH_FILE``, else the runtime dir's,
    else ``~/.config/containers``'s (podman's own fallback for rootless users)."""
    if env := os.environ.get("REGISTRY_AUTH_FILE"):
        return [Path(env)]
    files = []
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(runtime) / "containers" / "auth.json")
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    files.append(Path(config_home) / "containers" / "auth.json")
    return files


class CredentialStore:
    """Credentials for registries, by registry name (``docker.io``, ``host:port``)."""

    def __init__(self, config_dir: Path | None = None,
                 auth_files: list[Path] | None = None) -> None:
        self.config_dir = config_dir if config_dir is not None else docker_config_dir()
        self.auth_files = auth_files if auth_files is not None else podman_auth_files()

    @property
    def path(self) -> Path:
        return self.config_dir / "config.json"

    def get(self, registry: str) -> Credentials | None:
        """The credentials for ``registry``, or None to go anonymous."""
        registry = normalize_server(registry)
        config = _read_json(self.path)
        helper = _helper_for(config, registry)
        if helper is not None:
            return _helper_get(helper, server_url(registry))
        for doc in (config, *(_read_json(f) for f in self.auth_files)):
            entry = _auth_entry(doc, registry)
            if entry is not None:
                return _decode_entry(entry, registry)
        return None

    def store(self, registry: str, credentials: Credentials) -> None:
        """Save credentials for ``registry``: in its helper if configured, else in ``auths``."""
        registry = normalize_server(registry)
        config = _read_json(self.path)
        helper = _helper_for(config, registry)
        _drop_entries(config, registry)
        if helper is not None:
            _run_helper(helper, "store", json.dumps({
                "ServerURL": server_url(registry),
                "Username": credentials.username or _TOKEN_USER,
                "Secret": credentials.identity_token or credentials.password,
            }))
        else:
            config.setdefault("auths", {})[server_url(registry)] = _encode_entry(credentials)
        self._write(config)

    def erase(self, registry: str) -> bool:
        """Forget ``registry``'s credentials; False when there were none."""
        registry = normalize_server(registry)
        config = _read_json(self.path)
        helper = _helper_for(config, registry)
        found = _drop_entries(config, registry)
        if helper is not None:
            result = _run_helper(helper, "erase", server_url(registry), check=False)
            found = found or result.returncode == 0
        if found:
            self._write(config)
        return found

    def _write(self, config: dict[str, Any]) -> None:
        # Follow a symlinked config.json (dotfile managers) rather than replacing the link.
        target = Path(os.path.realpath(self.path))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(target, (json.dumps(config, indent="\t") + "\n").encode(), mode=0o600)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes() or b"{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise CredentialError(f"cannot read {path}: {err}") from None
    if not isinstance(doc, dict):
        raise CredentialError(f"{path}: not a JSON object")
    return doc


def _helper_for(config: dict[str, Any], registry: str) -> str | None:
    helpers = config.get("credHelpers") or {}
    for key, helper in helpers.items():
        if normalize_server(key) == registry:
            return str(helper)
    return config.get("credsStore") or None


def _matching_keys(doc: dict[str, Any], registry: str) -> list[str]:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return []
    return [key for key in auths if normalize_server(key) == registry]


def _auth_entry(doc: dict[str, Any], registry: str) -> dict[str, Any] | None:
    for key in _matching_keys(doc, registry):
        entry = doc["auths"][key]
        if isinstance(entry, dict) and (entry.get("auth") or entry.get("identitytoken")):
            return entry
    return None


def _drop_entries(config: dict[str, Any], registry: str) -> bool:
    keys = _matching_keys(config, registry)
    for key in keys:
        del config["auths"][key]
    return bool(keys)


def _decode_entry(entry: dict[str, Any], registry: str) -> Credentials:
    username = password = ""
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise CredentialError(f"the stored credentials for {registry} are not valid base64") \
                from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialError(f"the stored credentials for {registry} lack a password")
    return Credentials(username, password, entry.get("identitytoken") or None)


def _encode_entry(credentials: Credentials) -> dict[str, str]:
    if credentials.identity_token:
        return {"identitytoken": credentials.identity_token}
    pair = f"{credentials.username}:{credentials.password}".encode()
    return {"auth": base64.b64encode(pair).decode()}


def _helper_get(helper: str, server: str) -> Credentials | None:
    result = _run_helper(helper, "get", server, check=False)
    if result.returncode != 0:
        if _NOT_FOUND in result.stdout or _NOT_FOUND in result.stderr:
            return None
        raise CredentialError(f"docker-credential-{helper} get: {_helper_message(result)}")
    try:
        reply = json.loads(result.stdout)
        username, secret = reply.get("Username", ""), reply["Secret"]
    except (ValueError, KeyError, AttributeError):
        raise CredentialError(f"docker-credential-{helper} get: unreadable reply") from None
    if username == _TOKEN_USER:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


def _run_helper(helper: str, action: str, stdin: str,
                check: bool = True) -> subprocess.CompletedProcess[str]:
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, action], input=stdin, capture_output=True, text=True,
                                timeout=60)
    except FileNotFoundError:
        raise CredentialError(f"credential helper {program} is configured in the docker "
                              "config but not found in PATH") from None
    except subprocess.TimeoutExpired:
        raise CredentialError(f"{program} {action}: no answer within 60 s") from None
    if check and result.returncode != 0:
        raise CredentialError(f"{program} {action}: {_helper_message(result)}")
    return result


def _helper_message(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}")
