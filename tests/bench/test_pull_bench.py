"""Run the pull benchmark end to end at a toy size, so that it cannot rot unnoticed.

The figures mean nothing at this size; what is checked is that every tool
pulls both images (each run checks what the tool left) and that the table
of medians and ratios comes out, with nothing left behind.
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


def test_pull_benchmark_runs_at_toy_size(tmp_path):
    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    for i in range(20):
        (tree / "lib" / f"module{i}.py").write_text(f"VALUE = {i}\n" * 50)
    workdir = tmp_path / "work"
    workdir.mkdir()
    tools = ["dockyard", "skopeo", *([] if missing_tools("podman") else ["podman"])]
    proc = subprocess.run([sys.executable, "-m", "bench.pull", "--rounds", "1",
                           "--random-mib", "2", "--random-layers", "2", "--rootfs", str(tree),
                           "--podman-driver", "vfs", "--tools", *tools,
                           "--workdir", str(workdir)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[1].split()[:3] == ["image", "dockyard", "(s)"]
    assert [line.split()[0] for line in lines[3:5]] == ["random", "rootfs"]
    if "podman" in tools:
        assert "dockyard/podman" in lines[1] and lines[-1].startswith("target dockyard/podman")
    assert list(workdir.iterdir()) == []
