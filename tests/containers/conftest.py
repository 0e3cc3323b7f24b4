"""Fixtures for tests that run real containers through the ``dockyard`` command.

Every test gets its own dockyard root (``--root``) holding a copy of a store
built once per session: busybox (from Debian's busybox-static) and two
variants, ``localhost/entry`` (an ENTRYPOINT and a CMD) and ``localhost/app``
(a user and groups in its own layer, a User, a WorkingDir that does not exist
yet, an Env).  At teardown every container of the root is removed and the
test fails if anything is left: a mount under the root, a process running in
a container of it (found by its root directory) or supervising one (found by
its command line), a cgroup or runtime state of one of its containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.busybox_image import BUSYBOX, INSTALL_HINT, add_image, have_busybox, layer
from tests.helpers.networks import IsolatedNetworks

REPO = Path(__file__).resolve().parents[2]
APP = "localhost/app:latest"
ENTRY = "localhost/entry:latest"

APP_PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
              "app:x:1000:1000:app:/home/app:/bin/sh\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
APP_GROUP = "root:x:0:\nstaff:x:50:app\napp:x:1000:\naudio:x:29:app\nnogroup:x:65534:\n"


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("running containers needs root (namespaces, mounts, cgroups)")
    if not have_busybox():
        pytest.skip(INSTALL_HINT)
    root = tmp_path_factory.mktemp("dockyard-images")
    add_image(root, BUSYBOX)
    add_image(root, ENTRY, config={"Entrypoint": ["echo", "entry"], "Cmd": ["default"]})
    add_image(root, APP, config={"User": "app", "WorkingDir": "/work",
                                 "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                         "/sbin:/bin", "FOO=image", "KEEP=1"]},
              layers=[layer({"etc/passwd": APP_PASSWD, "etc/group": APP_GROUP,
                             "home/app/.profile": ""})])
    return root


class Dockyard:
    """``dockyard --root <tmp root> ...`` for one test, and what it left behind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: set[str] = set()  # container IDs, for the cgroup check

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "client", "--root", str(self.root), *args]

    def __call__(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        """Run a dockyard command to completion; output captured as text unless redirected."""
        kwargs.setdefault("capture_output", "stdout" not in kwargs)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        result = subprocess.run(self.command(*args), text=True, timeout=timeout, cwd=REPO, **kwargs)
        self._note_ids()
        return result

    def ok(self, *args: str, **kwargs) -> str:
        """Run a command that must succeed; its stdout."""
        result = self(*args, **kwargs)
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return result.stdout

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.command(*args), text=True, cwd=REPO, **kwargs)

    def inspect(self, name: str) -> dict:
        return json.loads(self.ok("container", "inspect", name))[0]

    def wait_for(self, condition, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def _note_ids(self) -> None:
        containers = self.root / "containers"
        if containers.is_dir():
            self.seen.update(n for n in os.listdir(containers) if len(n) == 64)

    # -- teardown ------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Remove every container, then list whatever is left of any of them."""
        from client.containers import lifecycle
        from client.containers.records import ContainerStore

        self._note_ids()
        store = ContainerStore(self.root)
        for record in lifecycle.sweep(store):
            lifecycle.remove(store, record, force=True)
        return self.leftovers()

    def leftovers(self) -> list[str]:
        from runtime.cgroups import open_manager

        root = str(self.root)
        left = []
        with open("/proc/self/mountinfo") as f:
            left += [f"mount {line.split()[4]}" for line in f if line.split()[4].startswith(root)]
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                if os.readlink(f"/proc/{pid}/root").startswith(root):
                    left.append(f"process {pid} in a container")
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().split(b"\0")
            except OSError:
                continue
            if root.encode() in cmdline and int(pid) != os.getpid():
                left.append(f"process {pid}: {b' '.join(cmdline).decode(errors='replace')}")
        left += [f"cgroup of {i}" for i in self.seen if open_manager(f"/dockyard/{i}").exists()]
        runtime_states = self.root / "runtime"
        if runtime_states.is_dir():
            left += [f"runtime state {r}/{c}" for r in os.listdir(runtime_states)
                     for c in os.listdir(runtime_states / r) if not c.startswith(".")]
        return left


@pytest.fixture
def dockyard(tmp_path, image_root) -> Dockyard:
    root = tmp_path / "root"
    subprocess.run(["cp", "-al", str(image_root), str(root)], check=True)  # images are read-only
    networks = IsolatedNetworks(root)  # run's default bridge: this root's own, removed below
    helper = Dockyard(root)
    yield helper
    assert helper.cleanup() == []
    assert networks.teardown(helper.seen) == []
