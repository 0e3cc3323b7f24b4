"""Run the sync benchmark end to end at a toy size, so that it cannot rot unnoticed.

The figures mean nothing at this size; what is checked is that both tools
copy the image (each run checks the destination's digest) and that the table
comes out, with nothing left behind.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(bool(missing_tools("skopeo")), reason="needs skopeo"),
]


def test_sync_benchmark_runs_at_toy_size(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench.sync", "--rounds", "1", "--mib", "2",
                           "--layers", "2", "--workdir", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split()[0:2] for line in proc.stdout.splitlines()[3:]]
    assert rows == [["cold", "copy"], ["cold", "peak"], ["warm", "copy"], ["warm", "peak"]]
    assert list(tmp_path.iterdir()) == []
