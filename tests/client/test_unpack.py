"""Layer unpacking: every entry type, compressions, diff IDs, and hostile archives."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from client.layers import LayerError, LayerStore, chain_ids
from client.layers.store import unpack_layer, unpack_pool
from client.layers.unpack import unpack_stream
from ocispec.digest import Digest

from .layerkit import MTIME, compress, entry, tar_bytes

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="ownership, devices and trusted xattrs need root")

DIR, FILE, SYMLINK, HARDLINK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def unpack(tmp_path: Path, layer: bytes, privileged: bool | None = None) -> Path:
    """Unpack ``layer`` into a fresh directory; privileged by default when root."""
    if privileged is None:
        privileged = os.geteuid() == 0
    dest = tmp_path / "dest"
    dest.mkdir()
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        unpacked = unpack_stream(io.BytesIO(layer), fd, privileged)
    finally:
        os.close(fd)
    assert unpacked.diff_id == Digest.of(layer)
    return dest


@needs_root
def test_every_entry_type_keeps_its_metadata(tmp_path):
    layer = tar_bytes(
        entry("./", DIR, mode=0o755),
        entry("etc", DIR, mode=0o750, uid=10, gid=20, mtime=1_000),
        entry("etc/passwd", data=b"root:x:0:0", mode=0o640, uid=1234, gid=5678),
        entry("etc/shadow-link", HARDLINK, linkname="etc/passwd"),
        entry("bin/su", data=b"#!su", mode=0o4755),  # parent never listed
        entry("bin/wall", data=b"#!wall", mode=0o2755),
        entry("tmp", DIR, mode=0o1777),
        entry("localtime", SYMLINK, linkname="/usr/share/zoneinfo/UTC", uid=7, gid=8),
        entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        entry("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o660),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o620),
        entry("caps", data=b"ping", pax_headers={
            "SCHILY.xattr.user.comment": "hello",
            "SCHILY.xattr.trusted.note": "\udcff\udcfebinary",  # bytes that are not UTF-8
        }),
        entry("opaque", DIR),
        entry("opaque/.wh..wh..opq"),
        entry("gone/.wh.file"),
    )
    dest = unpack(tmp_path, layer)

    passwd = dest / "etc/passwd"
    assert passwd.read_bytes() == b"root:x:0:0"
    st = passwd.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o640, 1234, 5678, MTIME)
    assert (dest / "etc/shadow-link").stat().st_ino == st.st_ino
    etc = (dest / "etc").stat()
    assert (stat.S_IMODE(etc.st_mode), etc.st_uid, etc.st_gid, etc.st_mtime) == (0o750, 10, 20, 1_000)
    assert stat.S_IMODE((dest / "bin/su").stat().st_mode) == 0o4755
    assert stat.S_IMODE((dest / "bin/wall").stat().st_mode) == 0o2755
    assert stat.S_IMODE((dest / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((dest / "bin").stat().st_mode) == 0o755
    link = (dest / "localtime").lstat()
    assert os.readlink(dest / "localtime") == "/usr/share/zoneinfo/UTC"
    assert (link.st_uid, link.st_gid, link.st_mtime) == (7, 8, MTIME)
    null = (dest / "dev/null").lstat()
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    assert stat.S_IMODE(null.st_mode) == 0o666
    assert stat.S_ISBLK((dest / "dev/loop0").lstat().st_mode)
    fifo = (dest / "run/fifo").lstat()
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620
    assert os.getxattr(dest / "caps", "user.comment") == b"hello"
    assert os.getxattr(dest / "caps", "trusted.note") == b"\xff\xfebinary"
    assert os.getxattr(dest / "opaque", "trusted.overlay.opaque") == b"y"
    whiteout = (dest / "gone/file").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert not (dest / "gone/.wh.file").exists()


def test_unprivileged_unpack_uses_user_xattrs_and_skips_what_needs_root(tmp_path):
    layer = tar_bytes(
        entry("d", DIR, mode=0o555),  # read-only, yet its content must still be written
        entry("d/file", data=b"x", pax_headers={"SCHILY.xattr.trusted.x": "1",
                                                "SCHILY.xattr.user.y": "2"}),
        entry("d/.wh..wh..opq"),
        entry("d/.wh.old"),
        entry("precise", data=b"", pax_headers={"mtime": "1600000000.123456789"}),
    )
    dest = unpack(tmp_path, layer, privileged=False)
    assert (dest / "precise").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert os.getxattr(dest / "d", "user.overlay.opaque") == b"y"
    assert os.listxattr(dest / "d/file") == ["user.y"]
    assert stat.S_ISCHR((dest / "d/old").lstat().st_mode)
    assert stat.S_IMODE((dest / "d").stat().st_mode) == 0o555


def test_later_entries_replace_earlier_ones_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep")
    layer = tar_bytes(
        entry("f", SYMLINK, linkname=str(outside)),
        entry("f", data=b"new"),  # replaces the symlink, never writes through it
        entry("d", DIR),
        entry("d/x", data=b"1"),
        entry("d", data=b"now a file"),
        entry("e", data=b"file first"),
        entry("e", DIR),
        entry("kept", data=b"same layer"),
        entry(".wh.kept"),  # a whiteout never hides its own layer's file
        entry("s", SYMLINK, linkname=str(tmp_path)),
        entry("s", DIR),  # replaces the link to a directory outside
        entry("s/inside", data=b"in"),
    )
    dest = unpack(tmp_path, layer)
    assert outside.read_text() == "keep" and not (tmp_path / "inside").exists()
    assert (dest / "s/inside").read_bytes() == b"in" and not (dest / "s").is_symlink()
    assert (dest / "f").read_bytes() == b"new" and not (dest / "f").is_symlink()
    assert (dest / "d").read_bytes() == b"now a file"
    assert (dest / "e").is_dir()
    assert (dest / "kept").read_bytes() == b"same layer"


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
async def test_layer_store_unpacks_each_compression_once(tmp_path, compression):
    layer = tar_bytes(entry("hello", data=b"world"))
    blob = tmp_path / "blob"
    blob.write_bytes(compress(layer, compression))
    layers = LayerStore(tmp_path / "layers")
    diff_id = Digest.of(layer)
    first, second = await asyncio.gather(layers.unpack(blob, diff_id, None),
                                         layers.unpack(blob, diff_id, None))
    assert first == second == layers.get(diff_id)
    assert (first.path / "hello").read_bytes() == b"world"
    assert (first.chain_id, first.size, first.parent) == (diff_id, 5, None)
    assert os.listdir(tmp_path / "layers") == [diff_id.hex]

    upper = tar_bytes(entry("more", data=b"!"))
    blob.write_bytes(compress(upper, compression))
    child = await layers.unpack(blob, Digest.of(upper), first.chain_id)
    assert child.chain_id == chain_ids([diff_id, Digest.of(upper)])[1]
    assert child.parent == diff_id and layers.has(child.chain_id)


def test_zstd_layers_may_hold_several_frames_and_skippable_frames(tmp_path):
    layer = tar_bytes(entry("a", data=b"1" * 5000), entry("b", data=b"2"))
    skippable = struct.pack("<II", 0x184D2A50, 3) + b"toc"
    blob = tmp_path / "blob"
    blob.write_bytes(compress(layer[:4096], "zstd") + compress(layer[4096:], "zstd") + skippable)
    info = unpack_layer(tmp_path / "layers", blob, Digest.of(layer), None)
    assert (info.path / "b").read_bytes() == b"2"


def test_chain_ids_follow_the_image_spec():
    a, b = Digest.of(b"a"), Digest.of(b"b")
    assert chain_ids([a, b]) == [a, Digest.of(f"{a} {b}".encode())]


OUTSIDE = "/outside-of-layer"  # replaced by a real directory outside the layer root

HOSTILE = {
    "absolute path": ([entry(f"{OUTSIDE}/evil", data=b"x")], "absolute path"),
    "dot-dot": ([entry("a/../../outside-of-layer/evil", data=b"x")], "'..'"),
    "symlink then write through it": (
        [entry("escape", SYMLINK, linkname=OUTSIDE), entry("escape/evil", data=b"x")],
        "parent escape is a symbolic link"),
    "relative symlink then write through it": (
        [entry("escape", SYMLINK, linkname="../../../../../../../.."),
         entry("escape/tmp/evil", data=b"x")], "parent escape is a symbolic link"),
    "symlinked parent deeper down": (
        [entry("a", DIR), entry("a/b", SYMLINK, linkname="/"),
         entry("a/b/etc/evil", data=b"x")], "parent a/b is a symbolic link"),
    "hard link to an absolute path": (
        [entry("evil", HARDLINK, linkname=f"{OUTSIDE}/secret")], "absolute path"),
    "hard link with dot-dot": (
        [entry("evil", HARDLINK, linkname="../outside-of-layer/secret")], "'..'"),
    "hard link through a symlink": (
        [entry("s", SYMLINK, linkname=OUTSIDE), entry("evil", HARDLINK, linkname="s/secret")],
        "parent s is a symbolic link"),
    "file used as a directory": (
        [entry("f", data=b"x"), entry("f/evil", data=b"x")], "parent f is not a directory"),
    "hard link to nothing": ([entry("evil", HARDLINK, linkname="missing")], "does not exist"),
    "whiteout of dot-dot": ([entry("a/.wh..."), ], "whiteout names no file"),
    "whiteout through a symlink": (
        [entry("s", SYMLINK, linkname=OUTSIDE), entry("s/.wh.secret")],
        "parent s is a symbolic link"),
    "opaque whiteout through a symlink": (
        [entry("s", SYMLINK, linkname=OUTSIDE), entry("s/.wh..wh..opq")],
        "parent s is a symbolic link"),
    "overlay xattr": (
        [entry("f", data=b"x", pax_headers={"SCHILY.xattr.trusted.overlay.redirect": "/etc"})],
        "reserved for overlayfs"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_layer_is_refused_and_leaves_nothing(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    entries, message = HOSTILE[case]
    for info, _ in entries:
        info.name = info.name.replace(OUTSIDE, str(outside))
        info.linkname = info.linkname.replace(OUTSIDE, str(outside))
    layer = tar_bytes(*entries)
    blob = tmp_path / "blob"
    blob.write_bytes(compress(layer, "gzip"))
    root = tmp_path / "layers"

    with pytest.raises(LayerError, match=message) as refused:
        unpack_layer(root, blob, Digest.of(layer), None)

    assert "\n" not in str(refused.value)
    assert os.listdir(root) == []
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "secret"
    assert os.listxattr(outside) == []


def test_device_node_is_refused_without_root(tmp_path):
    layer = tar_bytes(entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0))
    with pytest.raises(LayerError, match="entry 'dev/sda': device nodes need root"):
        unpack(tmp_path, layer, privileged=False)


def _huge_pax_header() -> bytes:
    """A PAX header that says 2 GiB of key-value records follow (they would be read whole)."""
    info = tarfile.TarInfo("PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, 1 << 31
    return info.tobuf(tarfile.USTAR_FORMAT) + b"30 path=" + b"a" * 100


def _gnu_sparse(name: str, size: int, offset: int, data: bytes) -> bytes:
    """An old-GNU sparse member of ``size`` bytes, all holes but ``data`` at ``offset``."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), MTIME
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:410] = b"%011o\0%011o\0" % (offset, len(data))  # the first map entry
    header[483:495] = b"%011o\0" % size  # the real size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    padding = -len(data) % tarfile.BLOCKSIZE
    return bytes(header) + data + bytes(padding) + bytes(2 * tarfile.BLOCKSIZE)


def test_sparse_files_get_their_holes(tmp_path):
    layer = _gnu_sparse("sparse", 10_000, 4096, b"x" * 512) + bytes(4096)
    dest = unpack(tmp_path, layer)
    assert (dest / "sparse").read_bytes() == bytes(4096) + b"x" * 512 + bytes(10_000 - 4608)


MALFORMED = {
    "truncated tar": (tar_bytes(entry("a", data=b"x" * 2000))[:1200], "malformed tar"),
    "corrupt header": (tar_bytes(entry("a", data=b"x"), entry("b"))[:1024] + b"\xff" * 512
                       + bytes(1024), "malformed tar"),
    "truncated gzip": (compress(tar_bytes(entry("a", data=os.urandom(100_000))), "gzip")[:5000],
                       "cannot decompress: Compressed file ended"),
    "not gzip after all": (b"\x1f\x8b" + b"garbage" * 100, "cannot decompress"),
    "huge extended header": (_huge_pax_header(), "a 2147483648-byte extended header"),
}


@pytest.mark.parametrize("blob, message", MALFORMED.values(), ids=MALFORMED)
def test_malformed_layer_is_refused_and_leaves_nothing(tmp_path, blob, message):
    path = tmp_path / "blob"
    path.write_bytes(blob)
    with pytest.raises(LayerError, match=message):
        unpack_layer(tmp_path / "layers", path, Digest.of(b"anything"), None)
    assert os.listdir(tmp_path / "layers") == []


def test_content_not_matching_its_diff_id_leaves_nothing(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(compress(tar_bytes(entry("a", data=b"x")), "gzip"))
    expected = Digest.of(b"something else")
    with pytest.raises(LayerError, match="does not match its diff ID"):
        unpack_layer(tmp_path / "layers", blob, expected, None)
    assert os.listdir(tmp_path / "layers") == []


async def test_layers_unpack_in_worker_processes(tmp_path):
    layer = tar_bytes(entry("hello", data=b"world"))
    blob = tmp_path / "blob"
    blob.write_bytes(compress(layer, "gzip"))
    pool = unpack_pool(1)
    try:
        layers = LayerStore(tmp_path / "layers", pool)
        info = await layers.unpack(blob, Digest.of(layer), None)
        assert (info.path / "hello").read_bytes() == b"world"
        with pytest.raises(LayerError, match="does not match its diff ID"):
            await layers.unpack(blob, Digest.of(b"other"), None)
    finally:
        pool.shutdown()


def _unpack_and_remove_as_nobody(root: str, blob: str, diff_id: str) -> None:
    os.setgid(65534)
    os.setuid(65534)
    layers = LayerStore(Path(root))
    info = unpack_layer(layers.root, Path(blob), Digest.parse(diff_id), None)
    assert info.overlay_xattrs == "user"
    assert os.getxattr(info.path / "ro", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR((info.path / "ro/gone").lstat().st_mode)  # unprivileged whiteout
    assert stat.S_IMODE((info.path / "ro").stat().st_mode) == 0o555
    layers.remove(info.chain_id)
    assert os.listdir(root) == []
    os._exit(0)


@needs_root  # to become another user
def test_an_unprivileged_user_unpacks_and_removes_layers(tmp_path):
    layer = tar_bytes(entry("ro", DIR, mode=0o555), entry("ro/file", data=b"x"),
                      entry("ro/.wh..wh..opq"), entry("ro/.wh.gone"))
    shared = Path(tempfile.mkdtemp(prefix="dockyard-test-"))  # tmp_path is closed to others
    try:
        os.chmod(shared, 0o755)
        (shared / "blob").write_bytes(compress(layer, "gzip"))
        os.mkdir(shared / "layers")
        os.chown(shared / "layers", 65534, 65534)
        child = multiprocessing.get_context("fork").Process(
            target=_unpack_and_remove_as_nobody,
            args=(str(shared / "layers"), str(shared / "blob"), str(Digest.of(layer))))
        child.start()
        child.join()
        assert child.exitcode == 0
    finally:
        shutil.rmtree(shared)


def test_layers_are_spread_over_block_groups_on_ext4(tmp_path):
    blob = tmp_path / "blob"
    layer = tar_bytes(entry("a", data=b"x"))
    blob.write_bytes(compress(layer, "gzip"))
    unpack_layer(tmp_path / "layers", blob, Digest.of(layer), None)

    filesystem = subprocess.run(["stat", "-f", "-c", "%T", tmp_path], capture_output=True,
                                text=True, check=True).stdout.strip()
    if filesystem != "ext2/ext3":  # how stat names ext4 too
        pytest.skip(f"{filesystem} has no FS_TOPDIR_FL")
    attributes = subprocess.run(["lsattr", "-d", tmp_path / "layers"], capture_output=True,
                                text=True, check=True).stdout.split()[0]
    assert "T" in attributes
