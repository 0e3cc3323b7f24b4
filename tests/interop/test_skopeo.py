"""skopeo against Dockyard: copy images in and back out of the registry with digests intact.

skopeo (containers/image, the library podman and buildah use) exercises what
hand-written requests miss: its own upload strategy, blob existence checks,
manifest content negotiation, and the tag listing and deletion calls of a real
client. Images start as OCI layouts built by ``tests.helpers.oci_layout``; after a
round trip the layout skopeo writes must name the same manifest digest and hold
the same blobs, which proves the registry kept every byte as sent.
``--preserve-digests`` makes skopeo fail rather than silently convert.

skopeo keeps a blob-location cache (as root in /var/lib/containers/cache) that no
flag redirects; entries are keyed by registry host:port, and every session's
server has a new port, so earlier runs cannot make a copy skip an upload.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers.oci_layout import Image, ImageLayout, build_image, build_index, platform

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("skopeo") is None,
                       reason="skopeo is not on PATH (Debian package 'skopeo'; the README's "
                              "test command installs it)"),
]

PERMISSIVE_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}
TIMEOUT = 120


@dataclass(frozen=True)
class Skopeo:
    """skopeo with a permissive policy and its own temp dir, aimed at one plain-HTTP registry."""

    workdir: Path
    registry: str  # host:port

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        argv = ["skopeo", "--policy", str(self.workdir / "policy.json"),
                "--tmpdir", str(self.workdir / "tmp"), *args]
        return subprocess.run(argv, capture_output=True, timeout=TIMEOUT, check=False)

    def check(self, *args: str) -> bytes:
        """Run and return stdout; a failure shows skopeo's own error message."""
        result = self.run(*args)
        assert result.returncode == 0, \
            f"skopeo {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}"
        return result.stdout

    def ref(self, repository: str, reference: str = "") -> str:
        """``docker://`` reference to ``repository`` (``:tag`` or ``@digest`` appended as given)."""
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"docker://{self.registry}/{repository}" + (f"{separator}{reference}"
                                                           if reference else "")

    def push(self, layout: Path, tag: str, repository: str, *, extra: Sequence[str] = ()) -> None:
        self.check("copy", "--preserve-digests", "--dest-tls-verify=false", *extra,
                   f"oci:{layout}:{tag}", self.ref(repository, tag))

    def pull(self, repository: str, tag: str, layout: Path, *,
             extra: Sequence[str] = ()) -> ImageLayout:
        self.check("copy", "--preserve-digests", "--src-tls-verify=false", *extra,
                   self.ref(repository, tag), f"oci:{layout}:{tag}")
        return ImageLayout(layout)

    def inspect_raw(self, repository: str, reference: str) -> bytes:
        return self.check("inspect", "--raw", "--tls-verify=false", self.ref(repository, reference))


@pytest.fixture(scope="module")
def skopeo(tmp_path_factory: pytest.TempPathFactory, dockyard_url: str) -> Skopeo:
    workdir = tmp_path_factory.mktemp("skopeo")
    (workdir / "policy.json").write_text(json.dumps(PERMISSIVE_POLICY))
    (workdir / "tmp").mkdir()
    return Skopeo(workdir, dockyard_url.removeprefix("http://"))


@dataclass(frozen=True)
class Pushed:
    """A layout skopeo copied into the registry, and where it went."""

    layout: ImageLayout
    repository: str
    tag: str


@pytest.fixture(scope="module")
def pushed_image(skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """A three-layer image pushed once for the tests that read it back."""
    root = tmp_path_factory.mktemp("image-src")
    build_image(root, "v1", layers=3, seed=1)
    skopeo.push(root, "v1", "interop/image")
    return Pushed(ImageLayout(root), "interop/image", "v1")


@pytest.fixture(scope="module")
def pushed_index(skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """A two-platform index (and both images) pushed with ``--multi-arch all``."""
    root = tmp_path_factory.mktemp("index-src")
    build_index(root, "multi", [platform("amd64"), platform("arm64", variant="v8")], seed=2)
    skopeo.push(root, "multi", "interop/multiarch", extra=["--multi-arch", "all"])
    return Pushed(ImageLayout(root), "interop/multiarch", "multi")


def expect_same_content(source: Pushed, copy: ImageLayout) -> None:
    """Same digest for the tag, the same set of reachable blobs, each hashing to its name."""
    assert copy.resolve(source.tag).digest == source.layout.resolve(source.tag).digest
    digests = source.layout.reachable_digests(source.tag)
    assert copy.reachable_digests(source.tag) == digests
    copy.verify(digests)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_multi_layer_image_round_trips_with_identical_digests(
        skopeo: Skopeo, pushed_image: Pushed, tmp_path: Path) -> None:
    copy = skopeo.pull(pushed_image.repository, pushed_image.tag, tmp_path / "out")
    expect_same_content(pushed_image, copy)


def test_multi_platform_index_round_trips_with_identical_digests(
        skopeo: Skopeo, pushed_index: Pushed, tmp_path: Path) -> None:
    copy = skopeo.pull(pushed_index.repository, pushed_index.tag, tmp_path / "out",
                       extra=["--multi-arch", "all"])
    expect_same_content(pushed_index, copy)


def test_raw_manifests_are_served_byte_for_byte(skopeo: Skopeo, pushed_image: Pushed,
                                                pushed_index: Pushed) -> None:
    """By tag and by digest, for an image, an index and each of the index's children."""
    for pushed in (pushed_image, pushed_index):
        source = pushed.layout
        top = source.resolve(pushed.tag)
        by_tag = skopeo.inspect_raw(pushed.repository, pushed.tag)
        assert sha256(by_tag) == str(top.digest)
        assert by_tag == source.read_blob(top.digest)
        for child in source.walk(top):
            if child.media_type.endswith("manifest.v1+json"):
                raw = skopeo.inspect_raw(pushed.repository, str(child.digest))
                assert raw == source.read_blob(child.digest)


def test_inspect_reports_digest_layers_and_platform(skopeo: Skopeo,
                                                    pushed_image: Pushed) -> None:
    report = json.loads(skopeo.check("inspect", "--tls-verify=false",
                                     skopeo.ref(pushed_image.repository, pushed_image.tag)))
    manifest = pushed_image.layout.read_json(pushed_image.layout.resolve("v1").digest)
    assert report["Digest"] == str(pushed_image.layout.resolve("v1").digest)
    assert report["Layers"] == [layer["digest"] for layer in manifest["layers"]]
    assert (report["Os"], report["Architecture"]) == ("linux", "amd64")
    assert pushed_image.tag in report["RepoTags"]


def test_list_tags(skopeo: Skopeo, pushed_image: Pushed) -> None:
    """A second tag made by a registry-to-registry copy, then both tags listed."""
    skopeo.check("copy", "--preserve-digests", "--src-tls-verify=false",
                 "--dest-tls-verify=false", skopeo.ref(pushed_image.repository, "v1"),
                 skopeo.ref(pushed_image.repository, "v1-again"))
    listing = json.loads(skopeo.check("list-tags", "--tls-verify=false",
                                      skopeo.ref(pushed_image.repository)))
    assert listing["Repository"].endswith(pushed_image.repository)
    assert {"v1", "v1-again"} <= set(listing["Tags"])


def test_delete_removes_the_manifest(skopeo: Skopeo, dockyard_url: str, tmp_path: Path) -> None:
    """skopeo deletes by digest; afterwards neither the tag nor the digest resolves."""
    image: Image = build_image(tmp_path / "src", "doomed", layers=1, seed=3)
    skopeo.push(tmp_path / "src", "doomed", "interop/deleted")
    skopeo.check("delete", "--tls-verify=false", skopeo.ref("interop/deleted", "doomed"))
    failed = skopeo.run("inspect", "--raw", "--tls-verify=false",
                        skopeo.ref("interop/deleted", "doomed"))
    assert failed.returncode != 0, "the deleted tag still resolves"
    for reference in ("doomed", str(image.manifest.digest)):
        request = urllib.request.Request(
            f"{dockyard_url}/v2/interop/deleted/manifests/{reference}", method="HEAD")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 404
