"""Benchmark: ``dockyard sync`` beside ``skopeo copy --all``, registry to registry, same run.

    python -m bench.sync                  # 3 rounds, a 200 MiB image of 5 random layers
    python -m bench.sync --rounds 5 --mib 400 --layers 8

An image is pushed (by skopeo, digests preserved) into a source Dockyard
registry on 127.0.0.1.  Each round, each tool (in rotating order) copies it
into a fresh, empty Dockyard registry ("cold": every byte moves, streamed from
the source's GET into the destination's upload), then copies it again
("warm": nothing changed, so nothing should move).  Every command is timed as
a whole process, start-up included, and its peak resident memory read from
``wait4``: a copy that held blobs in memory would show it there.  Printed:
medians, and dockyard's figures as ratios of skopeo's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from . import images
from .common import LOOPBACK, REPO_ROOT, format_table, log, median, missing_tools, run
from .pull import push, skopeo_options
from .registry import Target

MIB = 1 << 20
TAG = "bench"
TOOLS = ("dockyard", "skopeo")
PHASES = ("cold", "warm")


def measured(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``argv`` to completion: wall-clock seconds and peak RSS in bytes."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{errors.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


class Copier:
    """One tool's copy of the source image into a destination registry."""

    def __init__(self, workdir: Path, source: str) -> None:
        self.workdir = workdir
        self.source = source
        home = workdir / "home"  # no credentials or settings of the caller's
        home.mkdir(exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}
        self.env.pop("DOCKYARD_ROOT", None)

    def copy(self, tool: str, destination: str) -> tuple[float, int]:
        if tool == "dockyard":
            return measured([sys.executable, "-m", "client", "--root",
                             str(self.workdir / "root"), "sync", "-q", self.source,
                             destination], self.env)
        return measured(["skopeo", *skopeo_options(self.workdir), "copy", "--quiet", "--all",
                         "--src-tls-verify=false", "--dest-tls-verify=false",
                         f"docker://{self.source}", f"docker://{destination}"])


def check(destination: str, digest: str) -> None:
    """The destination's tag names the source's digest (the registry verified every blob)."""
    got = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{destination}"])
    seen = "sha256:" + hashlib.sha256(got.encode()).hexdigest()
    if seen != digest:
        raise RuntimeError(f"{destination} holds {seen}, expected {digest}")


def measure(copier: Copier, digest: str, rounds: int
            ) -> dict[tuple[str, str], list[tuple[float, int]]]:
    samples: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for round_no in range(rounds):
        order = TOOLS[round_no % 2:] + TOOLS[:round_no % 2]
        for tool in order:
            workdir = Path(tempfile.mkdtemp(prefix=f"{tool}-", dir=copier.workdir))
            with Target("dockyard", workers=1).server(workdir, False) as server:
                destination = f"{LOOPBACK}:{server.port}/mirror/image:{TAG}"
                for phase in PHASES:
                    samples[tool, phase].append(copier.copy(tool, destination))
                    log(f"round {round_no + 1} {tool} {phase}: "
                        f"{samples[tool, phase][-1][0]:.2f}s")
                check(destination, digest)
            shutil.rmtree(workdir, ignore_errors=True)
    return samples


def report(samples: dict[tuple[str, str], list[tuple[float, int]]]) -> str:
    rows = []
    for phase in PHASES:
        seconds = {tool: median(s for s, _ in samples[tool, phase]) for tool in TOOLS}
        memory = {tool: median(m for _, m in samples[tool, phase]) for tool in TOOLS}
        rows.append([f"{phase} copy (s)", f"{seconds['dockyard']:.2f}",
                     f"{seconds['skopeo']:.2f}", f"{seconds['dockyard'] / seconds['skopeo']:.2f}"])
        rows.append([f"{phase} peak RSS (MiB)", f"{memory['dockyard'] / MIB:.0f}",
                     f"{memory['skopeo'] / MIB:.0f}",
                     f"{memory['dockyard'] / memory['skopeo']:.2f}"])
    return format_table(["", "dockyard", "skopeo", "ratio"], rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=200, help="image size (default 200)")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--workdir", help="where the temporary files go (default $TMPDIR)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools("skopeo")
    if missing:
        print("missing tools: skopeo (Debian package of the same name)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.workdir))
    try:
        manifest = images.oci_layout(workdir / "layout", args.layers, args.mib * MIB, TAG)
        with Target("dockyard", workers=1).server(workdir / "source", False) as server:
            source = f"{LOOPBACK}:{server.port}/bench/image:{TAG}"
            push(workdir / "layout", source, workdir)
            samples = measure(Copier(workdir, source), manifest.digest, args.rounds)
        print(f"registry to registry ({args.mib} MiB, {args.layers} layers, Dockyard at both "
              f"ends, one worker each); medians of {args.rounds} runs")
        print(report(samples))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
