"""The dockyard client beside real peers: skopeo, podman and the CNCF distribution registry.

Images skopeo pushes pull with ``dockyard``; images ``dockyard`` pushes pull
with skopeo and podman; digests are identical all the way, which proves no
byte was changed.  The same round trips run against distribution, and with
credentials from a Docker ``config.json`` against registries that ask for
them.  The client runs as users run it: ``python -m client`` in a process of
its own, with a private HOME and store root.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import REPO_ROOT
from bench.registry import Target
from ocispec.digest import Digest

from ..helpers.oci_layout import ImageLayout, build_image, build_index, platform
from ..registry.server_process import run_registry
from .test_skopeo import PERMISSIVE_POLICY, Skopeo

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("skopeo") is None,
                       reason="skopeo is not on PATH (Debian package 'skopeo')"),
]
USER, PASSWORD = "alice", "wonderland"


class Client:
    """``python -m client --root ROOT ...`` with its own HOME and Docker config."""

    def __init__(self, workdir: Path) -> None:
        self.root = workdir / "root"
        self.home = workdir / "home"
        self.docker_config = self.home / ".docker"
        self.docker_config.mkdir(parents=True, exist_ok=True)

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home),
               "DOCKER_CONFIG": str(self.docker_config)}
        return subprocess.run([sys.executable, "-m", "client", "--root", str(self.root), *argv],
                              capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env)

    def check(self, *argv: str) -> str:
        result = self.run(*argv)
        assert result.returncode == 0, f"dockyard {' '.join(argv)}: {result.stderr}"
        return result.stdout

    def log_in(self, registry: str) -> None:
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (self.docker_config / "config.json").write_text(
            json.dumps({"auths": {registry: {"auth": auth}}}))

    def digest(self, reference: str) -> Digest:
        return Digest.parse(json.loads(self.check("inspect", reference))[0]["Descriptor"]["digest"])


def skopeo_for(workdir: Path, registry: str) -> Skopeo:
    (workdir / "policy.json").write_text(json.dumps(PERMISSIVE_POLICY))
    (workdir / "tmp").mkdir(exist_ok=True)
    return Skopeo(workdir, registry)


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return Client(tmp_path / "client")


@pytest.fixture(scope="module")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The CNCF distribution registry (Debian's docker-registry) on 127.0.0.1; its host:port."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not on PATH (Debian package 'docker-registry')")
    with Target("distribution").server(tmp_path_factory.mktemp("distribution"), False) as server:
        yield server.base_url.removeprefix("http://")


def expect_same(source: ImageLayout, tag: str, copy: ImageLayout, copy_tag: str) -> None:
    assert copy.resolve(copy_tag).digest == source.resolve(tag).digest
    digests = source.reachable_digests(tag)
    assert copy.reachable_digests(copy_tag) == digests
    copy.verify(digests)


@pytest.mark.parametrize("registry", ["dockyard", "distribution"])
def test_skopeo_pushes_dockyard_pulls_dockyard_pushes_skopeo_pulls(
        registry: str, request: pytest.FixtureRequest, client: Client, tmp_path: Path) -> None:
    host = (request.getfixturevalue("dockyard_url").removeprefix("http://")
            if registry == "dockyard" else request.getfixturevalue("distribution"))
    skopeo = skopeo_for(tmp_path, host)
    build_image(tmp_path / "src", "v1", layers=3, seed=11)
    source = ImageLayout(tmp_path / "src")
    skopeo.push(tmp_path / "src", "v1", "client/image")

    client.check("pull", f"{host}/client/image:v1")
    assert client.digest(f"{host}/client/image:v1") == source.resolve("v1").digest
    client.check("tag", f"{host}/client/image:v1", f"{host}/client/copy:v2")
    client.check("push", f"{host}/client/copy:v2")

    expect_same(source, "v1", skopeo.pull("client/copy", "v2", tmp_path / "back"), "v2")
    # the store is an OCI layout skopeo reads as it is
    skopeo.check("copy", "--preserve-digests", f"oci:{client.root}/store:{host}/client/copy:v2",
                 f"oci:{tmp_path / 'local'}:v2")
    expect_same(source, "v1", ImageLayout(tmp_path / "local"), "v2")


@pytest.mark.parametrize("registry", ["dockyard", "distribution"])
def test_multi_platform_round_trip(registry: str, request: pytest.FixtureRequest,
                                   client: Client, tmp_path: Path) -> None:
    host = (request.getfixturevalue("dockyard_url").removeprefix("http://")
            if registry == "dockyard" else request.getfixturevalue("distribution"))
    skopeo = skopeo_for(tmp_path, host)
    build_index(tmp_path / "src", "multi", [platform("amd64"), platform("arm64", variant="v8")],
                seed=12)
    skopeo.push(tmp_path / "src", "multi", "client/multi", extra=["--multi-arch", "all"])

    client.check("pull", "--all-platforms", f"{host}/client/multi:multi")
    client.check("tag", f"{host}/client/multi:multi", f"{host}/client/multi-copy:1")
    client.check("push", f"{host}/client/multi-copy:1")

    copy = skopeo.pull("client/multi-copy", "1", tmp_path / "back", extra=["--multi-arch", "all"])
    expect_same(ImageLayout(tmp_path / "src"), "multi", copy, "1")


@pytest.mark.skipif(shutil.which("podman") is None,
                    reason="podman is not on PATH (Debian package 'podman')")
def test_podman_pulls_what_dockyard_pushed(dockyard_url: str, client: Client,
                                           tmp_path: Path) -> None:
    host = dockyard_url.removeprefix("http://")
    skopeo = skopeo_for(tmp_path, host)
    build_image(tmp_path / "src", "v1", layers=2, seed=13)
    skopeo.push(tmp_path / "src", "v1", "client/for-podman-src")
    client.check("pull", f"{host}/client/for-podman-src:v1")
    client.check("tag", f"{host}/client/for-podman-src:v1", f"{host}/client/for-podman:v1")
    client.check("push", f"{host}/client/for-podman:v1")

    storage = Path(tempfile.mkdtemp(prefix="dy-podman-"))  # podman: runroot of < 50 characters
    podman = ["podman", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        pulled = subprocess.run([*podman, "pull", "--tls-verify=false",
                                 f"{host}/client/for-podman:v1"],
                                capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        digest = subprocess.run([*podman, "image", "inspect", "--format", "{{.Digest}}",
                                 f"{host}/client/for-podman:v1"],
                                capture_output=True, text=True, timeout=60, check=True)
        assert digest.stdout.strip() == str(ImageLayout(tmp_path / "src").resolve("v1").digest)
    finally:
        subprocess.run([*podman, "system", "reset", "--force"], capture_output=True, timeout=60)
        shutil.rmtree(storage, ignore_errors=True)


def _htpasswd(path: Path) -> Path:
    import bcrypt  # what htpasswd -B writes, and the only hash distribution accepts

    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{USER}:{hashed}\n")
    return path


def _pull_with_and_without_credentials(client: Client, host: str, tmp_path: Path) -> None:
    """Anonymous: one clear line and exit 1; with config.json's ``auths``: pulled."""
    skopeo = skopeo_for(tmp_path, host)
    build_image(tmp_path / "src", "v1", layers=1, seed=14)
    skopeo.check("copy", "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}",
                 f"oci:{tmp_path / 'src'}:v1", skopeo.ref("private/app", "v1"))
    refused = client.run("pull", f"{host}/private/app:v1")
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1 and refused.stderr.startswith("Error: ")
    client.log_in(host)
    client.check("pull", f"{host}/private/app:v1")
    client.check("tag", f"{host}/private/app:v1", f"{host}/private/copy:v1")
    client.check("push", f"{host}/private/copy:v1")


def test_credentials_from_docker_config_with_distribution(client: Client, tmp_path: Path) -> None:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not on PATH (Debian package 'docker-registry')")
    target = Target("distribution")
    server = target.server(tmp_path / "distribution", False)
    config = Path(server.argv[-1])
    import yaml
    settings = yaml.safe_load(config.read_text())
    settings["auth"] = {"htpasswd": {"realm": "test",
                                     "path": str(_htpasswd(tmp_path / "htpasswd"))}}
    config.write_text(yaml.safe_dump(settings))
    with server:
        _pull_with_and_without_credentials(client, server.base_url.removeprefix("http://"),
                                           tmp_path)


def test_credentials_from_docker_config_with_dockyard(client: Client, tmp_path: Path) -> None:
    auth = {"auth": {"htpasswd": {"realm": "test",
                                  "path": str(_htpasswd(tmp_path / "htpasswd"))}}}
    (tmp_path / "registry").mkdir()
    server = run_registry(tmp_path / "registry", config=auth)
    try:
        server.start()
    except RuntimeError as err:
        pytest.skip(f"the Dockyard registry does not take auth.htpasswd yet (issue 3, "
                    f"registry/auth): {str(err).splitlines()[-1]}")
    try:
        try:
            urllib.request.urlopen(f"{server.url}/v2/", timeout=10)
            pytest.skip("the Dockyard registry does not enforce auth yet (issue 3, registry/auth)")
        except urllib.error.HTTPError as err:
            assert err.code == 401
        _pull_with_and_without_credentials(client, server.url.removeprefix("http://"), tmp_path)
    finally:
        server.stop()
