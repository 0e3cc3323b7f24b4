"""Benchmark: pulling through Dockyard's pull-through cache beside distribution's, same run.

    python -m bench.mirror                  # 3 rounds, a 250 MiB image of 5 layers
    python -m bench.mirror --rounds 5 --mib 100

An upstream Dockyard registry on 127.0.0.1 holds one image of random layers
(pushed by skopeo, digests preserved).  Every round, each proxy is started
afresh on empty storage with the same ``proxy.remoteurl`` pointing at the
upstream, and ``skopeo copy`` pulls the image through it twice into fresh
``oci:`` layouts:

- ``cold``: nothing cached; the proxy fetches from upstream while it serves;
- ``warm``: everything cached.

``direct`` is the same pull straight from the upstream Dockyard: a normal
pull, which a warm cache should match.  The proxies' order rotates every
round; each pull is a whole skopeo process, start-up included.  Printed:
medians, and Dockyard's time as a ratio of distribution's (cold, target
<= 1.0) and of the direct pull (warm, target <= 1.0).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import images
from .common import LOOPBACK, format_table, log, median, missing_tools
from .pull import Pulled, Runner, push
from .registry import Target

MIB = 1 << 20
TAG = "bench"
REPOSITORY = "bench/mirror"
PROXIES = (Target("dockyard", workers=1), Target("distribution"))
PHASES = ("cold", "warm")


def measure(upstream_url: str, image: Pulled, runner: Runner, workdir: Path,
            rounds: int) -> dict[str, list[float]]:
    """Seconds per (proxy phase) and for the direct pull, one value per round."""
    times: dict[str, list[float]] = {}
    proxy_config = {"proxy": {"remoteurl": upstream_url}}
    for round_no in range(rounds):
        shift = round_no % len(PROXIES)
        for target in [*PROXIES[shift:], *PROXIES[:shift]]:
            with target.server(workdir / "proxies", False, proxy_config) as server:
                through = Pulled(image.name, f"{LOOPBACK}:{server.port}/{REPOSITORY}:{TAG}",
                                 image.digest, image.layers)
                for phase in PHASES:
                    seconds = runner.pull("skopeo", through, f"{target.name}-{phase}-{round_no}")
                    times.setdefault(f"{target.name} {phase}", []).append(seconds)
                    log(f"round {round_no + 1}: {target.name} {phase} in {seconds:.2f}s")
            shutil.rmtree(workdir / "proxies")
        seconds = runner.pull("skopeo", image, f"direct-{round_no}")
        times.setdefault("direct", []).append(seconds)
        log(f"round {round_no + 1}: direct in {seconds:.2f}s")
    return times


def report(times: dict[str, list[float]]) -> tuple[str, bool]:
    medians = {key: median(values) for key, values in times.items()}
    cold = medians["dockyard cold"] / medians["distribution cold"]
    warm = medians["dockyard warm"] / medians["direct"]
    rows = [[phase, f"{medians[f'dockyard {phase}']:.2f}",
             f"{medians[f'distribution {phase}']:.2f}",
             f"{medians[f'dockyard {phase}'] / medians[f'distribution {phase}']:.2f}"]
            for phase in PHASES]
    rows.append(["direct (no proxy)", f"{medians['direct']:.2f}", "-", "-"])
    table = format_table(["pull", "dockyard (s)", "distribution (s)", "dockyard/distribution"],
                         rows)
    summary = (f"\ncold: dockyard/distribution = {cold:.2f} (target <= 1.0)"
               f"\nwarm: dockyard proxy/direct dockyard pull = {warm:.2f} (target <= 1.0)")
    return table + summary, cold <= 1.0 and warm <= 1.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mirror", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=250, help="image size")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp"),
                        help="where storage and layouts go (a disk, not tmpfs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools("skopeo", "docker-registry")
    if missing:
        print(f"missing tools: {', '.join(missing)} (Debian packages skopeo, docker-registry)",
              file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bench-mirror-", dir=args.workdir))
    try:
        log(f"building a {args.mib} MiB image in {workdir}")
        manifest = images.oci_layout(workdir / "image", args.layers, args.mib * MIB, TAG)
        with Target("upstream", workers=1).server(workdir / "upstream", False) as upstream:
            direct = Pulled("image", f"{LOOPBACK}:{upstream.port}/{REPOSITORY}:{TAG}",
                            manifest.digest, args.layers)
            push(workdir / "image", direct.reference, workdir)
            runner = Runner(workdir, "vfs")
            times = measure(upstream.base_url, direct, runner, workdir, args.rounds)
            runner.empty_trash()
        table, met = report(times)
        print(f"skopeo copy through a pull-through cache, {args.mib} MiB in {args.layers} "
              f"layers, upstream Dockyard on loopback; medians of {args.rounds} rounds")
        print(table)
        print(f"targets: {'met' if met else 'NOT met'}")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
