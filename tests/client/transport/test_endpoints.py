"""How registries are reached: HTTPS first, plain HTTP only where allowed, certs.d, config."""

from __future__ import annotations

import json
import ssl

import pytest
from aiohttp import web

from client import config as config_module
from client.config import ClientConfig, default_root
from client.errors import DockyardError
from client.transport import Endpoints, RegistryClient
from ...helpers.tls import self_signed_certificate

from .conftest import FAST_RETRY


@pytest.mark.parametrize("host, insecure", [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True),
    ("127.3.2.1", True), ("[::1]:5000", True), ("listed.example:5000", True),
    ("listed.example", False), ("anyport.example:1234", True), ("10.1.2.3:5000", True),
    ("10.2.0.1", False), ("registry.example.com", False), ("localhost.example.com", False),
])
def test_which_registries_may_use_plain_http(host, insecure):
    endpoints = Endpoints(["listed.example:5000", "anyport.example", "10.1.0.0/16"])
    assert endpoints.is_insecure(host) is insecure


def test_candidates_prefer_https_and_map_docker_hub():
    endpoints = Endpoints()
    assert endpoints.candidates("docker.io") == ["https://registry-1.docker.io"]
    assert endpoints.candidates("quay.io") == ["https://quay.io"]
    assert endpoints.candidates("localhost:5000") == ["https://localhost:5000",
                                                      "http://localhost:5000"]


def test_certs_d_adds_cas_and_client_certificates(tmp_path):
    ca, _ = self_signed_certificate(tmp_path / "made", "my-ca")
    folder = tmp_path / "certs.d" / "reg.example:5000"
    folder.mkdir(parents=True)
    (folder / "ca.crt").write_bytes(ca.read_bytes())
    endpoints = Endpoints(certs_dirs=[tmp_path / "missing", tmp_path / "certs.d"])
    context = endpoints.ssl_context("reg.example:5000")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert any(dict(item[0] for item in c["subject"]).get("commonName") == "my-ca"
               for c in context.get_ca_certs())
    assert endpoints.ssl_context("reg.example:5000") is context
    (folder / "client.cert").write_bytes(ca.read_bytes())
    with pytest.raises(DockyardError, match="has no client.key"):
        Endpoints(certs_dirs=[tmp_path / "certs.d"]).ssl_context("reg.example:5000")


async def test_https_is_used_when_the_registry_offers_it(aiohttp_server, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v2/", ping)
    server = await aiohttp_server(app, ssl=server_tls)
    async with RegistryClient(retry=FAST_RETRY) as client:
        base = await client.ping(f"127.0.0.1:{server.port}")
    assert base.scheme == "https"


def test_client_config_file(home):
    directory = home / ".config" / "dockyard"
    assert ClientConfig.load() == ClientConfig((), (directory / "certs.d",
                                                    *config_module.SYSTEM_CERTS_DIRS))
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"insecure-registries": ["r:5000"]}))
    assert ClientConfig.load().insecure_registries == ("r:5000",)
    (directory / "config.json").write_text(json.dumps({"insecure-registries": "r:5000"}))
    with pytest.raises(DockyardError, match="must be a list"):
        ClientConfig.load()


def test_default_root(home, monkeypatch):
    monkeypatch.setattr(config_module.os, "geteuid", lambda: 0)
    assert str(default_root()) == "/var/lib/dockyard"
    monkeypatch.setattr(config_module.os, "geteuid", lambda: 1000)
    assert default_root() == home / ".local" / "share" / "dockyard"
    monkeypatch.setenv("DOCKYARD_ROOT", "/srv/dy")
    assert str(default_root()) == "/srv/dy"
