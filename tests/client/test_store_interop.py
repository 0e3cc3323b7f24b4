"""skopeo reads the local store and the archives ``save`` writes, and ``load`` reads skopeo's."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from client.store import ImageStore
from client.store.archive import DOCKER, OCI, load, save
from ocispec.digest import Digest
from ocispec.reference import Reference

from .layerkit import entry, put_image, tar_bytes

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("skopeo") is None,
                       reason="skopeo is not on PATH (Debian package 'skopeo')"),
]

BUSYBOX = Reference.parse("busybox")
NAME = "docker.io/library/busybox:latest"


def skopeo(tmp_path: Path, *args: str) -> str:
    """Run skopeo with a permissive policy and a private temp dir; its stdout."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    (tmp_path / "skopeo-tmp").mkdir(exist_ok=True)
    result = subprocess.run(["skopeo", "--policy", str(policy), "--tmpdir",
                             str(tmp_path / "skopeo-tmp"), *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"skopeo {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture
async def store(tmp_path):
    store = await ImageStore.open(tmp_path / "root")
    layers = [tar_bytes(entry("etc/hostname", data=b"box")), tar_bytes(entry("bin/sh", data=b"#!"))]
    image = await asyncio.to_thread(put_image, store, layers)
    await store.tag(BUSYBOX, image)
    return store, image


def layout_digest(layout: Path) -> Digest:
    [entry_] = json.loads((layout / "index.json").read_text())["manifests"]
    return Digest.parse(entry_["digest"])


async def test_skopeo_reads_the_store_as_an_oci_layout(tmp_path, store):
    store, image = store
    inspected = json.loads(skopeo(tmp_path, "inspect", f"oci:{store.layout}:{NAME}"))
    assert inspected["Digest"] == str(image.digest)
    skopeo(tmp_path, "copy", "--preserve-digests", f"oci:{store.layout}:{NAME}",
           f"oci:{tmp_path / 'copy'}:latest")
    assert layout_digest(tmp_path / "copy") == image.digest


@pytest.mark.parametrize("format, transport", [(OCI, "oci-archive"), (DOCKER, "docker-archive")])
async def test_skopeo_reads_saved_archives(tmp_path, store, format, transport):
    store, image = store
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as out:
        await save(store, [(BUSYBOX, image)], out, format)
    name = NAME if format == OCI else "busybox:latest"
    skopeo(tmp_path, "copy", f"{transport}:{archive}:{name}", f"oci:{tmp_path / 'copy'}:latest")
    config = json.loads(store.blobs.read(Digest.parse(
        json.loads(store.blobs.read(image.digest))["config"]["digest"])))
    copied = json.loads(skopeo(tmp_path, "inspect", "--config", f"oci:{tmp_path / 'copy'}:latest"))
    assert copied["rootfs"] == config["rootfs"]
    if format == OCI:  # the docker transport rewrites the manifest as a Docker one
        assert layout_digest(tmp_path / "copy") == image.digest


@pytest.mark.parametrize("transport", ["oci-archive", "docker-archive"])
async def test_load_reads_archives_skopeo_wrote(tmp_path, store, transport):
    store, image = store
    archive = tmp_path / "skopeo.tar"
    skopeo(tmp_path, "copy", f"oci:{store.layout}:{NAME}", f"{transport}:{archive}:{NAME}")
    target = await ImageStore.open(tmp_path / "target")
    with open(archive, "rb") as source:
        [loaded] = await load(target, source)
    assert str(loaded.reference) == NAME
    layers = await target.unpack(loaded.descriptor)
    assert (layers[0].path / "etc/hostname").read_bytes() == b"box"
