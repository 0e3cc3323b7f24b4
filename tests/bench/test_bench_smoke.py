"""Run the registry benchmark end to end at a toy size, so that it cannot rot unnoticed.

The figures are meaningless at this size; what is checked is that every phase
runs against every registry set-up and reports a positive median for each metric.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools
from bench.registry import DISTRIBUTION_BINARY, METRICS

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(bool(missing_tools("curl", "wrk", "skopeo")),
                       reason=f"needs curl, wrk and skopeo; missing: "
                              f"{', '.join(missing_tools('curl', 'wrk', 'skopeo'))}"),
]

TINY = ["--quick", "--workers", "1,2", "--blob-mib", "8", "--blob-repeats", "1",
        "--wrk-seconds", "1", "--image-layers", "2", "--image-mib", "4"]


def test_registry_benchmark_runs_at_toy_size(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench.registry", *TINY, "--tmpdir",
                           str(tmp_path), "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    expected = ["dockyard-1w", "dockyard-2w"]
    if not missing_tools(DISTRIBUTION_BINARY):
        expected.insert(0, "distribution")
        assert "ratio" in proc.stdout
    data = json.loads(out.read_text())
    assert data["targets"] == expected
    for metric in METRICS:
        assert metric.label in proc.stdout
        # CPU is counted in clock ticks: at this size a server may well spend none.
        least = 0 if metric.key.endswith("_cpu") else 1e-9
        for target in expected:
            samples = data["results"][metric.key][target]
            assert samples and min(samples) >= least, (metric.key, target, samples)
    # Everything the run created lives under --tmpdir and is gone again.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
