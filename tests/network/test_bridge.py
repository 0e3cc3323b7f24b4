"""Bridge networks with real namespaces, veths and nftables rules (root).

Traffic goes only to 127.0.0.1 and to the addresses of the namespaces the
test made.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from .conftest import REPO, http_get, links, needs_root, nft_tables, random_ula_prefix

pytestmark = needs_root


def test_containers_on_one_network_talk_tcp_by_name_and_alias(sandbox) -> None:
    sandbox.networks.create_network("appnet")
    web = sandbox.start("web", network="appnet", aliases=["www"])
    client = sandbox.start("client", network="appnet")
    sandbox.serve(web, 8080, "from web")

    for name in ("web", "www", web.id[:12]):
        answer = http_get(client, name, 8080)
        assert "from web" in answer.stdout, (name, answer.stderr, client.hosts())
    # each side lists the other; a container's own hostname maps to its address
    assert "\tclient " in web.hosts() and "\tweb www " in client.hosts()
    ip = client.run("ip", "-o", "-4", "addr", "show", "eth0").stdout.split()[3]
    assert f"{ip.split('/')[0]}\t{client.id[:12]}" in client.hosts()


def test_containers_on_different_networks_cannot_reach_each_other(sandbox) -> None:
    sandbox.networks.create_network("red")
    sandbox.networks.create_network("blue")
    a = sandbox.start("a", network="red")
    b = sandbox.start("b", network="blue")
    sandbox.serve(b, 8080)
    b_ip = _address(b)

    assert "b" not in {line.split()[-1] for line in a.hosts().splitlines()}
    refused = http_get(a, b_ip, 8080)
    assert "hello" not in refused.stdout
    # the bridges forward (per-interface forwarding is on), so it is Dockyard's rule that drops
    table = sandbox.settings["nftables-table"]
    ruleset = subprocess.run(["nft", "list", "chain", "inet", table, "forward"],
                             capture_output=True, text=True, check=True).stdout
    drops = [line for line in ruleset.splitlines() if "oifname" in line and "iifname" in line
             and "drop" in line and "packets 0 " not in line]
    assert drops, ruleset


def test_published_port_answers_on_loopback(sandbox) -> None:
    port = _free_port()
    web = sandbox.start("web", publish=[f"127.0.0.1:{port}:8080", "8081"])
    sandbox.serve(web, 8080, "published")
    sandbox.serve(web, 8081, "random")

    assert "published" in _get_loopback(port)
    bindings = {b.container_port: b for b in sandbox.networks.published("web")}
    assert bindings[8080].host_port == port and bindings[8080].host_ip == "127.0.0.1"
    random_port = bindings[8081].host_port
    assert random_port and random_port != port
    assert "random" in _get_loopback(random_port)


def test_a_port_taken_by_another_container_or_a_host_process_is_refused(sandbox) -> None:
    from runtime.network import NetworkError

    port = _free_port()
    sandbox.start("first", publish=[f"{port}:80"])
    with pytest.raises(NetworkError, match="port is already allocated"):
        sandbox.start("second", publish=[f"{port}:80"])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        with pytest.raises(NetworkError, match="in use"):
            sandbox.start("third", publish=[f"{busy}:80"])
    # the failed attempts left nothing: no record, no address, no veth
    assert {c.name for c in sandbox.networks.store.containers()} == {"first"}


def test_an_internal_network_publishes_nothing_and_has_no_way_out(sandbox, outside) -> None:
    sandbox.networks.create_network("inside", internal=True)
    sandbox.networks.create_network("open")
    port = _free_port()
    hidden = sandbox.start("hidden", network="inside", publish=[f"127.0.0.1:{port}:8080"])
    sandbox.serve(hidden, 8080, "secret")
    peer = sandbox.start("peer", network="inside")
    free = sandbox.start("free", network="open")

    assert "secret" in http_get(peer, "hidden", 8080).stdout  # inside the network: as usual
    with pytest.raises(OSError):
        _get_loopback(port)
    assert sandbox.networks.published("hidden") == []
    assert "default" not in hidden.run("ip", "route").stdout
    ruleset = _ruleset(sandbox.settings["nftables-table"])
    inside = sandbox.networks.network("inside")
    assert " dnat to " not in ruleset and inside.subnet not in ruleset.split("chain postrouting")[1]
    # beyond the host: a namespace of the test's own, reached through the host's forwarding
    assert "outside" in http_get(free, outside, 8080).stdout
    assert "outside" not in http_get(hidden, outside, 8080).stdout

    sandbox.networks.connect("open", "hidden")  # its first way out: default route and ports
    assert "default via" in hidden.run("ip", "route").stdout
    assert "secret" in _get_loopback(port)


@pytest.fixture
def outside(sandbox):
    """A namespace beyond the host, on a veth of its own (not a Dockyard bridge), serving
    "outside" on port 8080: the address, for containers to try reaching."""
    if open("/proc/sys/net/ipv4/ip_forward").read().strip() != "1":
        pytest.skip("the host does not forward IPv4 (net.ipv4.ip_forward=0)")
    from pyroute2 import IPRoute

    world = sandbox.make("outside")
    host_end, third = f"dyt{world.id[:8]}", int(world.id[:2], 16)
    with IPRoute() as ipr:
        fd = os.open(world.netns, os.O_RDONLY)
        try:
            ipr.link("add", ifname=host_end, kind="veth", peer={"ifname": "eth0", "net_ns_fd": fd})
        finally:
            os.close(fd)
        index = ipr.link_lookup(ifname=host_end)[0]
        ipr.addr("add", index=index, address=f"10.215.{third}.1", prefixlen=30)
        ipr.link("set", index=index, state="up")
    world.run("ip", "addr", "add", f"10.215.{third}.2/30", "dev", "eth0", check=True)
    world.run("ip", "link", "set", "eth0", "up", check=True)
    sandbox.serve(world, 8080, "outside")
    yield f"10.215.{third}.2"
    subprocess.run(["ip", "link", "del", host_end], capture_output=True)


def test_an_ipv6_network_is_dual_stack_and_publishes_on_both(sandbox) -> None:
    prefix = random_ula_prefix(1)
    net = sandbox.networks.create_network("six", ipv6=True, subnet6=f"{prefix}::/64")
    port = _free_port()
    web = sandbox.start("web", network="six", publish=[f"{port}:8080"])
    client = sandbox.start("client", network="six")
    sandbox.serve(web, 8080, "over six")

    web6 = web.run("ip", "-o", "-6", "addr", "show", "eth0", "scope", "global").stdout.split()[3]
    assert web6 == f"{prefix}::2/64" and net.gateway6 == f"{prefix}::1"
    assert f"{prefix}::2\tweb " in client.hosts() and f"{_address(web)}\tweb " in client.hosts()
    assert "over six" in http_get(client, f"{prefix}::2", 8080).stdout
    assert f"default via {net.gateway6}" in client.run("ip", "-6", "route").stdout
    # the published port on the host's IPv6 address on the bridge, and on 127.0.0.1 as before
    assert "over six" in _get_loopback(port, host=net.gateway6)
    assert "over six" in _get_loopback(port)
    with pytest.raises(Exception, match="IPv6 subnet or gateway needs --ipv6"):
        sandbox.networks.create_network("half", subnet6="fd00:1::/64")
    assert sandbox.networks.create_network("ula", ipv6=True).subnet6.startswith("fd")


def test_connect_and_disconnect_change_interfaces_and_names(sandbox) -> None:
    sandbox.networks.create_network("one")
    sandbox.networks.create_network("two")
    a = sandbox.start("a", network="one")
    b = sandbox.start("b", network="two")

    sandbox.networks.connect("two", "a", aliases=["alpha"])
    assert "eth1" in a.run("ip", "-o", "link").stdout
    assert "\tb " in a.hosts() and "\ta alpha " in b.hosts()
    sandbox.serve(b, 8080, "via two")
    assert "via two" in http_get(a, "b", 8080).stdout

    sandbox.networks.disconnect("two", "a")
    assert "eth1" not in a.run("ip", "-o", "link").stdout
    assert "\ta " not in b.hosts() and "\tb " not in a.hosts()


def test_network_rm_refuses_while_containers_are_attached(sandbox) -> None:
    from runtime.network import NetworkError

    net = sandbox.networks.create_network("busy")
    c = sandbox.start("c", network="busy")
    with pytest.raises(NetworkError, match="active endpoints"):
        sandbox.networks.remove_network("busy")
    sandbox.networks.forget(c.id)
    assert [n.name for n in sandbox.networks.prune_networks()] == ["busy"]
    assert net.bridge not in links()


def test_requested_ip_mac_and_mtu(sandbox) -> None:
    net = sandbox.networks.create_network("fixed", subnet="10.214.77.0/24",
                                          options={"com.docker.network.driver.mtu": "1400"})
    c = sandbox.start("c", network="fixed", ip="10.214.77.50", mac="02:00:00:aa:bb:cc")
    shown = c.run("ip", "-o", "link", "show", "eth0").stdout
    assert "02:00:00:aa:bb:cc" in shown and "mtu 1400" in shown
    assert _address(c) == "10.214.77.50"
    assert "default via 10.214.77.1" in c.run("ip", "route").stdout
    from runtime.network import NetworkError
    with pytest.raises(NetworkError, match="already in use"):
        sandbox.start("d", network="fixed", ip="10.214.77.50")
    assert net.gateway == "10.214.77.1"


def test_concurrent_setups_get_distinct_addresses(sandbox) -> None:
    """Four processes attach at once; the store's lock keeps their addresses apart."""
    sandbox.networks.create_network("crowd")
    containers = [sandbox.make(f"c{i}") for i in range(4)]
    script = textwrap.dedent("""
        import sys
        from runtime.network import Networks, Request
        root, cid, name, etc, ns = sys.argv[1:]
        Networks(root).setup(Request(cid, name, etc, network="crowd", netns=ns))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(sandbox.root), c.id, c.name,
                               str(c.etc), c.netns], cwd=REPO) for c in containers]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    addresses = [_address(c) for c in containers]
    assert len(set(addresses)) == 4
    network = sandbox.networks.network("crowd")
    assert sorted(network.allocations) == sorted(addresses)


def test_cleanup_after_the_attaching_process_was_killed(sandbox) -> None:
    """A run SIGKILLed right after attaching: cleanup() removes all it made, twice over."""
    port = _free_port()
    c = sandbox.make("victim")
    script = textwrap.dedent("""
        import sys, time
        from runtime.network import Networks, Request
        root, cid, etc, ns, port = sys.argv[1:]
        Networks(root).setup(Request(cid, "victim", etc, netns=ns, publish=[port + ":80"]))
        print("attached", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(sandbox.root), c.id, str(c.etc),
                             c.netns, str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "attached"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    veth = f"dy{c.id[:12]}"
    table = sandbox.settings["nftables-table"]
    assert veth in links() and str(port) in _ruleset(table)

    sandbox.networks.cleanup(c.id)
    sandbox.networks.cleanup(c.id)
    assert veth not in links()
    assert str(port) not in _ruleset(table)
    assert sandbox.networks.network("bridge").allocations == {}
    assert sandbox.networks.published(c.id) == []


def test_cleanup_after_the_namespace_was_unpinned(sandbox) -> None:
    """The usual order when a container stops: the kernel takes the veth with the namespace."""
    import time

    from pyroute2 import netns

    c = sandbox.start("gone", publish=["80"])
    netns.remove(c.netns)
    sandbox.networks.cleanup(c.id)
    deadline = time.monotonic() + 5
    while f"dy{c.id[:12]}" in links() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert f"dy{c.id[:12]}" not in links()
    assert sandbox.networks.network("bridge").allocations == {}
    assert str(sandbox.networks.store.container(c.id).published) == "[]"


def test_none_and_host_modes_write_files_without_pyroute2(sandbox, tmp_path) -> None:
    script = textwrap.dedent("""
        import sys
        from runtime.network import Networks, Request
        root, etc = sys.argv[1:]
        net = Networks(root)
        none = net.setup(Request("a" * 64, "quiet", etc, network="none", dns=["192.0.2.53"],
                                 extra_hosts=["db:192.0.2.7"]))
        assert none.namespace == {"type": "network"}, none
        host = net.setup(Request("b" * 64, "hosty", etc + "-host", network="host"))
        assert host.namespace is None and host.hostname == __import__("os").uname().nodename
        net.forget("a" * 64); net.forget("b" * 64)
        assert "pyroute2" not in sys.modules, "none/host imported pyroute2"
    """)
    etc = tmp_path / "etc"
    etc.mkdir()
    (tmp_path / "etc-host").mkdir()
    subprocess.run([sys.executable, "-c", script, str(sandbox.root), str(etc)], cwd=REPO, check=True)
    assert (etc / "resolv.conf").read_text() == "nameserver 192.0.2.53\n"
    assert "192.0.2.7\tdb\n" in (etc / "hosts").read_text()
    assert (etc / "hostname").read_text() == "a" * 12 + "\n"


def test_the_table_goes_with_the_last_network(sandbox) -> None:
    table = sandbox.settings["nftables-table"]
    sandbox.networks.create_network("only")
    assert any(table in t for t in nft_tables())
    sandbox.networks.remove_network("only")
    assert not any(table in t for t in nft_tables())


def _address(container) -> str:
    out = container.run("ip", "-o", "-4", "addr", "show", "eth0").stdout
    return out.split()[3].split("/")[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_loopback(port: int, host: str = "127.0.0.1") -> str:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _ruleset(table: str) -> str:
    return subprocess.run(["nft", "list", "table", "inet", table], capture_output=True,
                          text=True).stdout
