"""Run the mirror benchmark end to end at a toy size, so that it cannot rot unnoticed.

The figures mean nothing at this size; what is checked is that both proxies
serve the image cold and warm (each pull checks the digest skopeo got) and
that the table of medians and ratios comes out, with nothing left behind.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.common import REPO_ROOT, missing_tools

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(bool(missing_tools("skopeo", "docker-registry")),
                       reason="needs skopeo and docker-registry"),
]


def test_mirror_benchmark_runs_at_toy_size(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench.mirror", "--rounds", "1", "--mib", "2",
                           "--layers", "2", "--workdir", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[1].split()[:3] == ["pull", "dockyard", "(s)"]
    assert [line.split()[0] for line in lines[3:6]] == ["cold", "warm", "direct"]
    assert lines[-1].startswith("targets:")
    assert list(tmp_path.iterdir()) == []
