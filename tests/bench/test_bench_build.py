"""Run the build benchmark at toy size, so that it cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools

MISSING = missing_tools("buildah", "runc", "busybox")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="builds run containers: needs root"),
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}"),
]


def test_build_benchmark_runs_at_toy_size(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench.build", "--context-mib", "1",
                           "--repeats", "1", "--tmpdir", str(tmp_path), "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ratio" in proc.stdout
    results = json.loads(out.read_text())
    assert all(results[name][phase] > 0 for name in ("dockyard", "buildah")
               for phase in ("cold", "cached"))
