"""Fixtures for network tests: a store root with its own bridge and table names,
and simulated containers (a pinned network namespace plus a busybox root).

A simulated container is what ``dockyard run`` hands the network library: a
network namespace made and pinned before the container exists (here with
pyroute2's ``netns.create``), and a directory for its hosts, resolv.conf and
hostname files.  That directory is the ``etc/`` of a one-binary busybox root,
so ``nsenter --net=NS chroot ROOT busybox nc NAME PORT`` resolves names
through the very hosts file the library keeps up to date, as a container's
bind mount would.

Every root names its own default bridge (``dyt`` + random hex), nftables
table (``dytest_`` + random hex) and address ranges, and switches off the
global ip_forward switch, so tests never touch a real installation's bridge,
rules or the host's forwarding.  Teardown removes everything the test made
and fails the test if a link, namespace, table or record is left.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers.networks import IsolatedNetworks, links, nft_tables  # noqa: F401  (tests import them)

REPO = Path(__file__).resolve().parents[2]
NETNS_DIR = Path("/run/dockyard-test/netns")
BUSYBOX = "/bin/busybox"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "network tests need root (bridges, veths, namespaces, nftables)"
    if importlib.util.find_spec("pyroute2") is None:
        return "pyroute2 is not installed (pip install pyroute2)"
    from runtime.network import nft
    if not nft.available():
        return "libnftables is missing (apt-get install nftables)"
    if shutil.which("nft") is None or shutil.which("nsenter") is None:
        return "the nft and nsenter commands are needed (apt-get install nftables util-linux)"
    if not os.access(BUSYBOX, os.X_OK):
        return "busybox-static is not installed (apt-get install busybox-static)"
    return None


needs_root = pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "")


class SimContainer:
    def __init__(self, sandbox: "Sandbox", name: str) -> None:
        self.id = uuid.uuid4().hex + uuid.uuid4().hex
        self.name = name
        self.root = sandbox.tmp / f"ctr-{name}-{self.id[:6]}"
        self.etc = self.root / "etc"
        self.netns = str(NETNS_DIR / self.id)
        self.attachment = None

    def command(self, *argv: str) -> list[str]:
        """argv run as busybox applets inside the container's network and root."""
        return ["nsenter", f"--net={self.netns}", "chroot", str(self.root), "/bin/busybox", *argv]

    def run(self, *argv: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.command(*argv), text=True, timeout=timeout, **kwargs)

    def hosts(self) -> str:
        return (self.etc / "hosts").read_text()


class Sandbox:
    """Simulated containers on one store root; everything is removed at teardown."""

    def __init__(self, tmp: Path) -> None:
        from runtime.network import Networks

        self.tmp = tmp
        self.root = tmp / "root"
        self.isolated = IsolatedNetworks(self.root)
        self.settings = self.isolated.settings
        self.networks = Networks(self.root)
        self.containers: list[SimContainer] = []
        self.servers: list[subprocess.Popen] = []

    def make(self, name: str) -> SimContainer:
        """A namespace and a root for a container, not yet attached to anything."""
        from pyroute2 import netns

        container = SimContainer(self, name)
        container.etc.mkdir(parents=True)
        (container.root / "bin").mkdir()
        shutil.copy2(BUSYBOX, container.root / "bin" / "busybox")
        NETNS_DIR.mkdir(parents=True, exist_ok=True)
        netns.create(container.netns)
        self.containers.append(container)
        return container

    def start(self, name: str, network: str = "bridge", **options) -> SimContainer:
        """make() and then set up its networking as ``dockyard run`` would."""
        from runtime.network import Request

        container = self.make(name)
        container.attachment = self.networks.setup(Request(
            container.id, name, str(container.etc), network=network, netns=container.netns, **options))
        return container

    def serve(self, container: SimContainer, port: int, text: str = "hello") -> None:
        """busybox httpd on port inside the container, answering GET / with text."""
        www = container.root / f"www{port}"
        www.mkdir()
        (www / "index.html").write_text(text + "\n")
        server = subprocess.Popen(container.command("httpd", "-f", "-p", str(port), "-h", f"/www{port}"))
        self.servers.append(server)
        wait_listening(container, port)

    def teardown(self) -> list[str]:
        """Remove everything; return what was left behind."""
        from pyroute2 import netns

        for server in self.servers:
            server.kill()
            server.wait()
        for container in self.containers:
            self.networks.forget(container.id)
            if os.path.exists(container.netns):
                netns.remove(container.netns)
        left = self.isolated.teardown({c.id for c in self.containers})
        left += [f"namespace {c.netns}" for c in self.containers if os.path.exists(c.netns)]
        return left


def wait_listening(container: SimContainer, port: int, timeout: float = 5.0) -> None:
    """Until something listens on port inside the container's namespace."""
    import time

    deadline = time.monotonic() + timeout
    netstat = ["nsenter", f"--net={container.netns}", BUSYBOX, "netstat", "-ltn"]  # the host's /proc
    while time.monotonic() < deadline:
        out = subprocess.run(netstat, capture_output=True, text=True).stdout
        if f":{port} " in out:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} in {container.name}")


def http_get(container: SimContainer, host: str, port: int) -> subprocess.CompletedProcess:
    """GET / from inside container with busybox nc: stdout holds the response."""
    return container.run("nc", "-w", "3", host, str(port), input="GET / HTTP/1.0\r\n\r\n")


@pytest.fixture
def sandbox(tmp_path):
    if _skip_reason():
        pytest.skip(_skip_reason())
    box = Sandbox(tmp_path)
    yield box
    assert box.teardown() == []


@pytest.fixture(scope="session", autouse=True)
def _netns_dir():
    """pyroute2 makes the namespace directory a shared bind mount of itself (as
    ``ip netns`` does /run/netns); undo that once the session is over."""
    yield
    if NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir()):
        subprocess.run(["umount", str(NETNS_DIR)], capture_output=True)
        shutil.rmtree(NETNS_DIR.parent, ignore_errors=True)


def random_ula_prefix(subnet: int) -> str:
    """A random unique-local /64 prefix without its ``::``, written as addresses print it
    (no leading zeros), so tests can compare it with what the tools report."""
    groups = (0xfd00, int.from_bytes(os.urandom(2), "big"), int.from_bytes(os.urandom(2), "big"), subnet)
    return ":".join(f"{group:x}" for group in groups)
