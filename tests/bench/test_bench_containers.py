"""Run the container start-up benchmark for one round, so that it cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools

MISSING = missing_tools("crun", "runc", "podman", "/bin/busybox")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}"),
]


def test_container_benchmark_runs_one_round(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench.containers", "--rounds", "1",
                           "--workdir", str(tmp_path), "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dockyard run --rm / podman run --rm" in proc.stdout
    results = json.loads(out.read_text())
    assert set(results["runtime"]) == set(results["client"]) == {"back to back", "isolated"}
    assert all(set(times) == {"dockyard-runtime", "crun", "runc"}
               for times in results["runtime"].values())
    assert all(t > 0 for level in results.values() for by_mode in level.values()
               for times in by_mode.values() for t in times)
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # nothing else left
