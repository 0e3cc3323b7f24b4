"""Busybox images in a dockyard store, for tests that run, build or network containers.

The image is made here rather than pulled (tests never leave the machine):
its one layer is the root filesystem ``tests.runtime.bundle.make_rootfs``
builds from Debian's busybox-static, written into the store through its own
API as a pull would write it (layer blob, config, manifest, tag) and
unpacked, so ``dockyard run`` finds it ready.  Extra layers and config
fields (Entrypoint, User, WorkingDir, ...) make the variants a test needs::

    add_image(root)                                    # localhost/busybox:latest
    add_image(root, "localhost/app:1", config={"Entrypoint": ["echo"]},
              layers=[layer({"etc/motd": "hi\\n"})])    # busybox + one more layer
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import tarfile
import tempfile
from pathlib import Path

from ocispec import mediatypes as mt
from ocispec.digest import Digest
from ocispec.manifest import Descriptor
from ocispec.reference import Reference

from ..runtime.bundle import INSTALL_HINT, have_busybox, make_rootfs

__all__ = ["BUSYBOX", "INSTALL_HINT", "add_image", "busybox_layer", "have_busybox", "layer"]

BUSYBOX = "localhost/busybox:latest"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MTIME = 1_700_000_000


@functools.cache
def busybox_layer() -> bytes:
    """An uncompressed layer tar of the busybox root filesystem (built once per process)."""
    with tempfile.TemporaryDirectory() as work:
        rootfs = make_rootfs(Path(work) / "rootfs")
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(rootfs.rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = _MTIME
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        return out.getvalue()


def layer(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    """A layer tar of regular files (parent directories included), root-owned, mode 0644
    unless ``modes`` says otherwise (directories 0755)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({str(Path(name).parents[i]) for name in files
                              for i in range(len(Path(name).parents) - 1)})
        for name in directories:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _MTIME
            tar.addfile(info)
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), _MTIME
            info.mode = (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def add_image(root: Path, reference: str = BUSYBOX, config: dict | None = None,
              layers: list[bytes] = ()) -> str:
    """Store busybox plus ``layers`` (uncompressed tars) as ``reference`` under the dockyard
    root ``root``, with ``config`` merged into the image's run config; unpacked; its image ID."""
    from client.store import ImageStore

    tars = [busybox_layer(), *layers]
    store = ImageStore(root)
    store.create()
    descriptors = [{"mediaType": mt.OCI_LAYER, "digest": str(store.blobs.put(tar)),
                    "size": len(tar)} for tar in tars]
    image_config = {
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"], **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(tar)) for tar in tars]},
        "history": [{"created_by": "tests.helpers.busybox_image"} for _ in tars],
    }
    config_blob = json.dumps(image_config).encode()
    config_digest = store.blobs.put(config_blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest),
                   "size": len(config_blob)},
        "layers": descriptors,
    }).encode()
    descriptor = Descriptor(mt.OCI_MANIFEST, store.blobs.put(manifest), len(manifest))

    async def tag_and_unpack() -> None:
        await store.tag(Reference.parse(reference), descriptor)
        await store.unpack(descriptor)

    asyncio.run(tag_and_unpack())
    return str(config_digest)
