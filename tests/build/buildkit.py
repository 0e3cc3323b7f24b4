"""Helpers of the build tests: the CLI in-process over one store, and a busybox base image.

The base image ``busybox:test`` is the shared one of ``tests.helpers.busybox_image``
(from Debian's busybox-static, no registry or download) plus a layer with an
``app`` user and group. Builds run with ``--network none`` unless a test asks
for another network: no RUN step of the tests can reach beyond the machine.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from client.cli import main

from ..helpers.busybox_image import INSTALL_HINT, add_image, have_busybox, layer

NEEDS_ROOT_AND_BUSYBOX = [
    pytest.mark.skipif(os.geteuid() != 0, reason="building runs containers: needs root"),
    pytest.mark.skipif(not have_busybox(), reason=INSTALL_HINT),
]
BASE_LAYERS = 2  # busybox, then /etc/passwd and /etc/group with the app user
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\n"


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
        network = () if any(a.startswith("--network") for a in args) else ("--network=none",)
        return self("build", *network, *args, str(context))

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
        for descriptor in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(self.blob(descriptor["digest"]))) as tar:
                names.append([member.name for member in tar])
        return names

    def layer_bytes(self, name: str) -> list[bytes]:
        """Every layer of an image, uncompressed."""
        manifest, _ = self.image(name)
        layers = []
        for descriptor in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(self.blob(descriptor["digest"]))) as tar:
                layers.append(b"".join(tar.extractfile(m).read() + m.name.encode()
                                       for m in tar if m.isfile()))
        return layers

    def read(self, name: str, path: str) -> str:
        """A file's text in an image (the topmost layer that has it)."""
        manifest, _ = self.image(name)
        for descriptor in reversed(manifest["layers"]):
            with tarfile.open(fileobj=io.BytesIO(self.blob(descriptor["digest"]))) as tar:
                if path in tar.getnames():
                    return tar.extractfile(path).read().decode()
        raise KeyError(path)


def with_busybox(tmp_path: Path, capsys) -> Dockyard:
    """A CLI whose store holds ``busybox:test``."""
    tool = Dockyard(tmp_path / "root", capsys)
    add_image(tool.root, "busybox:test",
              layers=[layer({"etc/passwd": PASSWD, "etc/group": GROUP})])
    return tool
