"""``python -m registry serve`` as users run it: a real process on a free 127.0.0.1 port."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.common import LOOPBACK, REPO_ROOT, clean_env, free_port

from ..helpers.tls import self_signed_certificate
from .server_process import RegistryProcess, run_registry

ACCESS_LINE = re.compile(r"aiohttp\.access\[(\d+)\]: 127\.0\.0\.1 \"(\S+) (\S+) HTTP/1\.1\" "
                         r"(\d{3}) \d+ \d+\.\d+s ")


def request(server: RegistryProcess, method: str, path: str, headers: dict | None = None,
            body: bytes | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on a fresh connection (so SO_REUSEPORT may pick any worker)."""
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def access_lines(server: RegistryProcess, path: str) -> list[re.Match]:
    return [m for m in ACCESS_LINE.finditer(server.output()) if m.group(3) == path]


def worker_pids(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


def test_serves_the_api_and_logs_one_line_per_request(tmp_path):
    config = {"http": {"headers": {"X-Content-Type-Options": ["nosniff"]}}}
    with run_registry(tmp_path, config=config) as server:
        response, body = request(server, "GET", "/v2/?probe=1",
                                 {"Authorization": "Bearer very-secret-token"})
        assert response.status == 200 and body == b"{}"
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response, _ = request(server, "GET", "/v2/no/such/repo/tags/list")
        assert response.status == 404
        assert server.stop() == 0

    output = server.output()
    assert f"listening on http://{LOOPBACK}:{server.port}" in output
    assert [m.group(4) for m in access_lines(server, "/v2/?probe=1")] == ["200"]
    assert [m.group(4) for m in access_lines(server, "/v2/no/such/repo/tags/list")] == ["404"]
    assert "very-secret-token" not in output


def test_json_log_lines_carry_the_configured_fields(tmp_path):
    config = {"log": {"formatter": "json", "fields": {"service": "registry"}}}
    with run_registry(tmp_path, config=config) as server:
        assert request(server, "GET", "/v2/?json")[0].status == 200
    lines = [json.loads(line) for line in server.output().splitlines()]
    assert all(line["service"] == "registry" for line in lines)
    access = [line for line in lines if "/v2/?json" in line["msg"]]
    assert [(line["logger"], line["level"]) for line in access] == [("aiohttp.access", "info")]


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    with run_registry(tmp_path) as server:
        response, _ = request(server, "POST", "/v2/slow/blobs/uploads/")
        location = response.headers["Location"]
        data = os.urandom(1 << 20)
        half = len(data) // 2
        with socket.create_connection((LOOPBACK, server.port)) as sock:
            sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
                         f"Content-Type: application/octet-stream\r\n"
                         f"Content-Length: {len(data)}\r\nContent-Range: 0-{len(data) - 1}\r\n"
                         f"\r\n".encode() + data[:half])
            time.sleep(0.3)  # the handler is now streaming the body to storage
            os.kill(server.pid, signal.SIGTERM)
            wait_for(lambda: "stopping" in server.output())
            with pytest.raises(ConnectionRefusedError):  # no new connections while draining
                socket.create_connection((LOOPBACK, server.port), timeout=2).close()
            assert server.process.poll() is None
            sock.sendall(data[half:])
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 202
        assert server.process.wait(10) == 0

        server.start()  # what was acknowledged is there after the restart
        response, _ = request(server, "GET", location)
        assert response.status == 204
        assert response.headers["Range"] == f"0-{len(data) - 1}"


def test_workers_share_the_port_and_crashed_ones_are_replaced(tmp_path):
    with run_registry(tmp_path, workers=2) as server:
        workers = wait_for(lambda: len(worker_pids(server.pid)) == 2 and worker_pids(server.pid))
        for _ in range(24):  # fresh connections, spread by the kernel over both sockets
            assert request(server, "GET", "/v2/?spread")[0].status == 200
        assert {int(m.group(1)) for m in access_lines(server, "/v2/?spread")} == workers

        crashed = min(workers)
        os.kill(crashed, signal.SIGKILL)
        replaced = wait_for(lambda: len(worker_pids(server.pid)) == 2 and worker_pids(server.pid)
                            if crashed not in worker_pids(server.pid) else None)
        assert len(replaced - workers) == 1
        for _ in range(8):
            assert request(server, "GET", "/v2/")[0].status == 200
        assert server.stop() == 0
    assert "starting a new one" in server.output()


def serve(tmp_path: Path, config: dict) -> subprocess.Popen:
    """``python -m registry serve`` with ``config``, output captured (for short runs only)."""
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.Popen([sys.executable, "-m", "registry", "serve", str(path)],
                            cwd=REPO_ROOT, env=clean_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def serve_once(tmp_path: Path, config: dict) -> subprocess.CompletedProcess:
    """Run a server that is expected to fail at start."""
    with serve(tmp_path, config) as process:
        stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_serves_https_when_tls_is_configured(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    context = ssl.create_default_context(cafile=str(cert))

    def get_version() -> http.client.HTTPResponse | None:
        conn = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=5)
        try:
            conn.request("GET", "/v2/")
            return conn.getresponse()
        except ConnectionRefusedError:
            return None

    with serve(tmp_path, {"http": {"addr": f"{LOOPBACK}:{port}",
                                   "tls": {"certificate": str(cert), "key": str(key)}},
                          "storage": {"filesystem": {"rootdirectory": str(tmp_path / "s")}}}
               ) as process:
        try:
            response = wait_for(get_version)
            assert response.status == 200
            assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        finally:
            process.terminate()
            stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"listening on https://{LOOPBACK}:{port}" in stdout


def test_a_port_in_use_is_one_clear_error(tmp_path):
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        done = serve_once(tmp_path, {"http": {"addr": f"{LOOPBACK}:{port}"},
                                     "storage": {"filesystem": {"rootdirectory": str(tmp_path)}}})
    assert done.returncode == 1
    assert done.stderr == (f"dockyard-registry: error: http.addr: cannot listen on "
                           f"{LOOPBACK}:{port}: Address already in use\n")


@pytest.mark.parametrize("workers", [1, 2])
def test_unusable_storage_stops_the_server(tmp_path, workers):
    (tmp_path / "file").write_text("not a directory")
    done = serve_once(tmp_path, {"http": {"addr": f"{LOOPBACK}:{free_port()}"},
                                 "storage": {"filesystem": {"rootdirectory":
                                                            str(tmp_path / "file")}},
                                 "dockyard": {"workers": workers}})
    assert done.returncode == 1
    assert "storage.filesystem.rootdirectory: cannot use" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_upload_purging_dry_run_logs_and_keeps_sessions(tmp_path):
    purging = {"age": "1s", "interval": "500ms", "dryrun": True}
    with run_registry(tmp_path, config={"storage": {"maintenance": {
            "uploadpurging": purging}}}) as server:
        response, _ = request(server, "POST", "/v2/purge/me/blobs/uploads/")
        location = response.headers["Location"]
        upload_id = location.rsplit("/", 1)[1]
        wait_for(lambda: f"would delete session {upload_id}" in server.output())
        assert request(server, "GET", location)[0].status == 204
