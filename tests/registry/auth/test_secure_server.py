"""One ``dockyard-registry serve`` process as a complete secure registry: HTTPS, token auth,
its own token endpoint, users made with the command, two workers sharing the signing key.

Everything is set up with the commands the README gives (``certs``, ``user
add``), and the server's log is checked for every secret that went over the
wire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import REPO_ROOT, clean_env
from ocispec.challenge import parse_challenges

from ..server_process import run_registry

PASSWORD = "correct horse battery staple"


def command(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "registry", *argv], input=stdin, text=True,
                            capture_output=True, cwd=REPO_ROOT, env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def secure_config(tmp_path: Path, workers: int = 1) -> tuple[dict, Path]:
    """Certificates and a user made by the CLI; the config that serves them with token auth."""
    certs = tmp_path / "certs"
    printed = command("certs", "--dir", str(certs), "--host", "127.0.0.1").stdout
    assert "/etc/docker/certs.d/127.0.0.1:5000/ca.crt" in printed
    assert "/etc/containers/certs.d/127.0.0.1:5000/ca.crt" in printed
    config = {
        "http": {"tls": {"certificate": str(certs / "server.crt"),
                         "key": str(certs / "server.key")}},
        "auth": {"token": {"service": "dockyard-test", "issuer": "dockyard-test-issuer"}},
        "dockyard": {"workers": workers, "auth": {
            "issuer": {"key": str(tmp_path / "token.key")},
            "users": str(tmp_path / "htpasswd"),
            "rules": [{"repositories": ["team-a/*"], "users": ["alice"],
                       "actions": ["pull", "push"]}]}},
    }
    command("user", "add", "alice", "--file", str(tmp_path / "htpasswd"), "--password-stdin",
            stdin=PASSWORD + "\n")
    return config, certs / "ca.crt"


class Client:
    """urllib over TLS, trusting only the test CA."""

    def __init__(self, base: str, ca: Path) -> None:
        self.base = base
        self.context = ssl.create_default_context(cafile=str(ca))

    def call(self, method: str, path: str, headers: dict[str, str] | None = None,
             data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        url = path if path.startswith("https://") else self.base + path
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()


def test_https_token_flow_across_workers_and_a_log_without_secrets(tmp_path):
    config, ca = secure_config(tmp_path, workers=2)
    with run_registry(tmp_path, config=config) as server:
        client = Client(server.url, ca)
        blob = b"secure layer"
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        push = f"/v2/team-a/app/blobs/uploads/?digest={digest}"
        status, headers, _ = client.call("POST", push, data=blob)
        assert status == 401
        [asked] = parse_challenges([headers["WWW-Authenticate"]])
        params = asked.params
        assert params["realm"] == f"{server.url}/auth/token"
        assert params["scope"] == "repository:team-a/app:pull,push"

        query = urllib.parse.urlencode({"service": params["service"], "scope": params["scope"],
                                        "offline_token": "true", "account": "alice"})
        basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        status, _, body = client.call("GET", f"{params['realm']}?{query}",
                                      {"Authorization": f"Basic {basic}"})
        assert status == 200
        answer = json.loads(body)
        token = answer["token"]
        for _ in range(4):  # new connections: the kernel spreads them over both workers
            status, _, _ = client.call("POST", push, {"Authorization": f"Bearer {token}"}, blob)
            assert status == 201
        status, _, pulled = client.call("GET", f"/v2/team-a/app/blobs/{digest}",
                                        {"Authorization": f"Bearer {token}"})
        assert (status, pulled) == (200, blob)

        form = urllib.parse.urlencode({"grant_type": "refresh_token", "service": "dockyard-test",
                                       "refresh_token": answer["refresh_token"]}).encode()
        assert client.call("POST", "/auth/token", data=form)[0] == 200
        misuse = urllib.parse.urlencode({"password": PASSWORD, "service": "dockyard-test"})
        client.call("GET", f"/auth/token?{misuse}")
    log = server.output()
    assert "GET /auth/token?service=dockyard-test&scope=" in log  # the access log is there
    for secret in (PASSWORD, basic, token, answer["refresh_token"]):
        assert secret not in log
    assert "password=***" in log
