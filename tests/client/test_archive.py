"""save and load: round trips through both archive formats, and archives made elsewhere."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile

import pytest

from client.store import BlobNotFound, DigestMismatch, ImageStore, StoreError
from client.store.archive import DOCKER, OCI, load, save
from ocispec import mediatypes as mt
from ocispec.digest import Digest
from ocispec.manifest import Descriptor
from ocispec.reference import Reference

from .layerkit import entry, put_image, tar_bytes

BUSYBOX = Reference.parse("busybox")
MINE = Reference.parse("localhost:5000/team/app:1.2")
LAYERS = [tar_bytes(entry("etc/hostname", data=b"box")), tar_bytes(entry("bin/sh", data=b"#!"))]


@pytest.fixture
async def source(tmp_path) -> tuple[ImageStore, Descriptor]:
    store = await ImageStore.open(tmp_path / "source")
    image = await asyncio.to_thread(put_image, store, LAYERS)
    await store.tag(BUSYBOX, image)
    await store.tag(MINE, image)
    return store, image


@pytest.fixture
async def target(tmp_path) -> ImageStore:
    return await ImageStore.open(tmp_path / "target")


async def save_bytes(store: ImageStore, images, format: str) -> bytes:
    out = io.BytesIO()
    await save(store, images, out, format)
    return out.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}


@pytest.mark.parametrize("format", [DOCKER, OCI])
async def test_round_trip_keeps_digests_and_tags(source, target, format):
    store, image = source
    archive = await save_bytes(store, [(BUSYBOX, image), (MINE, image)], format)

    loaded = await load(target, io.BytesIO(archive))
    assert [(str(i.reference), i.descriptor) for i in loaded] == [
        ("docker.io/library/busybox:latest", image), ("localhost:5000/team/app:1.2", image)]
    assert await target.resolve(MINE) == image
    assert set(target.blobs.digests()) == set(store.blobs.digests())
    [layer, _] = await target.unpack(image)
    assert (layer.path / "etc/hostname").read_bytes() == b"box"


async def test_docker_format_has_docker_metadata(source):
    store, image = source
    files = members(await save_bytes(store, [(BUSYBOX, image), (MINE, image)], DOCKER))
    manifest = json.loads(store.blobs.read(image.digest))
    [entry_] = json.loads(files["manifest.json"])
    assert entry_["RepoTags"] == ["busybox:latest", "localhost:5000/team/app:1.2"]
    assert entry_["Config"] == f"blobs/sha256/{manifest['config']['digest'][7:]}"
    assert entry_["Layers"] == [f"blobs/sha256/{layer['digest'][7:]}" for layer in manifest["layers"]]
    top = manifest["layers"][-1]["digest"][7:]
    assert json.loads(files["repositories"]) == {"busybox": {"latest": top},
                                                 "localhost:5000/team/app": {"1.2": top}}
    annotations = [m["annotations"] for m in json.loads(files["index.json"])["manifests"]]
    assert annotations[0] == {"org.opencontainers.image.ref.name": "latest",
                              "io.containerd.image.name": "docker.io/library/busybox:latest"}


async def test_legacy_docker_save_archive_loads_gzipped(target):
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [str(Digest.of(layer)) for layer in LAYERS * 2]}}).encode()
    config_name = f"{Digest.of(config).hex}.json"
    a, b, c, d = (letter * 64 for letter in "abcd")  # v1 layer IDs
    files = {f"{a}/layer.tar": LAYERS[0], f"{b}/layer.tar": LAYERS[1],
             f"{a}/json": b"{}", f"{a}/VERSION": b"1.0", config_name: config,
             "manifest.json": json.dumps([{
                 "Config": config_name, "RepoTags": ["busybox:legacy"],
                 "Layers": [f"{a}/layer.tar", f"{b}/layer.tar", f"{c}/layer.tar", f"{d}/layer.tar"],
             }]).encode()}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target_ in ((f"{c}/layer.tar", f"../{a}/layer.tar"),
                              (f"{d}/layer.tar", f"../{b}/layer.tar")):  # docker's de-duplication
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target_
            tar.addfile(info)

    [loaded] = await load(target, io.BytesIO(gzip.compress(raw.getvalue())))
    assert str(loaded.reference) == "docker.io/library/busybox:legacy"
    manifest = await target.manifest(loaded.descriptor)
    assert [layer.digest for layer in manifest.layers] == [Digest.of(layer) for layer in LAYERS * 2]
    assert {layer.media_type for layer in manifest.layers} == {mt.OCI_LAYER}
    assert len(await target.unpack(loaded.descriptor)) == 4
    assert len(set(target.blobs.digests())) == 4  # 2 layers, config, manifest: no v1 metadata


async def test_an_archive_tag_without_a_name_loads_a_dangling_image(source, target):
    store, image = source
    files = members(await save_bytes(store, [(None, image)], OCI))
    assert "annotations" not in json.loads(files["index.json"])["manifests"][0]
    [loaded] = await load(target, io.BytesIO(await save_bytes(store, [(None, image)], OCI)))
    assert loaded.reference is None
    assert [(i.ref_name, i.digest) for i in await target.images()] == [(None, image.digest)]


async def test_a_corrupt_blob_fails_the_load_and_tags_nothing(source, target):
    store, image = source
    archive = bytearray(await save_bytes(store, [(BUSYBOX, image)], OCI))
    config = store.blobs.read(Digest.parse(json.loads(store.blobs.read(image.digest))["config"]["digest"]))
    position = archive.index(config)
    archive[position + 2] ^= 0xFF
    with pytest.raises(DigestMismatch):
        await load(target, io.BytesIO(bytes(archive)))
    assert await target.images() == []


async def test_not_an_archive_is_refused(target):
    with pytest.raises(StoreError, match="cannot read the archive"):
        await load(target, io.BytesIO(b"this is no tar" * 100))
    with pytest.raises(StoreError, match="neither index.json nor manifest.json"):
        await load(target, io.BytesIO(tar_bytes(entry("hello", data=b"x"))))


async def test_an_index_cannot_be_saved_in_docker_format(source):
    store, image = source
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [image.to_json()]}).encode()
    descriptor = Descriptor(mt.OCI_INDEX, await store.put_blob(index), len(index))
    out = io.BytesIO()
    with pytest.raises(StoreError, match="multi-platform index"):
        await save(store, [(BUSYBOX, descriptor)], out, DOCKER)
    assert out.getvalue() == b""  # refused before writing
    assert (await save_bytes(store, [(BUSYBOX, descriptor)], OCI))


async def test_an_image_missing_a_blob_is_refused_before_writing(source):
    store, image = source
    manifest = await store.manifest(image)
    store.blobs.delete(manifest.layers[0].digest)
    out = io.BytesIO()
    with pytest.raises(BlobNotFound):
        await save(store, [(BUSYBOX, image)], out, OCI)
    assert out.getvalue() == b""
