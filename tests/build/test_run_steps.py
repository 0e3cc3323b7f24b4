"""RUN steps: secrets and SSH agents that never reach a layer, networks, the user.

Also the image's USER/WORKDIR/ENV as ``dockyard run`` sees them, and the
error a non-root build gets. Needs root and busybox-static.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .buildkit import BASE_LAYERS, NEEDS_ROOT_AND_BUSYBOX, write_context

pytestmark = NEEDS_ROOT_AND_BUSYBOX
REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cret-value-7d1e"


@pytest.fixture
def agent(tmp_path):
    """A listening Unix socket standing in for an SSH agent."""
    path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    yield path
    server.close()


def test_secrets_and_ssh_are_mounted_but_never_stored(dockyard, tmp_path, agent, monkeypatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent))
    (tmp_path / "token").write_text(SECRET)
    context = write_context(tmp_path / "ctx", {"Dockerfile": f"""\
FROM busybox:test
RUN --mount=type=secret,id=token test "$(cat /run/secrets/token)" = "{SECRET}" \\
    && test "$(stat -c %a /run/secrets/token)" = 400 && echo used > /used
RUN --mount=type=secret,id=token,env=TOKEN,target=/etc/token,mode=0440,uid=1000 \\
    test "$TOKEN" = "{SECRET}" && test "$(stat -c %u:%a /etc/token)" = 1000:440
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /agent
RUN --mount=type=secret,id=absent --mount=type=ssh,id=other test ! -e /run/secrets/absent
USER app
RUN --mount=type=ssh,uid=1000 test "$(stat -c %u:%a "$SSH_AUTH_SOCK")" = 1000:600
"""})
    code, _, err = dockyard.build(context, "-t", "secret:1", "--secret",
                                  f"id=token,src={tmp_path / 'token'}", "--ssh", "default")
    assert code == 0, err
    names = dockyard.layer_names("secret:1")[BASE_LAYERS:]
    assert names == [["used"], ["agent"]]   # the /etc/token step changed nothing
    assert dockyard.read("secret:1", "agent") == "/run/buildkit/ssh_agent.0\n"
    assert not any(SECRET.encode() in layer for layer in dockyard.layer_bytes("secret:1"))
    for path in (dockyard.root / "build-cache").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes()

    (context / "Dockerfile").write_text(
        "FROM busybox:test\nRUN --mount=type=secret,id=token,required true\n")
    code, _, err = dockyard.build(context)
    assert code == 1 and "secret 'token' is required but was not given" in err


def _interfaces(listing: str) -> list[str]:
    return sorted(line.split(":")[0].strip() for line in listing.splitlines()[2:])


def test_run_network_per_step(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN cat /proc/net/dev > /default && ip -o link show lo > /lo
RUN --network=host cat /proc/net/dev > /host
RUN --network=none cat /proc/net/dev > /none
"""})
    code, _, err = dockyard.build(context)
    assert code == 1 and "RUN --network=host is not allowed" in err   # as BuildKit: opt in
    before = set(_interfaces(Path("/proc/net/dev").read_text()))
    code, _, err = dockyard.build(context, "-t", "net:1", "--allow", "network.host")
    assert code == 0, err                               # the tests' builds: --network=none
    code, _, err = dockyard.build(context, "--network=host", "-t", "net:2", "--no-cache",
                                  "--allow=network.host")
    assert code == 0, err
    host = before & set(_interfaces(Path("/proc/net/dev").read_text()))  # others come and go
    assert len(host) > 1
    assert _interfaces(dockyard.read("net:1", "default")) == ["lo"]
    assert _interfaces(dockyard.read("net:1", "none")) == ["lo"]
    assert ",UP" in dockyard.read("net:1", "lo")                # loopback works, as in Docker
    assert host <= set(_interfaces(dockyard.read("net:1", "host")))
    assert host <= set(_interfaces(dockyard.read("net:2", "default")))
    assert _interfaces(dockyard.read("net:2", "none")) == ["lo"]


def test_default_network_is_a_namespace_on_the_bridge(dockyard, tmp_path):
    from tests.helpers.networks import IsolatedNetworks

    networks = IsolatedNetworks(dockyard.root)  # a bridge and nftables table of its own
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN ip -o -4 addr show > /addr && cat /etc/hostname > /name
"""})
    try:
        code, _, err = dockyard.build(context, "--network=default", "-t", "bridge:1")
    finally:
        left = networks.teardown()
    assert code == 0, err
    assert left == []                                  # no veth, table or address record kept
    gateway = networks.settings["bip"].rsplit(".", 1)[0] + "."
    addresses = dockyard.read("bridge:1", "addr")
    assert " lo " in addresses and f"inet {gateway}" in addresses
    assert dockyard.read("bridge:1", "name") == "buildkitsandbox\n"


def test_user_workdir_env_carried_into_dockyard_run(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
ENV GREETING=hello
WORKDIR /work/dir
RUN id -u > /built-as
USER app
RUN id -u > /tmp/as-app && echo "$HOME" >> /tmp/as-app
CMD ["sh", "-c", "id -u; id -g; pwd; echo $GREETING; cat /built-as /tmp/as-app"]
"""})
    code, _, err = dockyard.build(context, "-t", "carried:1")
    assert code == 0, err
    ran = subprocess.run(
        [sys.executable, "-m", "client", "--root", str(dockyard.root), "run", "--rm",
         "--network", "none", "carried:1"],
        capture_output=True, text=True, timeout=60, cwd=REPO, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "1000\n1000\n/work/dir\nhello\n0\n1000\n/home/app\n"


def test_non_root_builds_fail_clearly(tmp_path):
    """The CLI in a forked child that dropped to nobody (the venv's python may not be
    executable by nobody, so no new process)."""
    from client.cli import main

    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n"})
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read_end)
            sys.stderr = os.fdopen(write_end, "w")
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            code = main(["--root", str(tmp_path / "root"), "build", str(context)])
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        err = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1, err
    assert err.strip().endswith("dockyard build needs root: RUN steps run in containers and "
                                "layers keep their files' owners (rootless builds are not "
                                "supported yet)")


def _stopped_in_a_run_step(root: Path, context: Path, stop: signal.Signals) -> int:
    """Start a build of a long RUN step, send ``stop`` once the step runs; its exit code."""
    build = subprocess.Popen(
        [sys.executable, "-m", "client", "--root", str(root), "build", "--network=default",
         "--progress=plain", str(context)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, cwd=REPO)
    try:
        for line in build.stderr:
            if line.rstrip().endswith(" started"):
                break
    finally:
        build.send_signal(stop)
        code = build.wait(timeout=30)
        build.stderr.close()
    return code


def _build_containers_of(root: Path) -> list[str]:
    """This store's build containers the runtime still holds; another test run's
    builds, which may be going on meanwhile, are not this test's business."""
    from client.build.scratch import RUNTIME_ROOT

    found = []
    for name in os.listdir(RUNTIME_ROOT) if os.path.isdir(RUNTIME_ROOT) else []:
        try:
            with open(os.path.join(RUNTIME_ROOT, name, "state.json")) as f:
                bundle = json.load(f)["bundle"]
        except (OSError, ValueError, KeyError):  # removed as we looked, or not a container
            continue
        if name.startswith("build-") and bundle.startswith(str(root)):
            found.append(name)
    return found


def test_an_interrupted_build_cleans_up_after_itself(dockyard, tmp_path):
    from tests.helpers.networks import IsolatedNetworks

    networks = IsolatedNetworks(dockyard.root)
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test\nRUN echo started && sleep 60\n"})
    try:
        assert _stopped_in_a_run_step(dockyard.root, context, signal.SIGINT) != 0
        assert not list((dockyard.root / "build-cache" / "tmp").iterdir())
        assert str(dockyard.root) not in Path("/proc/mounts").read_text()
        assert _build_containers_of(dockyard.root) == []
    finally:
        assert networks.teardown() == []


def test_a_killed_build_is_cleaned_up_by_the_next(dockyard, tmp_path):
    from tests.helpers.networks import IsolatedNetworks

    networks = IsolatedNetworks(dockyard.root)
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test\nRUN echo started && sleep 60\n"})
    _stopped_in_a_run_step(dockyard.root, context, signal.SIGKILL)
    try:
        steps = list((dockyard.root / "build-cache" / "tmp").glob("build-*/*/step.json"))
        assert len(steps) == 1                              # what the kill left behind
        container = json.loads(steps[0].read_text())["container"]
        assert os.path.exists(f"/run/dockyard-runtime/{container}")
        assert str(dockyard.root) in Path("/proc/mounts").read_text()
        (context / "Dockerfile").write_text("FROM busybox:test\nLABEL next=1\n")
        code, _, err = dockyard.build(context)
        assert code == 0, err
        assert not list((dockyard.root / "build-cache" / "tmp").iterdir())
        assert not os.path.exists(f"/run/dockyard-runtime/{container}")
        assert str(dockyard.root) not in Path("/proc/mounts").read_text()
    finally:
        assert networks.teardown() == []                    # its address was released


@pytest.mark.parametrize("sharing, succeeds", [("locked", True), ("private", True),
                                               ("shared", False)])
def test_cache_mount_sharing_between_concurrent_stages(dockyard, tmp_path, sharing, succeeds):
    """Two independent stages build at once and use one cache: with ``shared`` they meet
    in it (which the step detects), ``locked`` takes turns, ``private`` keeps apart."""
    use = (f"RUN --mount=type=cache,id=c,target=/c,sharing={sharing} test ! -e /c/busy "
           "&& touch /c/busy && sleep 2 && rm /c/busy && echo {0} > /{0}")
    context = write_context(tmp_path / "ctx", {"Dockerfile": f"""\
FROM busybox:test AS one
{use.format("one")}
FROM busybox:test AS two
{use.format("two")}
FROM scratch
COPY --from=one /one /one
COPY --from=two /two /two
"""})
    code, _, err = dockyard.build(context)
    assert (code == 0) == succeeds, err


def test_a_sweep_spares_a_directory_another_build_is_about_to_lock(dockyard, tmp_path):
    scratch = dockyard.root / "build-cache" / "tmp"
    old, young = scratch / ".new-old", scratch / ".new-young"
    for directory in (old, young):
        directory.mkdir(parents=True)
    os.utime(old, (0, 0))                                  # killed long ago: debris
    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nLABEL a=b\n"})
    code, _, err = dockyard.build(context)
    assert code == 0, err
    assert sorted(scratch.iterdir()) == [young]
    young.rmdir()
