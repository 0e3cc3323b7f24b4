"""Networking of real containers through ``dockyard run`` (root, busybox image).

The root of each test names its own default bridge, nftables table and
address ranges (``tests.helpers.networks``), so nothing of a real installation
is touched; traffic goes to 127.0.0.1 and to the containers' own addresses only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.containers.conftest import REPO, dockyard, image_root  # noqa: F401  (fixtures used below)
from tests.helpers.busybox_image import BUSYBOX

from .conftest import links, needs_root, random_ula_prefix

pytestmark = needs_root

SERVE = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
GET = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 {host} 80'


@pytest.fixture
def net(dockyard):  # noqa: F811  (the fixture imported above)
    """dockyard's fixture: its root has a bridge and table of its own (``IsolatedNetworks``),
    and its teardown fails the test if a link, table or network record is left."""
    return dockyard


def serve(dockyard, name: str, *flags: str, text: str = "hello") -> None:
    dockyard.ok("run", "-d", "--name", name, *flags, BUSYBOX, "sh", "-c", SERVE.format(text=text))
    dockyard.wait_for(lambda: ":80 " in dockyard.ok("exec", name, "netstat", "-ltn"),
                      what=f"httpd in {name}")


def fetch(dockyard, host: str, *flags: str) -> str:
    result = dockyard("run", "--rm", *flags, BUSYBOX, "sh", "-c", GET.format(host=host))
    return result.stdout


def address(dockyard, network: str, name: str) -> str:
    [doc] = json.loads(dockyard.ok("network", "inspect", network))
    return next(c["IPv4Address"].split("/")[0] for c in doc["Containers"].values() if c["Name"] == name)


def test_two_containers_on_a_user_network_talk_by_name(net) -> None:
    net.ok("network", "create", "appnet")
    serve(net, "web", "--network", "appnet", "--network-alias", "www", text="by-name")
    assert "by-name" in fetch(net, "web", "--network", "appnet")
    assert "by-name" in fetch(net, "www", "--network", "appnet")


def test_containers_on_different_networks_cannot_reach_each_other(net) -> None:
    net.ok("network", "create", "red")
    net.ok("network", "create", "blue")
    serve(net, "redweb", "--network", "red", text="red")
    target = address(net, "red", "redweb")
    assert "red" in fetch(net, target, "--network", "red")
    assert "red" not in fetch(net, target, "--network", "blue")
    assert "red" not in fetch(net, "redweb", "--network", "blue")  # no name either


def test_published_ports_answer_on_loopback_and_port_lists_them(net) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve(net, "pub", "-p", f"127.0.0.1:{port}:80", "-p", "81", "--network", "bridge", text="pub")
    assert "pub" in _get(port)
    lines = net.ok("port", "pub").splitlines()
    assert lines[0] == f"80/tcp -> 127.0.0.1:{port}"
    random_port = int(lines[1].rsplit(":", 1)[1])
    assert lines[1].startswith("81/tcp -> 0.0.0.0:") and random_port != port
    assert net.ok("port", "pub", "81").strip() == f"0.0.0.0:{random_port}"
    net.ok("rm", "-f", "pub")
    with pytest.raises(OSError):
        _get(port)


def test_a_run_whose_network_cannot_be_set_up_fails_cleanly(net) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    net.ok("run", "-d", "--name", "first", "--network", "bridge", "-p", f"{port}:80", BUSYBOX, "sleep", "60")
    second = net("run", "--name", "second", "--network", "bridge", "-p", f"{port}:80", BUSYBOX, "true")
    assert second.returncode == 125 and "port is already allocated" in second.stderr
    assert not net.inspect("second")["State"]["Running"]
    from runtime.network import Networks
    assert list(Networks(net.root).network("bridge").allocations.values()) == [net.inspect("first")["Id"]]


def test_concurrent_runs_get_distinct_addresses(net) -> None:
    procs = [net.popen("run", "-d", "--name", f"c{i}", "--network", "bridge", BUSYBOX, "sleep", "60",
                       stdout=subprocess.DEVNULL) for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    addresses = {address(net, "bridge", f"c{i}") for i in range(4)}
    assert len(addresses) == 4


def test_nothing_leaks_after_the_client_is_killed(net) -> None:
    proc = net.popen("run", "--name", "victim", "--network", "bridge", "-p", "80", BUSYBOX,
                     "sleep", "60", stdout=subprocess.DEVNULL)
    net.wait_for(lambda: _has(net, "victim") and net.inspect("victim")["State"]["Running"],
                 what="victim to run")
    container_id = net.inspect("victim")["Id"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    net.ok("rm", "-f", "victim")
    assert f"dy{container_id[:12]}" not in links()
    from runtime.network import Networks
    networks = Networks(net.root)
    assert networks.network("bridge").allocations == {}
    assert networks.store.container(container_id) is None
    table = subprocess.run(["nft", "list", "chain", "inet", networks.store.settings.table, "published"],
                           capture_output=True, text=True).stdout
    assert "dnat" not in table


def test_a_warning_of_the_network_set_up_reaches_the_run_s_stderr(net, tmp_path) -> None:
    """The network child's stdio is /dev/null: its warnings come back to ``run`` to print
    (here: the host's only resolver is a loopback one, so the container gets a fallback)."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.53\n")
    script = (f"import sys, client.cli, runtime.network.files as files\n"
              f"files.HOST_RESOLV_CONF = {str(resolv)!r}\n"
              f"sys.exit(client.cli.main(sys.argv[1:]))")
    dockyard_args = net.command("run", "--rm", BUSYBOX, "cat", "/etc/resolv.conf")[3:]
    result = subprocess.run([sys.executable, "-c", script, *dockyard_args], capture_output=True,
                            text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "WARNING: the host's resolv.conf names only loopback resolvers" in result.stderr
    assert "nameserver 8.8.8.8" in result.stdout


def _has(dockyard, name: str) -> bool:
    return name in dockyard.ok("ps", "-a", "--format", "{{.Names}}").split()


def _get(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return sock.makefile("rb").read().decode(errors="replace")


def test_a_container_joins_the_network_of_another(net) -> None:
    serve(net, "web", text="shared")
    web = net.inspect("web")
    script = "hostname; wget -qO- http://127.0.0.1/; ip -o -4 addr show eth0; cat /etc/hosts"
    out = net.ok("run", "--rm", "--network", "container:web", BUSYBOX, "sh", "-c", script)
    own_ip = address(net, "bridge", "web")
    lines = out.splitlines()
    assert lines[0] == web["Config"]["Hostname"] and lines[1] == "shared"
    assert f" {own_ip}/" in lines[2]
    assert f"{own_ip}\t{web['Config']['Hostname']}" in out  # web's hosts file, not one of its own
    conflicting = net("run", "--rm", "--network", "container:web", "-p", "80", BUSYBOX, "true")
    assert conflicting.returncode == 125 and "conflicting options" in conflicting.stderr

    net.ok("run", "-d", "--name", "joined", "--network", "container:web", BUSYBOX, "sleep", "60")
    net.ok("kill", "web")  # as Docker's, the joined container loses the interfaces, not the namespace
    veth = f"dy{web['Id'][:12]}"
    net.wait_for(lambda: veth not in links(), what="web's veth to go")
    assert "eth0" not in net.ok("exec", "joined", "ip", "-o", "link")
    stopped = net("run", "--rm", "--network", "container:web", BUSYBOX, "true")
    assert stopped.returncode == 125 and "non running container" in stopped.stderr
    missing = net("run", "--rm", "--network", "container:nosuch", BUSYBOX, "true")
    assert missing.returncode == 125 and "No such container: nosuch" in missing.stderr


def test_prune_removes_unused_networks_but_never_the_default_bridge(net) -> None:
    for name in ("idle", "held", "later"):
        net.ok("network", "create", name)
    net.ok("run", "-d", "--name", "holder", "--network", "held", BUSYBOX, "sleep", "60")
    net.ok("create", "--name", "waiting", "--network", "later", BUSYBOX, "true")  # never started
    done = net.ok("run", "-d", "--name", "done", BUSYBOX, "true").strip()  # on the default bridge
    net.ok("wait", "done")
    assert net.ok("network", "prune", "-f") == "Deleted Networks:\nidle\n\n"

    out = net.ok("system", "prune", "-f")
    assert out.startswith("Deleted Containers:\n") and done in out.split("\n\n")[0]
    assert "\n\nDeleted Networks:\nlater\n\n" in out and out.rstrip().endswith("Total reclaimed space: 0B")
    assert net.ok("network", "ls", "--format", "{{.Name}}").split() == ["bridge", "held", "host", "none"]
    bridge = json.loads(net.ok("network", "inspect", "bridge"))[0]["Options"]["com.docker.network.bridge.name"]
    assert bridge in links()  # made by the run on the default network, kept as Docker keeps docker0


def test_inspect_and_ps_show_what_the_container_got(net) -> None:
    net.ok("network", "create", "front")
    [front] = json.loads(net.ok("network", "inspect", "front"))
    serve(net, "web", "--network", "front", "--network-alias", "www", "-p", "127.0.0.1::80", text="web")
    settings = net.inspect("web")["NetworkSettings"]
    endpoint = settings["Networks"]["front"]
    assert endpoint["IPAddress"] == address(net, "front", "web")
    assert endpoint["Gateway"] == front["IPAM"]["Config"][0]["Gateway"] and endpoint["NetworkID"] == front["Id"]
    assert endpoint["IPPrefixLen"] == int(front["IPAM"]["Config"][0]["Subnet"].split("/")[1])
    assert endpoint["MacAddress"].startswith("02:42:") and endpoint["Aliases"] == ["www"]
    assert endpoint["DNSNames"][:2] == ["web", "www"]
    [binding] = settings["Ports"]["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and "web" in _get(int(binding["HostPort"]))
    assert net.ok("ps", "--format", "{{.Names}} {{.Ports}}").strip() == \
        f"web 127.0.0.1:{binding['HostPort']}->80/tcp"

    net.ok("kill", "web")
    stopped = net.inspect("web")["NetworkSettings"]
    assert stopped["Ports"] == {} and stopped["Networks"]["front"]["IPAddress"] == ""
    net.ok("create", "--name", "quiet", "--network", "none", BUSYBOX, "true")
    assert list(net.inspect("quiet")["NetworkSettings"]["Networks"]) == ["none"]


def test_containers_talk_over_ipv6(net) -> None:
    prefix = random_ula_prefix(6)
    net.ok("network", "create", "--ipv6", "--subnet", f"{prefix}::/64", "six")
    serve(net, "web6", "--network", "six", "-p", "80", text="v6-answer")
    v4, v6 = net.ok("port", "web6").splitlines()
    assert v4.startswith("80/tcp -> 0.0.0.0:") and v6 == f"80/tcp -> [::]:{v4.rsplit(':', 1)[1]}"
    settings = net.inspect("web6")["NetworkSettings"]["Networks"]["six"]
    assert settings["GlobalIPv6Address"] == f"{prefix}::2" and settings["IPv6Gateway"] == f"{prefix}::1"
    [doc] = json.loads(net.ok("network", "inspect", "six"))
    assert doc["EnableIPv6"] and doc["IPAM"]["Config"][1] == {"Subnet": f"{prefix}::/64",
                                                             "Gateway": f"{prefix}::1"}
    assert "v6-answer" in fetch(net, f"{prefix}::2", "--network", "six")
