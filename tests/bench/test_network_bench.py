"""Run the network benchmark end to end at a toy size, so that it cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools
from tests.network.conftest import needs_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(bool(missing_tools("iperf3")), reason="needs iperf3 (apt-get install iperf3)"),
]


def test_network_benchmark_runs_at_toy_size(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench.network", "--seconds", "1", "--repeats", "1",
                           "--setup-runs", "2", "--no-podman", "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    for metric in ("throughput_gbps", "connections_per_s"):
        assert len(data[metric]) == 3 and all(v > 0 for v in data[metric].values())
    assert "bridge added to dockyard run --rm" in proc.stdout
