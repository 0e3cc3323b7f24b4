"""Real clients against a secure Dockyard: HTTPS from ``dockyard-registry certs``, token auth
from the registry's own endpoint, a user who may push and pull ``team-a/*`` only.

skopeo (``--dest-creds``/``--src-creds``, certificates from ``--*-cert-dir``)
and podman (``login``, ``push``, ``pull``, with ``--cert-dir`` and a throw-away
``--authfile``) each push an image and pull it back; a wrong password and a
repository outside the user's rules fail cleanly in each.  Certificates are
checked for real: the cert dirs hold only the test CA (``ca.crt``), as
``/etc/containers/certs.d/<host:port>/`` would.  Last, the CNCF registry
(Debian's ``docker-registry``) is given the certificate of Dockyard's signing
key and must accept Dockyard's tokens, as it would an auth server's.

podman keeps images in storage of its own; here that is a temporary
``--root``/``--runroot``/``--tmpdir`` (not /run/libpod) on the vfs driver (no overlay mounts to clean up),
emptied with ``rmi`` and removed after the test.  Nothing runs a container.
"""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiohttp import encode_basic_auth
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from bench.common import Server, free_port, http_request
from registry.auth.keys import load_private_key
from registry.auth.passwords import PasswordFile
from registry.auth.tls import create_certificates

from ..helpers.oci_layout import ImageLayout, build_image
from ..registry.server_process import RegistryProcess, run_registry

pytestmark = pytest.mark.interop

USER, PASSWORD = "alice", "alice's long password"
TIMEOUT = 180
PERMISSIVE_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


def needs(tool: str, package: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None,
                              reason=f"{tool} is not on PATH (Debian package '{package}'; the "
                                     f"README's test command installs it)")


@dataclass(frozen=True)
class SecureRegistry:
    server: RegistryProcess
    cert_dir: Path  # ca.crt alone, as clients want it
    address: str  # 127.0.0.1:port
    workdir: Path

    def ref(self, repository: str, tag: str = "v1") -> str:
        return f"{self.address}/{repository}:{tag}"


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRegistry]:
    workdir = tmp_path_factory.mktemp("secure-registry")
    files = create_certificates(workdir / "certs", ["127.0.0.1", "localhost"])
    cert_dir = workdir / "client-certs"
    cert_dir.mkdir()
    shutil.copy(files.ca_certificate, cert_dir / "ca.crt")
    PasswordFile(str(workdir / "htpasswd")).set(USER, PASSWORD)
    (workdir / "policy.json").write_text(json.dumps(PERMISSIVE_POLICY))
    config = {
        "http": {"tls": {"certificate": str(files.certificate), "key": str(files.key)}},
        "auth": {"token": {"service": "dockyard-interop"}},
        "dockyard": {"auth": {"issuer": {"key": str(workdir / "token.key")},
                              "users": str(workdir / "htpasswd"),
                              "rules": [{"repositories": ["team-a/*"], "users": [USER],
                                         "actions": ["pull", "push"]}]}},
    }
    with run_registry(workdir, config=config) as server:
        yield SecureRegistry(server, cert_dir, server.url.removeprefix("https://"), workdir)


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory: pytest.TempPathFactory) -> ImageLayout:
    root = tmp_path_factory.mktemp("auth-image")
    build_image(root, "v1", layers=2, seed=7)
    return ImageLayout(root)


def run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, text=True, capture_output=True, timeout=TIMEOUT,
                          check=False)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{' '.join(result.args)}: {result.stderr}"
    return result.stdout


def failed_cleanly(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """A non-zero exit with a message naming the problem, not a crash."""
    assert result.returncode != 0, result.stdout
    message = result.stderr.lower()
    assert any(word in message for word in words), result.stderr
    assert "panic" not in message and "traceback" not in message


# -- skopeo


def skopeo(registry: SecureRegistry, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["skopeo", "--policy", str(registry.workdir / "policy.json"), *args])


@needs("skopeo", "skopeo")
def test_skopeo_push_and_pull_with_credentials(secure_registry, image_layout, tmp_path):
    creds = f"{USER}:{PASSWORD}"
    certs = str(secure_registry.cert_dir)
    source = f"oci:{image_layout.root}:v1"
    target = f"docker://{secure_registry.ref('team-a/skopeo')}"
    succeeded(skopeo(secure_registry, "copy", "--preserve-digests", "--dest-creds", creds,
                     "--dest-cert-dir", certs, source, target))
    succeeded(skopeo(secure_registry, "copy", "--preserve-digests", "--src-creds", creds,
                     "--src-cert-dir", certs, target, f"oci:{tmp_path / 'out'}:v1"))
    copy = ImageLayout(tmp_path / "out")
    assert copy.resolve("v1").digest == image_layout.resolve("v1").digest

    anonymous = skopeo(secure_registry, "inspect", "--raw", "--cert-dir", certs, target)
    failed_cleanly(anonymous, "unauthorized", "authentication required", "denied")


@needs("skopeo", "skopeo")
def test_skopeo_wrong_password_and_foreign_repository(secure_registry, image_layout):
    certs = str(secure_registry.cert_dir)
    source = f"oci:{image_layout.root}:v1"
    wrong = skopeo(secure_registry, "copy", "--dest-creds", f"{USER}:wrong", "--dest-cert-dir",
                   certs, source, f"docker://{secure_registry.ref('team-a/skopeo')}")
    failed_cleanly(wrong, "unauthorized", "invalid username/password")
    foreign = skopeo(secure_registry, "copy", "--dest-creds", f"{USER}:{PASSWORD}",
                     "--dest-cert-dir", certs, source,
                     f"docker://{secure_registry.ref('team-b/app')}")
    failed_cleanly(foreign, "unauthorized", "authentication required", "denied")


@needs("skopeo", "skopeo")
def test_skopeo_refuses_an_untrusted_certificate(secure_registry, tmp_path):
    result = skopeo(secure_registry, "inspect", "--raw", "--creds", f"{USER}:{PASSWORD}",
                    "--cert-dir", str(tmp_path),  # no CA: the system's trust only
                    f"docker://{secure_registry.ref('team-a/skopeo')}")
    failed_cleanly(result, "certificate", "x509")


# -- podman


@dataclass(frozen=True)
class Podman:
    registry: SecureRegistry
    root: Path

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(["podman", "--root", str(self.root / "root"),
                    "--runroot", str(self.root / "runroot"), "--tmpdir", str(self.root / "tmp"),
                    "--storage-driver", "vfs", "--events-backend", "none", *args], stdin)

    def remote(self, command: str, *args: str, stdin: str | None = None
               ) -> subprocess.CompletedProcess[str]:
        """A podman command that talks to the registry: TLS checked against the test CA."""
        return self(command, "--tls-verify=true", "--cert-dir", str(self.registry.cert_dir),
                    "--authfile", str(self.root / "auth.json"), *args, stdin=stdin)


@pytest.fixture
def podman(secure_registry) -> Iterator[Podman]:
    """podman with storage of its own, in a short path: podman refuses a runroot over 50 bytes."""
    client = Podman(secure_registry, Path(tempfile.mkdtemp(prefix="dockyard-podman-")))
    (client.root / "runroot").mkdir()
    yield client
    client("rmi", "--all", "--force")
    shutil.rmtree(client.root, ignore_errors=True)


@needs("podman", "podman")
def test_podman_login_push_pull(podman, secure_registry, image_layout):
    policy = ["--signature-policy", str(secure_registry.workdir / "policy.json")]
    registry = secure_registry.address
    succeeded(podman.remote("login", "--username", USER, "--password-stdin", registry,
                            stdin=PASSWORD))
    auths = json.loads((podman.root / "auth.json").read_text())["auths"]
    assert registry in auths

    succeeded(podman("pull", *policy, f"oci:{image_layout.root}:v1"))
    local = succeeded(podman("images", "--quiet", "--no-trunc")).split()[0]
    target = secure_registry.ref("team-a/podman")
    succeeded(podman.remote("push", *policy, local, f"docker://{target}"))
    succeeded(podman("rmi", "--all", "--force"))
    succeeded(podman.remote("pull", *policy, target))
    pulled = succeeded(podman("images", "--quiet", "--no-trunc", target)).split()
    assert pulled == [local]  # same image id: the config went and came back intact

    foreign = podman.remote("push", *policy, local,
                            f"docker://{secure_registry.ref('team-b/podman')}")
    failed_cleanly(foreign, "unauthorized", "authentication required", "denied")
    succeeded(podman("logout", "--authfile", str(podman.root / "auth.json"), registry))


@needs("podman", "podman")
def test_podman_login_with_a_wrong_password(podman, secure_registry):
    result = podman.remote("login", "--username", USER, "--password-stdin",
                           secure_registry.address, stdin="not the password")
    failed_cleanly(result, "unauthorized", "invalid username/password")
    assert not (podman.root / "auth.json").exists() or \
        secure_registry.address not in (podman.root / "auth.json").read_text()


# -- distribution


def self_signed(key_path: Path, out: Path) -> Path:
    """A certificate for the key in ``key_path``: what distribution's rootcertbundle wants."""
    key = load_private_key(str(key_path))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard token issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    out.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return out


@needs("docker-registry", "docker-registry")
def test_distribution_trusts_dockyards_tokens(secure_registry, tmp_path):
    """The CNCF registry, given the certificate of Dockyard's signing key, accepts its tokens:
    the JWT format, the libtrust ``kid`` and the claims are what distribution expects."""
    bundle = self_signed(secure_registry.workdir / "token.key", tmp_path / "bundle.pem")
    port = free_port()
    config = {"version": 0.1, "log": {"level": "error"},
              "http": {"addr": f"127.0.0.1:{port}"},
              "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
              "auth": {"token": {"realm": f"https://{secure_registry.address}/auth/token",
                                 "service": "dockyard-interop", "issuer": "dockyard",
                                 "rootcertbundle": str(bundle)}}}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    server = Server("distribution", ["docker-registry", "serve", str(tmp_path / "config.yml")],
                    port, tmp_path / "distribution.log")
    context = ssl.create_default_context(cafile=str(secure_registry.cert_dir / "ca.crt"))

    def token(scope: str) -> str:
        query = urllib.parse.urlencode({"service": "dockyard-interop", "scope": scope})
        request = urllib.request.Request(
            f"https://{secure_registry.address}/auth/token?{query}",
            headers={"Authorization": encode_basic_auth(USER, PASSWORD)})
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return json.load(response)["token"]

    with server:
        tags = f"{server.base_url}/v2/team-a/app/tags/list"
        granted = http_request("GET", tags, headers={
            "Authorization": f"Bearer {token('repository:team-a/app:pull')}"})
        assert granted.status == 404, granted.body  # through the check: NAME_UNKNOWN
        assert b"NAME_UNKNOWN" in granted.body
        other = http_request("GET", tags, headers={
            "Authorization": f"Bearer {token('repository:team-a/web:pull')}"})
        assert other.status == 401
