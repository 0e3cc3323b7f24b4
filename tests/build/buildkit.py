"""Helpers of the build tests: the CLI in-process over one store, and a busybox base image.

The busybox image is itself built with ``dockyard build`` (FROM scratch +
COPY of busybox-static and its applet links), so no registry or download is
needed; building it needs root, as every build test does.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from client.cli import main

BUSYBOX = shutil.which("busybox")
NEEDS_ROOT_AND_BUSYBOX = [
    pytest.mark.skipif(os.geteuid() != 0, reason="building runs containers: needs root"),
    pytest.mark.skipif(BUSYBOX is None, reason="needs busybox-static (Debian package)"),
]
APPLETS = ("sh", "echo", "cat", "ls", "rm", "mkdir", "touch", "id", "pwd", "test", "true",
           "false", "env", "printf")


def write_context(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


class Dockyard:
    """The CLI in-process against one store root."""

    def __init__(self, root: Path, capsys) -> None:
        self.root = root
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--root", str(self.root), *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def build(self, context: Path, *args: str) -> tuple[int, str, str]:
        return self("build", *args, str(context))

    def image(self, name: str) -> tuple[dict, dict]:
        """(manifest, config) of a tagged image, read from the OCI layout."""
        layout = self.root / "store"
        index = json.loads((layout / "index.json").read_text())
        for entry in index["manifests"]:
            ref = entry.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
            if ref.endswith("/" + name) or ref == name:
                manifest = json.loads(self.blob(entry["digest"]))
                return manifest, json.loads(self.blob(manifest["config"]["digest"]))
        raise KeyError(name)

    def blob(self, digest: str) -> bytes:
        return (self.root / "store" / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()

    def layer_names(self, name: str) -> list[list[str]]:
        manifest, _ = self.image(name)
        names = []
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(self.blob(layer["digest"]))) as tar:
                names.append([member.name for member in tar])
        return names


def with_busybox(tmp_path: Path, capsys) -> Dockyard:
    """A CLI whose store holds ``busybox:test``."""
    tool = Dockyard(tmp_path / "root", capsys)
    rootfs = tmp_path / "busybox" / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "tmp").mkdir()
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    write_context(rootfs.parent, {
        "rootfs/etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        "rootfs/etc/group": "root:x:0:\napp:x:1000:\n",
        "Dockerfile": 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n'})
    code, _, err = tool.build(rootfs.parent, "-q", "-t", "busybox:test")
    assert code == 0, err
    return tool
