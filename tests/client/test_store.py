"""The local image store: verified ingest, tags in index.json, reachability-based deletion."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os

import pytest

from client.store import DigestMismatch, ImageConflict, ImageNotFound, ImageStore
from client.fsutil import try_lock
from client.store.leases import Lease
from ocispec.digest import Digest
from ocispec.reference import Reference

from .layerkit import entry, put_image, tar_bytes

BUSYBOX = Reference.parse("busybox")
ALPINE = Reference.parse("alpine:3.19")


@pytest.fixture
async def store(tmp_path) -> ImageStore:
    return await ImageStore.open(tmp_path / "root")


def leftovers(store: ImageStore) -> list[str]:
    return os.listdir(store.blobs.ingest_dir)


def stored_blobs(store: ImageStore) -> set[Digest]:
    return set(store.blobs.digests())


async def test_ingest_with_a_wrong_digest_keeps_nothing(store):
    with pytest.raises(DigestMismatch, match="content has digest"):
        async with store.ingest(Digest.of(b"good"), 4) as writer:
            await writer.write(b"bad!")
    assert stored_blobs(store) == set() and leftovers(store) == []


async def test_ingest_of_more_bytes_than_announced_keeps_nothing(store):
    with pytest.raises(DigestMismatch, match="more than the announced 4 bytes"):
        async with store.ingest(Digest.of(b"good"), 4) as writer:
            await writer.write(b"good and more" * 100_000)  # past the buffer: written at once
    assert stored_blobs(store) == set() and leftovers(store) == []


async def test_put_blob_verifies_and_stores_once(store):
    digest = await store.put_blob(b"config")
    assert digest == Digest.of(b"config") and await store.read_blob(digest) == b"config"
    with pytest.raises(DigestMismatch):
        await store.put_blob(b"other", Digest.of(b"config!"))
    assert stored_blobs(store) == {digest} and leftovers(store) == []


async def test_interrupted_ingest_resumes_from_its_partial_file(store):
    data = os.urandom(3 << 20)
    digest = Digest.of(data)
    with pytest.raises(ConnectionResetError):
        async with store.ingest(digest, len(data)) as writer:
            await writer.write(data[: 2 << 20])
            raise ConnectionResetError("peer went away")
    assert leftovers(store) == [f"sha256-{digest.hex}.partial"]

    async with store.ingest(digest, len(data)) as writer:
        assert writer.offset == 2 << 20 and not writer.complete
        await writer.write(data[writer.offset:])
    assert await store.read_blob(digest) == data and leftovers(store) == []

    async with store.ingest(digest, len(data)) as writer:
        assert writer.complete


async def test_ingest_restarts_when_the_source_cannot_resume(store):
    data = b"0123456789"
    with pytest.raises(ConnectionResetError):
        async with store.ingest(Digest.of(data), len(data)) as writer:
            await writer.write(b"01234")
            raise ConnectionResetError
    async with store.ingest(Digest.of(data), len(data)) as writer:
        assert writer.offset == 5
        await writer.reset()
        await writer.write(data)
    assert await store.read_blob(Digest.of(data)) == data


async def test_ingest_without_a_digest_names_the_blob_by_its_content(store):
    async with store.ingest() as writer:
        await writer.write(b"built layer")
    assert writer.digest == Digest.of(b"built layer") and leftovers(store) == []


async def test_tags_are_full_references_in_index_json(store):
    image = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a", data=b"1"))])
    await store.tag(BUSYBOX, image)
    await store.tag(ALPINE, image)
    assert await store.resolve(BUSYBOX) == image
    assert await store.resolve(BUSYBOX.with_digest(image.digest)) == image
    index = json.loads((store.layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] \
        == ["docker.io/library/busybox:latest", "docker.io/library/alpine:3.19"]
    assert json.loads((store.layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    with pytest.raises(ImageNotFound, match="no such image: nginx:latest"):
        await store.resolve(Reference.parse("nginx"))


async def test_untag_keeps_the_image_until_prune(store):
    image = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a"))])
    await store.tag(BUSYBOX, image)
    assert await store.untag(BUSYBOX) == image
    with pytest.raises(ImageNotFound):
        await store.resolve(BUSYBOX)
    assert [(i.ref_name, i.digest) for i in await store.images()] == [(None, image.digest)]
    await store.prune()
    assert await store.images() == [] and stored_blobs(store) == set()


async def test_moving_a_tag_leaves_the_old_image_dangling_until_prune(store):
    old = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a", data=b"old"))])
    new = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a", data=b"new"))])
    await store.tag(BUSYBOX, old)
    await store.unpack(old)
    await store.tag(BUSYBOX, new)
    images = {image.ref_name: image.digest for image in await store.images()}
    assert images == {"docker.io/library/busybox:latest": new.digest, None: old.digest}
    assert (await store.disk_usage()).dangling == 1

    pruned = await store.prune()
    assert pruned.deleted == [old.digest] and pruned.freed > 0
    assert [image.digest for image in await store.images()] == [new.digest]
    assert store.layers.chain_ids() == []  # the old image's layer went with it
    assert await store.has_blob(new.digest)


async def test_prune_keeps_the_dangling_images_it_is_told_to(store):
    kept = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a", data=b"kept"))])
    gone = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a", data=b"gone"))])
    for image in (kept, gone):
        await store.tag(BUSYBOX, image)
        await store.unpack(image)
    await store.untag(BUSYBOX)
    assert {image.ref_name for image in await store.images()} == {None}

    pruned = await store.prune(keep=[kept.digest])
    assert pruned.deleted == [gone.digest]
    assert [(i.ref_name, i.digest) for i in await store.images()] == [(None, kept.digest)]
    assert len(store.layers.chain_ids()) == 1 and await store.has_blob(kept.digest)


async def test_rmi_deletes_only_what_no_other_image_uses(store):
    shared, only_a, only_b = (tar_bytes(entry(name, data=name.encode())) for name in "sab")
    a = await asyncio.to_thread(put_image, store, [shared, only_a], "gzip", "a")
    b = await asyncio.to_thread(put_image, store, [shared, only_b], "gzip", "b")
    await store.tag(BUSYBOX, a)
    await store.tag(ALPINE, b)
    layers_a, layers_b = await store.unpack(a), await store.unpack(b)
    assert layers_a[0] == layers_b[0]  # the shared bottom layer is unpacked once
    blobs_b = stored_blobs(store) - stored_blobs_of(store, a, exclusive_of=b)

    removal = await store.remove(BUSYBOX)
    assert removal.untagged == ["docker.io/library/busybox:latest"]
    assert removal.deleted == [a.digest] and removal.freed > 0
    assert stored_blobs(store) == blobs_b
    assert set(store.layers.chain_ids()) == {info.chain_id for info in layers_b}
    assert await store.unpack(b) == layers_b

    await store.remove(ALPINE)
    assert stored_blobs(store) == set() and store.layers.chain_ids() == []


def stored_blobs_of(store: ImageStore, image, exclusive_of) -> set[Digest]:
    """Blobs of ``image`` that ``exclusive_of`` does not share."""
    def blobs(descriptor):
        manifest = json.loads(store.blobs.read(descriptor.digest))
        return {descriptor.digest, Digest.parse(manifest["config"]["digest"]),
                *(Digest.parse(layer["digest"]) for layer in manifest["layers"])}
    return blobs(image) - blobs(exclusive_of)


async def test_rmi_of_one_of_several_tags_only_untags(store):
    image = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a"))])
    await store.tag(BUSYBOX, image)
    await store.tag(ALPINE, image)
    removal = await store.remove(ALPINE)
    assert (removal.untagged, removal.deleted, removal.freed) == (["docker.io/library/alpine:3.19"], [], 0)
    assert await store.resolve(BUSYBOX) == image


async def test_rmi_by_id_needs_force_for_an_image_with_several_tags(store):
    image = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a"))])
    await store.tag(BUSYBOX, image)
    await store.tag(ALPINE, image)
    [listed, _] = await store.images()
    short_id = listed.id.hex[:12]
    with pytest.raises(ImageConflict, match="must be forced"):
        await store.remove(short_id)
    with pytest.raises(ImageNotFound):
        await store.remove("0000000000ff")
    removal = await store.remove(f"sha256:{short_id}", force=True)
    assert sorted(removal.untagged) == ["docker.io/library/alpine:3.19", "docker.io/library/busybox:latest"]
    assert removal.deleted == [image.digest] and stored_blobs(store) == set()


async def test_a_lease_protects_untagged_blobs_from_prune(store):
    async with store.lease() as lease:
        digest = Digest.of(b"in flight")
        await lease.add(digest)
        await store.put_blob(b"in flight")
        await store.prune()
        assert await store.has_blob(digest)
    await store.prune()
    assert not await store.has_blob(digest)


def _die_holding_a_lease(root: str, digest: str) -> None:
    store = ImageStore(root)
    Lease(store.layout / "leases", store.index).add(Digest.parse(digest))
    os._exit(0)  # no release: as if killed


async def test_a_lease_of_a_dead_process_protects_nothing(store):
    digest = await store.put_blob(b"orphan")
    child = multiprocessing.get_context("fork").Process(
        target=_die_holding_a_lease, args=(str(store.root), str(digest)))
    child.start()
    await asyncio.to_thread(child.join)
    assert len(os.listdir(store.layout / "leases")) == 1
    await store.prune()
    assert not await store.has_blob(digest) and os.listdir(store.layout / "leases") == []


async def test_prune_removes_abandoned_partial_downloads_only(store):
    with pytest.raises(ConnectionResetError):
        async with store.ingest(Digest.of(b"abandoned"), 9) as writer:
            await writer.write(b"aban")
            raise ConnectionResetError
    data = os.urandom((1 << 20) + 1)  # past the writer's buffer: the first MiB is on disk
    async with store.ingest(Digest.of(data), len(data)) as live:
        await live.write(data[:-1])
        # The writer hands the first MiB to a worker thread and returns: wait for it to land.
        for _ in range(200):
            if (await store.disk_usage()).partial_bytes == 4 + (1 << 20):
                break
            await asyncio.sleep(0.01)
        assert (await store.disk_usage()).partial_bytes == 4 + (1 << 20)
        await store.prune()
        assert leftovers(store) == [f"sha256-{Digest.of(data).hex}.partial"]
        await live.write(data[-1:])
    assert await store.has_blob(Digest.of(data)) and leftovers(store) == []


def _tag_many(root: str, prefix: str, digest: str, size: int, count: int) -> None:
    from ocispec import mediatypes as mt
    from ocispec.manifest import Descriptor

    store = ImageStore(root)
    descriptor = Descriptor(mt.OCI_MANIFEST, Digest.parse(digest), size)
    for i in range(count):
        asyncio.run(store.tag(Reference.parse(f"{prefix}:{i}"), descriptor))


async def test_concurrent_taggers_in_two_processes_lose_no_update(store):
    image = await asyncio.to_thread(put_image, store, [tar_bytes(entry("a"))])
    spawn = multiprocessing.get_context("spawn")
    taggers = [spawn.Process(target=_tag_many, args=(str(store.root), name, str(image.digest),
                                                     image.size, 25))
               for name in ("one", "two")]
    for tagger in taggers:
        tagger.start()
    for tagger in taggers:
        await asyncio.to_thread(tagger.join)
    assert [tagger.exitcode for tagger in taggers] == [0, 0]
    names = {image.ref_name for image in await store.images()}
    assert len(names) == 50


async def test_prune_removes_layer_directories_left_by_a_killed_unpacker(store):
    debris = store.layers.root / ".tmp-0123-dead"
    (debris / "diff").mkdir(parents=True)
    live = store.layers.root / ".tmp-4567-live"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert try_lock(fd)  # as an unpacker at work holds it
        await store.prune()
        assert os.listdir(store.layers.root) == [live.name]
    finally:
        os.close(fd)
        os.rmdir(live)
