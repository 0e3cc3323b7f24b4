"""Build benchmark: ``dockyard build`` against ``buildah bud``, cold and fully cached.

    python -m bench.build [--context-mib 50] [--repeats 3] [--tmpdir DIR] [--json FILE]

The Dockerfile is five steps: FROM a busybox base, COPY of a context of
``--context-mib`` MiB, two RUN steps, CMD. Both builders get the same base
(built from busybox-static by each of them, FROM scratch, before timing),
the same context and the same host network for RUN. "cold" is ``--no-cache``
with the base already present; "cached" rebuilds with every step cached.
buildah runs with ``--layers`` (its step cache), runc, and the ulimits this
machine needs (see DESIGN.md). Needs root, buildah, runc and busybox.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO_ROOT, log, median, missing_tools, run

DOCKERFILE = """\
FROM {base}
COPY data/ /data/
RUN cat /data/* | wc -c > /size
RUN echo done > /done && ls /data > /listing
CMD ["sh"]
"""
APPLETS = ("sh", "cat", "wc", "echo", "ls")
BUILDAH_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def prepare(tmp: Path, context_mib: int) -> tuple[Path, Path]:
    """The busybox base context and the measured context (``context_mib`` MiB of files)."""
    base = tmp / "base"
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(shutil.which("busybox") or "/bin/busybox", rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (base / "Dockerfile").write_text('FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n')
    app = tmp / "app"
    (app / "data").mkdir(parents=True)
    for index in range(context_mib):
        (app / "data" / f"file{index:03d}").write_bytes(os.urandom(1 << 20))
    return base, app


class Dockyard:
    name = "dockyard"

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "dockyard-root"
        self.command = [sys.executable, "-m", "client", "--root", str(self.root)]

    def base(self, context: Path) -> str:
        run([*self.command, "build", "-q", "-t", "busybox:bench", str(context)], cwd=REPO_ROOT)
        return "busybox:bench"

    def build(self, context: Path, cached: bool) -> None:
        flags = [] if cached else ["--no-cache"]
        run([*self.command, "build", "-q", "--network", "host", *flags, "-t", "app:bench",
             str(context)], cwd=REPO_ROOT)


class Buildah:
    name = "buildah"

    def __init__(self, tmp: Path) -> None:
        self.command = ["buildah", "--root", str(tmp / "buildah-root"), "--runroot",
                        str(tmp / "buildah-run"), "--storage-driver", "overlay"]

    def base(self, context: Path) -> str:
        run([*self.command, "bud", "-q", *BUILDAH_LIMITS, "-t", "localhost/busybox:bench",
             str(context)])
        return "localhost/busybox:bench"

    def build(self, context: Path, cached: bool) -> None:
        flags = ["--layers"] + ([] if cached else ["--no-cache"])
        run([*self.command, "bud", "-q", "--pull=never", "--runtime", "runc", "--network",
             "host", *BUILDAH_LIMITS, *flags, "-t", "localhost/app:bench", str(context)])

    def clean(self) -> None:
        run([*self.command, "rm", "--all"])
        run([*self.command, "rmi", "--all", "--force"])


def measure(builder, base: Path, app: Path, repeats: int) -> dict[str, float]:
    image = builder.base(base)
    context = app.parent / f"app-{builder.name}"
    shutil.copytree(app, context)
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=image))
    times: dict[str, list[float]] = {"cold": [], "cached": []}
    for _ in range(repeats):
        for phase in ("cold", "cached"):
            started = time.perf_counter()
            builder.build(context, cached=phase == "cached")
            times[phase].append(time.perf_counter() - started)
    log(f"{builder.name}: " + ", ".join(f"{k} {[round(t, 3) for t in v]}"
                                        for k, v in times.items()))
    return {phase: median(values) for phase, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context-mib", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmpdir", help="where to work (default: a new temporary directory)")
    parser.add_argument("--json", help="also write the medians here")
    args = parser.parse_args(argv)
    missing = missing_tools("buildah", "runc", "busybox")
    if os.geteuid() != 0 or missing:
        print(f"bench.build needs root and {', '.join(missing) or 'nothing else'}",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-build-", dir=args.tmpdir))
    buildah = Buildah(tmp)
    try:
        base, app = prepare(tmp, args.context_mib)
        results = {b.name: measure(b, base, app, args.repeats)
                   for b in (Dockyard(tmp), buildah)}
    finally:
        try:
            buildah.clean()
        except RuntimeError as err:
            log(f"buildah clean-up: {err}")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'phase':<8} {'dockyard s':>11} {'buildah s':>10} {'ratio':>7}")
    for phase in ("cold", "cached"):
        ours, theirs = results["dockyard"][phase], results["buildah"][phase]
        print(f"{phase:<8} {ours:>11.3f} {theirs:>10.3f} {ours / theirs:>7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
