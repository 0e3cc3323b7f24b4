"""Dockyard's registry beside the CNCF distribution registry, measured the same way in one run.

    python -m bench.registry            # full run (several minutes)
    python -m bench.registry --quick    # about a minute, smaller data and shorter runs

What is measured (issue 2's "Done means"):
  * blob download throughput of one large random blob, with curl writing to /dev/null;
  * manifest GETs per second by tag and by digest, and blob HEADs (what a push asks
    before each layer), with wrk at 32 connections;
  * a full image push and pull with skopeo (OCI layout -> registry -> fresh OCI layout),
    each into a registry started afresh on empty storage.

The load generators share this machine's cores with the servers, so every
measurement is repeated, the order of the registries is rotated from round to
round, and medians are reported with the Dockyard/distribution ratios next to the
issue's targets. Below each throughput row, "server CPU" is what the server's
process tree spent per GiB or per request: it moves far less with machine noise
than throughput does, so it tells a real change from a noisy run. Dockyard is
measured once per ``--workers`` value (processes sharing the port), so the gain
from a second worker shows in the same table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ocispec import mediatypes

from . import images
from .common import (LOOPBACK, Server, expect, format_table, free_port, http_request, log,
                     median, missing_tools, run, timed_run, with_cpu)

DISTRIBUTION_BINARY = "/usr/bin/docker-registry"
BLOB_REPO, IMAGE_REPO, PUSH_REPO, TAG = "bench/blob", "bench/small", "bench/image", "latest"
MANIFEST_ACCEPT = ", ".join([mediatypes.OCI_MANIFEST, mediatypes.DOCKER_MANIFEST,
                             mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST])
MIB, GIB = 1 << 20, 1 << 30

# Samples: metric key -> target name -> one value per run.
Results = dict[str, dict[str, list[float]]]


@dataclass(frozen=True)
class Metric:
    """One row of the report; ``target_ratio`` is issue 2's goal, so a miss shows at a glance."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    target_ratio: float | None  # Dockyard/distribution that meets the goal
    decimals: int = 1

    def format(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"

    def meets(self, ratio: float) -> bool:
        if self.target_ratio is None:
            return True
        return ratio >= self.target_ratio if self.higher_is_better else ratio <= self.target_ratio

    def target_text(self) -> str:
        if self.target_ratio is None:
            return "-"
        return f"{'>=' if self.higher_is_better else '<='} {self.target_ratio:.1f}x"


# "... server CPU": what the server process tree spent per unit of work. Throughput swings
# with whatever else runs on the machine; CPU per request is the steadier comparison.
METRICS = [
    Metric("blob_download", "blob download", "MiB/s", True, 1.0),
    Metric("blob_download_cpu", "  server CPU", "ms/GiB", False, None, decimals=0),
    Metric("manifest_by_tag", "manifest GET by tag", "req/s", True, 2.0, decimals=0),
    Metric("manifest_by_tag_cpu", "  server CPU", "us/req", False, None),
    Metric("manifest_by_digest", "manifest GET by digest", "req/s", True, 2.0, decimals=0),
    Metric("manifest_by_digest_cpu", "  server CPU", "us/req", False, None),
    Metric("blob_head", "blob HEAD", "req/s", True, None, decimals=0),
    Metric("blob_head_cpu", "  server CPU", "us/req", False, None),
    Metric("skopeo_push", "skopeo push", "s", False, 1.0, decimals=2),
    Metric("skopeo_pull", "skopeo pull", "s", False, None, decimals=2),
]


@dataclass(frozen=True)
class Target:
    """One registry set-up under test: distribution, or Dockyard with N workers."""

    name: str
    workers: int = 0  # 0 = distribution

    @property
    def is_distribution(self) -> bool:
        return self.workers == 0

    def server(self, workdir: Path, access_log: bool, extra: dict | None = None) -> Server:
        """A not-yet-started server on a free port over fresh, empty storage in ``workdir``;
        ``extra`` adds top-level config sections (the same for both: ``proxy``)."""
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=workdir))
        port = free_port()
        # The same keys for both; distribution's key names are Dockyard's too.
        config: dict = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": not access_log}},
            "http": {"addr": f"{LOOPBACK}:{port}"},
            "storage": {"filesystem": {"rootdirectory": str(root / "storage")},
                        "delete": {"enabled": True}},
        }
        if self.is_distribution:
            # Debian's /etc/docker/registry/config.yml default: cache blob descriptors in memory.
            config["storage"]["cache"] = {"blobdescriptor": "inmemory"}
            argv = [DISTRIBUTION_BINARY, "serve"]
        else:
            config["dockyard"] = {"workers": self.workers}
            argv = [sys.executable, "-m", "registry", "serve"]
        config.update(extra or {})
        config_path = root / "config.yml"
        config_path.write_text(yaml.safe_dump(config))
        return Server(self.name, [*argv, str(config_path)], port, root / "server.log")


def rotated(targets: Sequence[Target], round_no: int) -> list[Target]:
    """The targets in a different order every round, so none always runs first or last."""
    shift = round_no % len(targets)
    return [*targets[shift:], *targets[:shift]]


@contextlib.contextmanager
def running(targets: Sequence[Target], workdir: Path, access_log: bool
            ) -> Iterator[dict[str, Server]]:
    """Start one long-lived server per target for the blob and manifest phases."""
    with contextlib.ExitStack() as stack:
        yield {t.name: stack.enter_context(t.server(workdir / "long", access_log))
               for t in targets}


def measure_rounds(targets: Sequence[Target], rounds: int, results: Results,
                   measure: Callable[[Target], dict[str, float]]) -> None:
    """Run ``measure`` once per target per round (rotating the order) and record its values."""
    for round_no in range(rounds):
        for target in rotated(targets, round_no):
            for key, value in measure(target).items():
                results[key][target.name].append(value)
                log(f"round {round_no + 1}/{rounds} {target.name}: {key} = {value:.2f}")


# --- (a) blob download ------------------------------------------------------------------


def curl_download_mibps(url: str, expected_size: int) -> float:
    out = run(["curl", "--silent", "--show-error", "--fail", "--output", "/dev/null",
               "--write-out", "%{size_download} %{time_total}", url])
    size, seconds = out.split()
    if int(size) != expected_size:
        raise RuntimeError(f"{url}: downloaded {size} bytes, expected {expected_size}")
    return expected_size / MIB / float(seconds)


def bench_blob(targets: Sequence[Target], servers: dict[str, Server], workdir: Path,
               args: argparse.Namespace, results: Results) -> None:
    log(f"writing a {args.blob_mib} MiB random blob")
    blob = images.random_file(workdir / "blob.bin", args.blob_mib * MIB)
    urls = {}
    for target in targets:
        base = servers[target.name].base_url
        images.push_blob(base, BLOB_REPO, blob)
        urls[target.name] = f"{base}/v2/{BLOB_REPO}/blobs/{blob.digest}"
        curl_download_mibps(urls[target.name], blob.size)  # warm-up, also checks the size

    def download(target: Target) -> dict[str, float]:
        mibps, cpu = with_cpu(servers[target.name].pid,
                              lambda: curl_download_mibps(urls[target.name], blob.size))
        return {"blob_download": mibps, "blob_download_cpu": cpu * 1000 / (blob.size / GIB)}

    measure_rounds(targets, args.blob_repeats, results, download)
    blob.path.unlink()


# --- (b) manifest GETs ------------------------------------------------------------------


def wrk_rps(url: str, seconds: int, args: argparse.Namespace) -> tuple[float, int]:
    """Requests per second and requests done, from wrk; a non-2xx answer or socket error fails.

    wrk takes whole seconds only ("1.5s" is a usage error).
    """
    out = run(["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{int(seconds)}s",
               "-H", f"Accept: {MANIFEST_ACCEPT}", url])
    rps = requests = errors = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        elif " requests in " in line:
            requests = int(line.split()[0])
        elif line.startswith(("Non-2xx", "Socket errors")):
            errors = line
    if rps is None or not requests or errors is not None:
        raise RuntimeError(f"wrk against {url}: {errors or 'no result lines'}\n{out}")
    return rps, requests


def ab_head_rps(url: str, seconds: int, args: argparse.Namespace) -> tuple[float, int]:
    """HEAD requests per second and requests done, from ab with keep-alive.

    wrk cannot do HEAD (it waits for the body that Content-Length announces);
    ab can, though with one thread it is the slower load generator.
    """
    out = run(["ab", "-q", "-k", "-i", f"-c{args.connections}", f"-t{int(seconds)}",
               "-n", "100000000", url])
    values = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    failed = int(values.get("Failed requests", "1").split()[0])
    non_2xx = values.get("Non-2xx responses")
    if "Requests per second" not in values or failed or non_2xx:
        raise RuntimeError(f"ab against {url}: {failed} failed, non-2xx {non_2xx}\n{out}")
    return (float(values["Requests per second"].split()[0]),
            int(values["Complete requests"].split()[0]))


def bench_manifests(targets: Sequence[Target], servers: dict[str, Server],
                    args: argparse.Namespace, results: Results) -> None:
    urls: dict[str, dict[str, str]] = {}
    for target in targets:
        base = servers[target.name].base_url
        manifest = images.push_small_image(base, IMAGE_REPO, TAG)
        layer = json.loads(manifest.data)["layers"][0]["digest"]
        urls[target.name] = {
            "manifest_by_tag": f"{base}/v2/{IMAGE_REPO}/manifests/{TAG}",
            "manifest_by_digest": f"{base}/v2/{IMAGE_REPO}/manifests/{manifest.digest}",
            "blob_head": f"{base}/v2/{IMAGE_REPO}/blobs/{layer}",
        }
        expect(http_request("HEAD", urls[target.name]["blob_head"]), 200, "blob HEAD")
        for key in ("manifest_by_tag", "manifest_by_digest"):
            url = urls[target.name][key]
            resp = expect(http_request("GET", url, headers={"Accept": MANIFEST_ACCEPT}), 200, url)
            if resp.body != manifest.data:
                raise RuntimeError(f"{url}: served bytes differ from the pushed manifest")
            if args.wrk_warmup > 0:
                wrk_rps(url, args.wrk_warmup, args)

    def get_manifests(target: Target) -> dict[str, float]:
        values = {}
        for key, url in urls[target.name].items():
            load = ab_head_rps if key == "blob_head" else wrk_rps
            (rps, requests), cpu = with_cpu(servers[target.name].pid,
                                            lambda: load(url, args.wrk_seconds, args))
            values[key], values[f"{key}_cpu"] = rps, cpu * 1e6 / requests
        return values

    measure_rounds(targets, args.wrk_rounds, results, get_manifests)


# --- (c) skopeo push and pull -----------------------------------------------------------


def skopeo_round_trip(target: Target, layout: Path, manifest_digest: str, workdir: Path,
                      access_log: bool) -> dict[str, float]:
    """Push the layout into a fresh, empty registry, then pull it into a fresh layout.

    A fresh registry on a fresh port each time means every push really uploads every
    byte: nothing to skip via HEAD, and skopeo's blob-info cache (which would try
    cross-repository mounts) knows no location on a port it has never seen.
    """
    pulled = workdir / "pulled"
    with target.server(workdir / "skopeo", access_log) as server:
        ref = f"docker://{LOOPBACK}:{server.port}/{PUSH_REPO}:{TAG}"
        push = timed_run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                          "--dest-no-creds", f"oci:{layout}:{TAG}", ref])
        pull = timed_run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                          "--src-no-creds", ref, f"oci:{pulled}:{TAG}"])
        root = server.log_path.parent
    try:
        got = images.layout_manifest_digest(pulled, TAG)
        if got != manifest_digest:
            raise RuntimeError(f"{target.name}: pulled manifest {got}, pushed {manifest_digest}")
    finally:
        shutil.rmtree(pulled, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return {"skopeo_push": push, "skopeo_pull": pull}


def bench_skopeo(targets: Sequence[Target], workdir: Path, args: argparse.Namespace,
                 results: Results) -> None:
    layout = workdir / "layout"
    log(f"building an OCI layout: {args.image_layers} layers, {args.image_mib} MiB")
    manifest = images.oci_layout(layout, args.image_layers, args.image_mib * MIB, TAG)
    measure_rounds(targets, args.skopeo_repeats, results, lambda target: skopeo_round_trip(
        target, layout, manifest.digest, workdir, args.access_log))
    shutil.rmtree(layout)


# --- report -----------------------------------------------------------------------------


def ratio_cell(metric: Metric, value: float, baseline: float | None) -> str:
    if not baseline:
        return "n/a"
    ratio = value / baseline
    if metric.target_ratio is None:
        return f"{ratio:.2f}x"
    return f"{ratio:.2f}x {'ok' if metric.meets(ratio) else 'MISS'}"


def report(targets: Sequence[Target], results: Results) -> str:
    """The medians table (with ratios to distribution) and, below it, every sample."""
    baseline = next((t for t in targets if t.is_distribution), None)
    header = ["metric", "unit"]
    for target in targets:
        header += [target.name] if target.is_distribution or baseline is None else \
            [target.name, "ratio"]
    header.append("target")
    rows, samples = [], []
    for metric in METRICS:
        if metric.key not in results:
            continue
        medians = {name: median(values) for name, values in results[metric.key].items()}
        base = medians.get(baseline.name) if baseline else None
        row = [metric.label, metric.unit]
        for target in targets:
            row.append(metric.format(medians[target.name]))
            if baseline is not None and not target.is_distribution:
                row.append(ratio_cell(metric, medians[target.name], base))
        rows.append([*row, metric.target_text()])
        for target in targets:
            values = " ".join(metric.format(v) for v in results[metric.key][target.name])
            samples.append(f"  {metric.key} / {target.name}: {values}")
    title = ("medians; ratio = Dockyard / distribution (for times, lower is better)"
             if baseline else "medians (distribution not installed: no ratios)")
    return "\n".join([title, format_table(header, rows), "", "samples:", *samples])


# --- command line -----------------------------------------------------------------------

PRESETS = {
    "full": dict(blob_mib=512, blob_repeats=7, wrk_seconds=10, wrk_rounds=3, wrk_warmup=1,
                 image_layers=5, image_mib=250, skopeo_repeats=3),
    "quick": dict(blob_mib=256, blob_repeats=3, wrk_seconds=4, wrk_rounds=1, wrk_warmup=0,
                  image_layers=5, image_mib=100, skopeo_repeats=1),
}
PHASES = ("blob", "manifest", "skopeo")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small data, short runs, one round (about a minute)")
    parser.add_argument("--workers", default="1,2",
                        help="Dockyard worker counts to measure, comma-separated (default 1,2)")
    parser.add_argument("--no-distribution", action="store_true",
                        help="measure Dockyard only, even if docker-registry is installed")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of {','.join(PHASES)}")
    sizes = parser.add_argument_group("sizes and durations (defaults: full run / --quick)")
    for name, full in PRESETS["full"].items():
        quick = PRESETS["quick"][name]
        sizes.add_argument(f"--{name.replace('_', '-')}", type=type(full), default=None,
                           help=f"default {full} / {quick}")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--access-log", action="store_true",
                        help="leave both registries' access logs on (off by default)")
    parser.add_argument("--tmpdir", type=Path, default=None,
                        help="where the data and registry roots go (default: system tmp)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the data and server logs")
    parser.add_argument("--json", type=Path, default=None, help="also write samples as JSON")
    args = parser.parse_args(argv)
    for name, value in PRESETS["quick" if args.quick else "full"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    args.workers = [int(w) for w in args.workers.split(",") if w]
    return args


def choose_targets(args: argparse.Namespace) -> list[Target]:
    targets = [Target(f"dockyard-{n}w", n) for n in args.workers]
    if args.no_distribution:
        return targets
    if missing_tools(DISTRIBUTION_BINARY):
        log(f"{DISTRIBUTION_BINARY} not installed (Debian: docker-registry): no ratios")
        return targets
    return [Target("distribution"), *targets]


def required_tools(phases: Sequence[str]) -> list[str]:
    needs = {"blob": "curl", "manifest": "wrk", "skopeo": "skopeo"}
    return [needs[p] for p in phases]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools(*required_tools(args.phases))
    if missing:
        log(f"missing tools: {', '.join(missing)} (Debian packages of the same names)")
        return 2
    targets = choose_targets(args)
    if not targets:
        log("nothing to measure")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-", dir=args.tmpdir))
    results: Results = defaultdict(lambda: defaultdict(list))
    try:
        if {"blob", "manifest"} & set(args.phases):
            with running(targets, workdir, args.access_log) as servers:
                if "blob" in args.phases:
                    bench_blob(targets, servers, workdir, args, results)
                if "manifest" in args.phases:
                    bench_manifests(targets, servers, args, results)
        if "skopeo" in args.phases:
            bench_skopeo(targets, workdir, args, results)
    finally:
        if args.keep_tmp:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(targets, results))
    if args.json:
        args.json.write_text(json.dumps({"targets": [t.name for t in targets],
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
