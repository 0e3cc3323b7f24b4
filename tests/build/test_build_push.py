"""A built image pushed to a Dockyard registry runs under podman with the same output.

The proof that ``dockyard build`` makes standard images: another engine pulls
it over the wire and runs it, and the bytes match what RUN wrote at build time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .buildkit import NEEDS_ROOT_AND_BUSYBOX, with_busybox, write_context

pytestmark = [*NEEDS_ROOT_AND_BUSYBOX, pytest.mark.interop,
              pytest.mark.skipif(shutil.which("podman") is None or shutil.which("runc") is None,
                                 reason="needs podman and runc (Debian packages)")]
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def test_pushed_build_runs_in_podman(dockyard_url, tmp_path, capsys):
    dockyard = with_busybox(tmp_path, capsys)
    host = dockyard_url.removeprefix("http://")
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
ENV GREETING=hello
WORKDIR /work
RUN echo "$GREETING from the build" > message && id -u >> message
USER app
CMD ["cat", "/work/message"]
"""})
    name = f"{host}/build/podman:1"
    code, _, err = dockyard.build(context, "-t", name, "--push")
    assert code == 0, err

    storage = Path(tempfile.mkdtemp(prefix="dy-podman-"))  # podman: runroot of < 50 characters
    podman = ["podman", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend",
              "none", "--runtime", "runc"]
    try:
        pulled = subprocess.run([*podman, "pull", "--tls-verify=false", name],
                                capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        ran = subprocess.run([*podman, "run", "--rm", "--network", "none", *LIMITS, name],
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "hello from the build\n0\n"
        user = subprocess.run([*podman, "run", "--rm", "--network", "none", *LIMITS, name,
                               "sh", "-c", "id -u; pwd; echo $GREETING"],
                              capture_output=True, text=True, timeout=120)
        assert user.stdout == "1000\n/work\nhello\n", user.stderr
    finally:
        subprocess.run([*podman, "system", "reset", "--force"], capture_output=True, timeout=60)
        shutil.rmtree(storage, ignore_errors=True)
