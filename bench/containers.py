"""Benchmark: a container's start to exit, for ``/bin/true``, at two levels, peers in the same run.

    python -m bench.containers                  # 15 rounds
    python -m bench.containers --rounds 30 --json results.json

- runtime: ``dockyard-runtime run`` (the installed command, as podman would
  call it), ``crun run`` and ``runc run`` on one bundle (busybox from Debian's
  busybox-static, ``runc spec``'s configuration with a ``cgroupsPath``, so
  each runtime makes, joins and removes the same cgroup in every hierarchy);
- client: ``dockyard run --rm`` (the installed command) and ``podman run --rm`` of the same busybox
  image, both with ``--network none`` (podman also with the ulimit flags it
  needs on hosts without CAP_SYS_RESOURCE, see DESIGN.md); podman keeps its
  storage in the benchmark's own directory.

Every command is timed as a whole process, interpreter start included, after
two warm-up runs; tools alternate within each round.  Each level is measured
twice: back to back, starts following each other as in a burst, and isolated,
each start after an idle pause (--pause, 0.2 s), as a single `docker run` on
a quiet host sees it.  The two differ mostly by the kernel: the first write to
a cgroup.procs file after a quiet spell waits for an RCU grace period (the
cgroup attach lock is a per-CPU rwsem), 10-15 ms on this host, while a start
that follows another finds the lock warm.  Dockyard takes that wait while its
interpreter starts (runtime/cgroups/warmup.py); runc, crun and podman pay it
on their start path.  On a hybrid cgroup host
crun needs hugetlb bound to a v1 hierarchy: the benchmark mounts it for the
run and unmounts it after.  Printed: medians, and dockyard's time as a ratio
of each peer's (targets: ``dockyard run --rm`` at most 0.5 of podman's,
``dockyard-runtime run`` below runc's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from .common import REPO_ROOT, format_table, log, median, missing_tools, run

IDLE_PAUSE = 0.2  # seconds: well past the cgroup attach lock's warm window

PODMAN_FLAGS = ("--network", "none", "--ulimit", "nofile=20000:20000",
                "--ulimit", "nproc=32768:32768")
CLIENT_TARGET = 0.5  # dockyard run --rm / podman run --rm
IMAGE = "localhost/bench-busybox:latest"
CGROUP_PARENT = "dockyard-bench"  # every runtime's container cgroup is /dockyard-bench/run


def installed(command: str) -> str:
    """An installed dockyard command: beside this interpreter (a virtual environment's
    bin/), else on PATH; "" when there is none."""
    beside = Path(sys.executable).parent / command
    return str(beside) if beside.exists() else (shutil.which(command) or "")


def python_env() -> dict[str, str]:
    """Our environment with bytecode caching on: a user's installed dockyard starts from .pyc."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Commands:
    """The command line of each contender, each call a fresh container."""

    def __init__(self, workdir: Path, runroot: Path) -> None:
        """``runroot``: podman's, which must be a short path (at most 50 characters)."""
        self.workdir = workdir
        self.bundle = workdir / "bundle"
        self.dockyard_root = workdir / "dockyard"
        self.podman = ["podman", "--root", str(workdir / "podman"), "--runroot", str(runroot),
                       "--tmpdir", str(workdir / "podman-tmp")]

    def runtime(self, name: str) -> Callable[[], list[str]]:
        base = installed(name) if name == "dockyard-runtime" else name
        root = str(self.workdir / f"state-{name}")
        return lambda: [base, "--root", root, "run", "-b", str(self.bundle),
                        f"bench-{uuid.uuid4().hex[:12]}"]

    def client(self, name: str) -> Callable[[], list[str]]:
        if name == "dockyard":
            argv = [installed("dockyard"), "--root", str(self.dockyard_root), "run",
                    "--rm", "--network", "none", IMAGE, "/bin/true"]
        else:
            argv = [*self.podman, "run", "--rm", *PODMAN_FLAGS, IMAGE, "/bin/true"]
        return lambda: argv


def prepare(commands: Commands) -> None:
    """The bundle, dockyard's store and podman's, each holding the same busybox."""
    from tests.helpers.busybox_image import add_image, busybox_layer
    from tests.runtime.bundle import make_bundle

    def cgroup(config: dict) -> None:
        config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/run"

    make_bundle(commands.bundle, ["/bin/true"], edit=cgroup)
    add_image(commands.dockyard_root, IMAGE)
    layer = commands.workdir / "busybox.tar"
    layer.write_bytes(busybox_layer())
    run([*commands.podman, "import", str(layer), IMAGE])


def remove_cgroup_parent() -> None:
    """rmdir /dockyard-bench in every cgroup hierarchy mounted now, named ones such as
    name=systemd included (runc and crun join those too); the runtimes removed what was
    below.  Run before hugetlb's temporary v1 mount goes away."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split(" - ", 1) for line in f]
    for mountpoint in {fields.split()[4] for fields, rest in mounts
                       if rest.split()[0] in ("cgroup", "cgroup2")}:
        try:
            os.rmdir(os.path.join(mountpoint, CGROUP_PARENT))
        except FileNotFoundError:
            pass


def measure(contenders: dict[str, Callable[[], list[str]]], rounds: int,
            pause: float = 0.0) -> dict[str, list[float]]:
    """Seconds per run of each contender: two warm-ups, then ``rounds`` alternating
    rounds, each start after ``pause`` seconds of idleness."""
    env = python_env()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, argv in contenders.items():
        for _ in range(2):
            run(argv(), cwd=REPO_ROOT, env=env)
    for round_number in range(rounds):
        order = list(contenders)
        order = order[round_number % len(order):] + order[:round_number % len(order)]
        for name in order:
            argv = contenders[name]()
            time.sleep(pause)
            started = time.perf_counter()
            run(argv, cwd=REPO_ROOT, env=env)
            times[name].append(time.perf_counter() - started)
    return times


def report(level: str, by_mode: dict[str, dict[str, list[float]]], ours: str) -> list[list[str]]:
    rows = []
    for mode, times in by_mode.items():
        for name, values in times.items():
            ratio = "" if name == ours else f"{median(times[ours]) / median(values):.2f}"
            rows.append([f"{level}, {mode}: {name}", f"{median(values) * 1000:.1f}", ratio])
    return rows


def modes(pause: float) -> dict[str, float]:
    """The conditions measured: name -> idle pause before each start."""
    return {"back to back": 0.0, **({"isolated": pause} if pause > 0 else {})}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.containers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="measured runs per contender")
    parser.add_argument("--workdir", help="where the temporary directory goes (default: $TMPDIR)")
    parser.add_argument("--json", metavar="FILE", help="also write every timing here")
    parser.add_argument("--level", choices=("runtime", "client"), action="append",
                        help="measure only this level (repeatable; default: both)")
    parser.add_argument("--pause", type=float, default=IDLE_PAUSE, metavar="SECONDS",
                        help=f"idle pause before each isolated start (default {IDLE_PAUSE}; "
                             "0: back to back only)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    levels = set(args.level or ("runtime", "client"))
    if os.geteuid() != 0:
        print("containers need root: run as root", file=sys.stderr)
        return 2
    missing = missing_tools("crun", "runc", "podman", "/bin/busybox")
    missing += [c for c in ("dockyard", "dockyard-runtime") if not installed(c)]
    if missing:
        print(f"missing tools: {', '.join(missing)} (Debian packages crun, runc, podman, "
              "busybox-static; pip install . for dockyard and dockyard-runtime)",
              file=sys.stderr)
        return 2
    from tests.helpers.cgroups import removing_new_dockyard_parents
    from tests.helpers.crun import v2_controllers_bound_to_v1

    workdir = Path(tempfile.mkdtemp(prefix="bench-containers-", dir=args.workdir))
    runroot = Path(tempfile.mkdtemp(prefix="bench-podman-"))
    commands = Commands(workdir, runroot)
    try:
        log(f"preparing the bundle and both image stores in {workdir}")
        prepare(commands)
        runtimes: dict[str, dict[str, list[float]]] = {}
        clients: dict[str, dict[str, list[float]]] = {}
        if "runtime" in levels:
            with v2_controllers_bound_to_v1():
                try:
                    for mode, pause in modes(args.pause).items():
                        log(f"runtime level, {mode}: dockyard-runtime, crun, runc run")
                        runtimes[mode] = measure(
                            {name: commands.runtime(name)
                             for name in ("dockyard-runtime", "crun", "runc")}, args.rounds, pause)
                finally:
                    remove_cgroup_parent()
        if "client" in levels:
            with removing_new_dockyard_parents():
                for mode, pause in modes(args.pause).items():
                    log(f"client level, {mode}: dockyard run --rm, podman run --rm")
                    clients[mode] = measure({name: commands.client(name)
                                             for name in ("dockyard", "podman")}, args.rounds, pause)
    finally:
        # not `podman system reset`: it also deletes the host's podman networks
        run([*commands.podman, "rmi", "--all", "--force"], cwd=REPO_ROOT, timeout=120)
        for directory in (workdir, runroot):
            shutil.rmtree(directory, ignore_errors=True)
    rows = ((report("runtime", runtimes, "dockyard-runtime") if runtimes else [])
            + (report("client", clients, "dockyard") if clients else []))
    print(f"/bin/true from start to exit; medians of {args.rounds} runs")
    print(format_table(["contender", "ms", "dockyard / it"], rows))
    for mode, times in clients.items():
        client_ratio = median(times["dockyard"]) / median(times["podman"])
        print(f"target dockyard run --rm / podman run --rm <= {CLIENT_TARGET}, {mode}: "
              f"{'met' if client_ratio <= CLIENT_TARGET else 'NOT met'} ({client_ratio:.3f})")
    for mode, times in runtimes.items():
        runc_ratio = median(times["dockyard-runtime"]) / median(times["runc"])
        print(f"target dockyard-runtime run faster than runc, {mode}: "
              f"{'met' if runc_ratio < 1 else 'NOT met'} ({runc_ratio:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"runtime": runtimes, "client": clients}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
