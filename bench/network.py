"""Container networking: throughput, connection rate and set-up cost, next to the host's own.

    python -m bench.network [--seconds 5] [--repeats 3] [--setup-runs 15] [--json FILE]

Needs root, iperf3, nsenter and libnftables; podman (for its bridge cost) is
optional.  Measured in one run, each a median over --repeats:

- TCP throughput (iperf3, one stream) and connection rate (connect, read
  EOF, close, from one client process) for: two host processes over
  127.0.0.1 (the reference); the host to a container's published port
  through 127.0.0.1 (DNAT, route_localnet, masquerade); container to
  container on one bridge network.  The "containers" are network namespaces
  attached with runtime.network exactly as ``dockyard run`` attaches them.
- Set-up cost: ``dockyard run --rm --network bridge busybox true`` against
  ``--network none`` (the difference is what bridge networking adds to a
  run), beside ``podman run --rm`` with its default bridge against
  ``--network none``, the four taking turns; and, to see where the time
  goes, a fresh Python process doing only ``Networks.setup`` + ``forget``
  for each mode (imports, pyroute2's among them, and the library calls
  reported apart).

Traffic stays on 127.0.0.1 and the namespaces' own addresses.  The root used
is a temporary one with its own bridge and nftables table names; all of it is
removed at the end.  Podman's bridge leaves iptables-nft tables and the global
ip_forward switch behind: they are removed (restored) only when this run is
what created (changed) them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .common import REPO_ROOT, format_table, free_port, log, median, missing_tools

IPERF_PORT = 5201
ACCEPT_PORT = 7000
DOCKYARD_IMAGE = "localhost/bench-busybox:latest"
PODMAN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
SETUP_SCRIPT = """
import sys, time
from client.containers.netns import remove  # the client's, imported whatever the network
start = time.perf_counter()
from runtime.network import Networks, Request
root, mode, cid, files, netns = sys.argv[1:]
if mode != "none":
    import runtime.network.netlink  # pyroute2: part of the cost, reported apart
    import runtime.network.nft
imported = time.perf_counter()
networks = Networks(root)
networks.setup(Request(cid, "bench", files, network=mode, netns=netns if mode != "none" else None))
if mode != "none":
    remove(netns)  # what the caller does when the container has stopped, before cleanup
networks.forget(cid)
print(imported - start, time.perf_counter() - imported)
"""

# Processes timed here write and use bytecode caches, as the installed dockyard does (it runs
# python -I, which ignores PYTHONDONTWRITEBYTECODE): with the variable set, every module
# changed since the caches were written would be compiled again in each timed run.
TIMED_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# -- the connection-rate load: a server that accepts and closes, a client that counts --

def serve_accept(port: int) -> None:
    """Accept connections on port and close each at once, until killed."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(1024)
        print("ready", flush=True)
        while True:
            conn, _ = server.accept()
            conn.close()


def connect_loop(host: str, port: int, seconds: float) -> None:
    """Print how many connect/EOF/close cycles per second the client manages."""
    count, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.recv(1)
        count += 1
    print(count / (time.monotonic() - start))


# -- places: the host, or a namespace attached to a network --

class Place:
    """Where a process runs: the host (netns None) or a container's namespace."""

    def __init__(self, name: str, netns: str | None = None, address: str = "127.0.0.1") -> None:
        self.name, self.netns, self.address = name, netns, address

    def argv(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.netns}", *argv] if self.netns else list(argv)

    def python(self, *args: str) -> list[str]:
        return self.argv(sys.executable, "-m", "bench.network", *args)


class Lab:
    """A temporary root with one bridge network and two attached namespaces."""

    def __init__(self, workdir: Path) -> None:
        from runtime.network import Networks
        from runtime.network.settings import write_isolated

        self.workdir = workdir
        self.root = workdir / "root"
        write_isolated(self.root / "networks")  # a /24 no route uses yet: tests may run beside
        self.networks = Networks(self.root)
        self.netns_dir = Path("/run/dockyard-bench") / workdir.name
        self.ids: list[str] = []

    def attach(self, name: str, network: str, publish: Sequence[str] = ()) -> Place:
        from pyroute2 import netns

        from runtime.network import Request

        container_id = os.urandom(32).hex()
        files = self.workdir / name
        files.mkdir()
        path = str(self.netns_dir / container_id)
        self.netns_dir.mkdir(parents=True, exist_ok=True)
        netns.create(path)
        self.ids.append(container_id)
        self.networks.setup(Request(container_id, name, str(files), network=network, netns=path,
                                    publish=list(publish)))
        record = self.networks.store.container(container_id)
        return Place(name, path, record.endpoints[0].ip)

    def close(self) -> None:
        from pyroute2 import netns

        for container_id in self.ids:
            self.networks.forget(container_id)
            path = str(self.netns_dir / container_id)
            if os.path.exists(path):
                netns.remove(path)
        self.networks.destroy_all()
        if self.netns_dir.exists():
            subprocess.run(["umount", str(self.netns_dir)], capture_output=True)
            subprocess.run(["rm", "-rf", str(self.netns_dir.parent)], check=True)


def started(argv: list[str], ready: str | None = None) -> subprocess.Popen:
    """A server process; with ready, wait for that line on its stdout."""
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    if ready is not None and proc.stdout.readline().strip() != ready:
        proc.kill()
        raise RuntimeError(f"{argv[0]} did not start")
    return proc


def stopped(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout:
        proc.stdout.close()


def iperf(server: Place, client: Place, target: str, port: int, seconds: int) -> float:
    """Gbit/s received by one iperf3 stream from client to server (reached as target:port)."""
    proc = started(server.argv("iperf3", "-s", "-p", str(IPERF_PORT)))
    try:
        wait_listening(server, IPERF_PORT)
        out = subprocess.run(client.argv("iperf3", "-c", target, "-p", str(port), "-t", str(seconds),
                                         "-J"), capture_output=True, text=True, timeout=seconds + 30)
        doc = json.loads(out.stdout or "{}")
        if "error" in doc or out.returncode:
            raise RuntimeError(f"iperf3 {client.name} -> {server.name}: {doc.get('error', out.stderr)}")
        return doc["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        stopped(proc)


def wait_listening(place: Place, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(place.argv("ss", "-Hltn", f"sport = :{port}"), capture_output=True,
                             text=True).stdout
        if out.strip():
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} in {place.name}")


def connection_rate(server: Place, client: Place, target: str, port: int, seconds: float) -> float:
    proc = started(server.python("_serve", str(ACCEPT_PORT)), ready="ready")
    try:
        out = subprocess.run(client.python("_connect", target, str(port), str(seconds)),
                             cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                             timeout=seconds + 30)
        return float(out.stdout)
    finally:
        stopped(proc)


# -- set-up cost --

def setup_seconds(lab: Lab, mode: str, runs: int) -> tuple[float, float, float]:
    """Medians over fresh processes doing setup + forget: (wall, imports, library calls) seconds."""
    from pyroute2 import netns

    walls, imports, calls = [], [], []
    for _ in range(runs):
        container_id = os.urandom(32).hex()
        files = lab.workdir / f"setup-{container_id[:8]}"
        files.mkdir()
        path = str(lab.netns_dir / container_id)
        if mode != "none":
            netns.create(path)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, str(lab.root), mode, container_id,
                              str(files), path], cwd=REPO_ROOT, env=TIMED_ENV, capture_output=True,
                             text=True, check=True)
        walls.append(time.perf_counter() - start)
        imported, called = map(float, out.stdout.split())
        imports.append(imported)
        calls.append(called)
    return median(walls), median(imports), median(calls)


def run_seconds(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall seconds of each command (a container run), the commands taking turns
    (in an order that rotates each round) so that the machine's load, which swings a lot
    on a shared host, weighs on all of them alike; after one warm-up run each (first-use
    set-up: the default bridge, podman's network)."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    labels = list(commands)
    for round_ in range(runs + 1):
        for label in labels[round_ % len(labels):] + labels[:round_ % len(labels)]:
            start = time.perf_counter()
            done = subprocess.run(commands[label], capture_output=True, text=True, cwd=REPO_ROOT,
                                  env=TIMED_ENV)
            if round_:
                times[label].append(time.perf_counter() - start)
            if done.returncode:
                raise RuntimeError(f"{label}: exit {done.returncode}: {done.stderr[-500:]}")
    for label, values in times.items():
        log(f"{label}: {median(values):.3f}s")
    return {label: median(values) for label, values in times.items()}


def dockyard_run_argv(root: Path, network: str) -> list[str]:
    return [sys.executable, "-m", "client", "--root", str(root), "run", "--rm", "--network", network,
            DOCKYARD_IMAGE, "true"]


def podman_run_argv(rootfs: Path, network: str) -> list[str]:
    return ["podman", "run", "--rm", *PODMAN_LIMITS, "--network", network, "--rootfs", str(rootfs), "true"]


class PodmanLeftovers:
    """Undo what podman's bridge leaves, but only what was not there before."""

    def __enter__(self) -> "PodmanLeftovers":
        self.tables = _nft_tables()
        self.links = _links()
        self.forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        for table in _nft_tables() - self.tables:
            subprocess.run(["nft", "delete", "table", *table.split()[1:]], check=True)
        for link in _links() - self.links:
            if link.startswith(("podman", "cni-podman", "veth")):
                subprocess.run(["ip", "link", "delete", link], capture_output=True)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(self.forward)


def _true_rootfs(root: Path) -> Path:
    """The smallest root podman runs ``true`` in: busybox and a link to it."""
    import shutil

    (root / "bin").mkdir(parents=True)
    for directory in ("etc", "proc", "sys", "dev", "tmp"):
        (root / directory).mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "true")
    return root


def _distinct_free_ports(count: int) -> tuple[int, ...]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return tuple(sorted(ports))


def _nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


# -- the run --

def repeat(what: str, action: Callable[[], float], times: int) -> float:
    values = [action() for _ in range(times)]
    log(f"{what}: {', '.join(f'{v:.3g}' for v in values)}")
    return median(values)


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    results: dict = {"throughput_gbps": {}, "connections_per_s": {}, "setup_s": {},
                     "load_average": [os.getloadavg()[0]]}  # 1 min, before and after: a shared host
    host = Place("host")
    lab = Lab(workdir)
    try:
        lab.networks.create_network("benchnet")
        published = _distinct_free_ports(2)
        server = lab.attach("server", "bridge",
                            publish=[f"127.0.0.1:{published[0]}:{IPERF_PORT}",
                                     f"127.0.0.1:{published[1]}:{ACCEPT_PORT}"])
        peer_a = lab.attach("a", "benchnet")
        peer_b = lab.attach("b", "benchnet")
        # label: server, client, address the client dials, its (iperf3, accept) ports there
        pairs = {
            "host -> host (127.0.0.1)": (host, host, "127.0.0.1", (IPERF_PORT, ACCEPT_PORT)),
            "host -> published port (127.0.0.1)": (server, host, "127.0.0.1", published),
            "container -> container": (peer_b, peer_a, peer_b.address, (IPERF_PORT, ACCEPT_PORT)),
        }
        for label, (srv, cli, target, (iperf_port, accept_port)) in (pairs.items() if args.load else ()):
            results["throughput_gbps"][label] = repeat(
                f"iperf3 {label}", lambda: iperf(srv, cli, target, iperf_port, args.seconds),
                args.repeats)
            results["connections_per_s"][label] = repeat(
                f"connections {label}",
                lambda: connection_rate(srv, cli, target, accept_port, args.seconds), args.repeats)
        from tests.helpers.busybox_image import add_image  # the runtime tests' busybox image

        add_image(lab.root, DOCKYARD_IMAGE)
        commands = {f"dockyard run --rm {mode}": dockyard_run_argv(lab.root, mode)
                    for mode in ("none", "bridge")}
        podman = not args.no_podman and not missing_tools("podman")
        if podman:
            rootfs = _true_rootfs(workdir / "podman-rootfs")
            commands.update({f"podman run --rm {mode}": podman_run_argv(rootfs, mode)
                             for mode in ("none", "bridge")})
        with PodmanLeftovers() if podman else contextlib.nullcontext():
            results["setup_s"].update(run_seconds(commands, args.setup_runs))
        for mode in ("none", "bridge"):
            wall, imports, calls = setup_seconds(lab, mode, args.setup_runs)
            log(f"setup+cleanup {mode}: process {wall:.3f}s, imports {imports:.3f}s, calls {calls:.3f}s")
            results["setup_s"][f"dockyard {mode} (process)"] = wall
            results["setup_s"][f"dockyard {mode} (imports)"] = imports
            results["setup_s"][f"dockyard {mode} (library calls)"] = calls
    finally:
        lab.close()
    results["load_average"].append(os.getloadavg()[0])
    return results


def report(results: dict) -> str:
    rows = []
    for metric, unit in (("throughput_gbps", "Gbit/s"), ("connections_per_s", "conn/s")):
        figures = results[metric]
        if not figures:
            continue
        reference = figures["host -> host (127.0.0.1)"]
        for label, value in figures.items():
            rows.append([f"{metric.split('_')[0]}: {label}", f"{value:.3g} {unit}",
                         f"{value / reference:.2f}x host"])
    setup = results["setup_s"]
    for network in ("none", "bridge"):
        rows.append([f"dockyard run --rm --network {network} true",
                     f"{setup[f'dockyard run --rm {network}'] * 1000:.0f} ms", ""])
    ours = setup["dockyard run --rm bridge"] - setup["dockyard run --rm none"]
    rows.append(["bridge added to dockyard run --rm", f"{ours * 1000:.0f} ms", ""])
    library = setup["dockyard bridge (process)"] - setup["dockyard none (process)"]
    rows.append(["bridge setup + cleanup in a fresh process (library)", f"{library * 1000:.0f} ms", ""])
    for part in ("imports", "library calls"):
        extra = setup[f"dockyard bridge ({part})"] - setup[f"dockyard none ({part})"]
        rows.append([f"  of which {part}", f"{extra * 1000:.0f} ms", ""])
    if "podman run --rm bridge" in setup:
        theirs = setup["podman run --rm bridge"] - setup["podman run --rm none"]
        for network in ("none", "bridge"):
            rows.append([f"podman run --rm --network {network} true",
                         f"{setup[f'podman run --rm {network}'] * 1000:.0f} ms", ""])
        rows.append(["bridge added to podman run --rm", f"{theirs * 1000:.0f} ms",
                     f"dockyard/podman {ours / theirs:.2f}" if theirs > 0 else ""])
    rows.append(["load average (1 min), before / after", " / ".join(
        f"{load:.2f}" for load in results["load_average"]), ""])
    return format_table(["measurement", "median", "ratio"], rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run (whole seconds, "
                        "as iperf3 takes them)")
    parser.add_argument("--repeats", type=int, default=3, help="load runs per figure")
    parser.add_argument("--setup-runs", type=int, default=15, help="set-up timings per figure")
    parser.add_argument("--no-podman", action="store_true", help="skip podman's bridge cost")
    parser.add_argument("--no-load", dest="load", action="store_false",
                        help="only the set-up costs: no throughput or connection-rate runs")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_serve"]:
        serve_accept(int(argv[1]))
        return 0
    if argv[:1] == ["_connect"]:
        connect_loop(argv[1], int(argv[2]), float(argv[3]))
        return 0
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench.network needs root (namespaces, bridges, nftables)", file=sys.stderr)
        return 2
    missing = missing_tools("iperf3", "nsenter", "nft")
    if missing:
        print(f"bench.network needs {', '.join(missing)} (apt-get install iperf3 nftables)",
              file=sys.stderr)
        return 2
    from tests.helpers.cgroups import removing_new_dockyard_parents

    with removing_new_dockyard_parents(), \
            tempfile.TemporaryDirectory(prefix="dockyard-bench-net-") as tmp:
        results = measure(args, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
