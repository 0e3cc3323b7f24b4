"""Busybox root filesystems and OCI bundles for tests and benchmarks.

Built from Debian's busybox-static (/bin/busybox, one static binary), so no
image has to be pulled: the rootfs is that binary plus a link per applet and
the few directories and files a container expects.  A rootfs is read-only to
the containers (the default config mounts it so), so one can serve many
bundles: pass it as `rootfs` to make_bundle.

    rootfs = make_rootfs(tmp / "rootfs")
    bundle = make_bundle(tmp / "b1", ["sh", "-c", "echo hi"], rootfs=rootfs)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from runtime.spec import default_config

BUSYBOX = "/bin/busybox"
INSTALL_HINT = "busybox-static is not installed (apt-get install -y busybox-static)"

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"


def have_busybox() -> bool:
    return os.access(BUSYBOX, os.X_OK)


def make_rootfs(dest: Path) -> Path:
    """A busybox root filesystem at dest (created; must not exist yet)."""
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout
    for name in applets.split():
        if name != "busybox":
            os.symlink("busybox", dest / "bin" / name)
    for d in ("proc", "sys", "dev", "tmp", "etc", "root", "usr", "sbin"):
        (dest / d).mkdir(exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    (dest / "etc" / "passwd").write_text(_PASSWD)
    (dest / "etc" / "group").write_text(_GROUP)
    return dest


def make_bundle(dest: Path, args: list[str], rootfs: Path | None = None,
                edit: Callable[[dict], None] | None = None) -> Path:
    """An OCI bundle at dest running args; rootfs is shared (absolute root.path)
    or, when None, a fresh one is made in dest/rootfs.  edit(config) may change
    the default configuration (`runc spec`'s) before it is written."""
    dest.mkdir(parents=True, exist_ok=True)
    config = default_config(args)
    if rootfs is None:
        make_rootfs(dest / "rootfs")
    else:
        config["root"]["path"] = str(rootfs)
    if edit is not None:
        edit(config)
    write_config(dest, config)
    return dest


def write_config(bundle: Path, config: dict) -> None:
    (bundle / "config.json").write_text(json.dumps(config, indent=2))
