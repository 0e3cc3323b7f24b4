"""Benchmark: ``dockyard pull`` beside ``podman pull`` and ``skopeo copy``, same images, same run.

    python -m bench.pull                    # 3 rounds, both images
    python -m bench.pull --rounds 5 --random-mib 64 --podman-driver vfs

Two images are pushed (by skopeo, digests preserved) into a local Dockyard
registry (one worker) on 127.0.0.1:

- ``random``: five layers of random data, 250 MiB in all: bytes moved, hashed,
  written, decompressed;
- ``rootfs``: one layer holding a copy of a real file tree (by default
  ``/usr/lib/python3.11`` and ``/usr/lib/python3``, about 100 MB in some 4,600
  files, gzip'd as ``docker build`` does): per-file cost, as a distribution's
  root file system has.

Each run pulls into a new, empty store and leaves the image ready to run:
dockyard's store with every layer unpacked; podman's containers-storage
(``--storage-driver``, overlay by default as podman's own default, which is
the fairer peer: vfs copies whole layers); skopeo only copies the blobs into an
``oci:`` layout (no unpacking) and shows the floor of the transfer alone.
Every command is timed as a whole process, start-up included.  Trees from
earlier runs are moved aside and deleted after all the measurements: the
ext4 root of the machines this runs on has no journal, and creating many files
right after deleting many gets slower run after run.  The order of the tools
rotates every round.  Printed: medians, and dockyard's time as a ratio of each
peer's (target against podman: <= 0.8).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import images
from .common import (LOOPBACK, REPO_ROOT, format_table, log, median, missing_tools, run,
                     timed_run)
from .registry import Target

MIB = 1 << 20
TAG = "bench"
TARGET_RATIO = 0.8
ROOTFS_SOURCES = ("/usr/lib/python3.11", "/usr/lib/python3")
TOOLS = ("dockyard", "podman", "skopeo")


@dataclass(frozen=True)
class Pulled:
    """One image in the registry: its name there and what a pull must produce."""

    name: str
    reference: str  # host:port/repo:tag
    digest: str
    layers: int


# --- images -------------------------------------------------------------------------------


def rootfs_layout(root: Path, sources: Sequence[str]) -> images.Blob:
    """An OCI layout at ``root`` whose one layer holds a copy of the ``sources`` trees,
    gzip'd at level 6 as ``docker build`` does."""
    def add(tar: tarfile.TarFile) -> None:
        for source in sources:
            tar.add(source, arcname=source.lstrip("/"), recursive=True)

    return images.layout_of(root, [lambda path: images.tar_gzip_layer(path, add, 6)], TAG)


def push(layout: Path, reference: str, workdir: Path) -> None:
    run(["skopeo", *skopeo_options(workdir), "copy", "--quiet", "--preserve-digests",
         "--dest-tls-verify=false", f"oci:{layout}:{TAG}", f"docker://{reference}"])


def skopeo_options(workdir: Path) -> list[str]:
    policy = workdir / "policy.json"
    if not policy.exists():
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        (workdir / "skopeo-tmp").mkdir(exist_ok=True)
    return ["--policy", str(policy), "--tmpdir", str(workdir / "skopeo-tmp")]


# --- the pullers --------------------------------------------------------------------------


class Runner:
    """Runs one tool's pull into a fresh destination and checks what it left."""

    def __init__(self, workdir: Path, podman_driver: str) -> None:
        self.workdir = workdir
        self.podman_driver = podman_driver
        self.trash = workdir / "trash"
        self.trash.mkdir(exist_ok=True)
        self.home = workdir / "home"  # no credentials or settings of the caller's
        self.home.mkdir(exist_ok=True)

    def pull(self, tool: str, image: Pulled, label: str) -> float:
        destination = self.workdir / "runs" / label
        destination.mkdir(parents=True)
        seconds = getattr(self, f"_{tool}")(image, destination)
        shutil.move(destination, self.trash / label)  # deleted once everything is measured
        return seconds

    def empty_trash(self) -> None:
        for path in self.trash.iterdir():
            shutil.rmtree(path)

    def _dockyard(self, image: Pulled, destination: Path) -> float:
        env = {**os.environ, "HOME": str(self.home), "DOCKER_CONFIG": str(self.home / ".docker")}
        env.pop("DOCKYARD_ROOT", None)
        seconds = timed_run([sys.executable, "-m", "client", "--root", str(destination),
                             "pull", "-q", image.reference], cwd=REPO_ROOT, env=env)
        unpacked = [p for p in (destination / "layers").iterdir() if not p.name.startswith(".")]
        if len(unpacked) != image.layers:
            raise RuntimeError(f"dockyard left {len(unpacked)} unpacked layers, "
                               f"expected {image.layers}")
        return seconds

    def _podman(self, image: Pulled, destination: Path) -> float:
        runroot = Path(tempfile.mkdtemp(prefix="bp-"))  # podman wants under 50 characters
        podman = ["podman", "--root", str(destination / "storage"), "--runroot", str(runroot),
                  "--storage-driver", self.podman_driver, "--cgroup-manager", "cgroupfs",
                  "--events-backend", "none"]
        try:
            seconds = timed_run([*podman, "pull", "--quiet", "--tls-verify=false",
                                 image.reference])
            digest = run([*podman, "image", "inspect", "--format", "{{.Digest}}",
                          image.reference]).strip()
        finally:
            _unmount_below(destination)
            shutil.rmtree(runroot, ignore_errors=True)
        if digest != image.digest:
            raise RuntimeError(f"podman pulled {digest}, expected {image.digest}")
        return seconds

    def _skopeo(self, image: Pulled, destination: Path) -> float:
        seconds = timed_run(["skopeo", *skopeo_options(self.workdir), "copy", "--quiet",
                             "--src-tls-verify=false", f"docker://{image.reference}",
                             f"oci:{destination / 'layout'}:{TAG}"])
        got = images.layout_manifest_digest(destination / "layout", TAG)
        if got != image.digest:
            raise RuntimeError(f"skopeo copied {got}, expected {image.digest}")
        return seconds


def _unmount_below(path: Path) -> None:
    """Unmount anything podman left mounted under ``path`` (overlay may mount for checks)."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, reverse=True):
        subprocess.run(["umount", target], check=False)


# --- the measurement ----------------------------------------------------------------------


def measure(images_: list[Pulled], runner: Runner, rounds: int,
            tools: Sequence[str]) -> dict[tuple[str, str], list[float]]:
    times: dict[tuple[str, str], list[float]] = {}
    for round_no in range(rounds):
        for image in images_:
            shift = round_no % len(tools)  # a different order every round
            for tool in [*tools[shift:], *tools[:shift]]:
                seconds = runner.pull(tool, image, f"{tool}-{image.name}-{round_no}")
                times.setdefault((image.name, tool), []).append(seconds)
                log(f"round {round_no + 1}: {tool} pulled {image.name} in {seconds:.2f}s")
    return times


def report(images_: list[Pulled], times: dict[tuple[str, str], list[float]],
           tools: Sequence[str]) -> tuple[str, bool]:
    header = ["image", *(f"{t} (s)" for t in tools),
              *(f"dockyard/{t}" for t in tools if t != "dockyard")]
    rows, met = [], True
    for image in images_:
        medians = {t: median(times[(image.name, t)]) for t in tools}
        ratios = {t: medians["dockyard"] / medians[t] for t in tools if t != "dockyard"}
        if "podman" in ratios:
            met = met and ratios["podman"] <= TARGET_RATIO
        rows.append([image.name, *(f"{medians[t]:.2f}" for t in tools),
                     *(f"{ratio:.2f}" for ratio in ratios.values())])
    return format_table(header, rows), met


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pull", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="runs per tool and image")
    parser.add_argument("--random-mib", type=int, default=250)
    parser.add_argument("--random-layers", type=int, default=5)
    parser.add_argument("--rootfs", nargs="+", default=list(ROOTFS_SOURCES), metavar="DIR",
                        help="trees copied into the root-file-system image")
    parser.add_argument("--podman-driver", default="overlay", choices=("overlay", "vfs"))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp"),
                        help="where stores and layouts go (a disk, not tmpfs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if "dockyard" not in args.tools:
        args.tools.insert(0, "dockyard")
    missing = missing_tools("skopeo", *(t for t in args.tools if t != "dockyard"))
    if missing:
        print(f"missing tools: {', '.join(missing)} (Debian packages of the same names)",
              file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bench-pull-", dir=args.workdir))
    try:
        log(f"building images in {workdir}")
        random_manifest = images.oci_layout(workdir / "random", args.random_layers,
                                            args.random_mib * MIB, TAG)
        rootfs_manifest = rootfs_layout(workdir / "rootfs", args.rootfs)
        with Target("dockyard", workers=1).server(workdir / "registry", False) as server:
            host = f"{LOOPBACK}:{server.port}"
            pulled = [Pulled("random", f"{host}/bench/random:{TAG}", random_manifest.digest,
                             args.random_layers),
                      Pulled("rootfs", f"{host}/bench/rootfs:{TAG}", rootfs_manifest.digest, 1)]
            for image in pulled:
                push(workdir / image.name, image.reference, workdir)
            started = time.monotonic()
            runner = Runner(workdir, args.podman_driver)
            times = measure(pulled, runner, args.rounds, args.tools)
            log(f"measured in {time.monotonic() - started:.0f}s")
            runner.empty_trash()
        table, met = report(pulled, times, args.tools)
        print(f"pull into an empty store, ready to run; medians of {args.rounds} runs; "
              f"podman storage driver: {args.podman_driver}")
        print(table)
        print(f"target dockyard/podman <= {TARGET_RATIO}: {'met' if met else 'NOT met'}")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
