"""The network library's pure parts: IPAM, -p parsing, files, the nft script, settings, the lock.

No root needed: nothing here touches the kernel's network state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from ipaddress import IPv4Network

import pytest

from runtime.network import NetworkError, files, ipam, nft
from runtime.network.model import Binding, Network
from runtime.network.ports import parse_exposed, parse_publish
from runtime.network.settings import Settings
from runtime.network.store import Store

from .conftest import REPO


def _network(subnet: str = "10.9.0.0/29") -> Network:
    net = IPv4Network(subnet)
    return Network(id="n" * 64, name="n", bridge="dyx", subnet=subnet,
                   gateway=str(next(net.hosts())), created="now")


def test_addresses_go_round_robin_and_are_never_handed_out_twice() -> None:
    net = _network()  # hosts .1 (gateway) to .6
    got = [ipam.allocate(net, f"c{i}") for i in range(5)]
    assert got == [f"10.9.0.{i}" for i in range(2, 7)]
    with pytest.raises(NetworkError, match="no available addresses"):
        ipam.allocate(net, "c5")
    ipam.release(net, "c1")  # frees .3; the search goes on after the last one given
    assert ipam.allocate(net, "c6") == "10.9.0.3"
    ipam.release(net, "c0")
    ipam.release(net, "c2")
    assert ipam.allocate(net, "c7") == "10.9.0.4"  # after .3, not back to .2
    assert sorted(net.allocations.values()) == ["c3", "c4", "c6", "c7"]


def test_requested_addresses_are_checked() -> None:
    net = _network()
    assert ipam.allocate(net, "a", "10.9.0.5") == "10.9.0.5"
    for bad, message in (("10.9.0.5", "already in use"), ("10.9.0.1", "already in use"),
                         ("10.9.0.7", "not a usable"), ("10.10.0.2", "not a usable"),
                         ("nonsense", "invalid")):
        with pytest.raises(NetworkError, match=message):
            ipam.allocate(net, "b", bad)


def test_subnets_are_parsed_strictly_and_chosen_around_what_is_in_use() -> None:
    assert ipam.parse_subnet("10.1.2.0/24") == IPv4Network("10.1.2.0/24")
    for bad, message in (("10.1.2.1/24", "should be 10.1.2.0/24"), ("fd00::/64", "expected an IPv4 CIDR"),
                         ("10.1.2.0/31", "too small"), ("x", "invalid subnet")):
        with pytest.raises(NetworkError, match=message):
            ipam.parse_subnet(bad)
    pools = [(IPv4Network("10.20.0.0/22"), 24)]
    used = [IPv4Network("10.20.0.0/24"), IPv4Network("10.20.1.128/25")]
    assert ipam.choose_subnet(pools, used) == IPv4Network("10.20.2.0/24")
    with pytest.raises(NetworkError, match="non-overlapping"):
        ipam.choose_subnet(pools, [IPv4Network("10.0.0.0/8")])


def test_publish_specs_as_docker_reads_them() -> None:
    assert parse_publish("80") == [Binding(80)]
    assert parse_publish("8080:80/udp") == [Binding(80, "udp", "", 8080)]
    assert parse_publish("127.0.0.1::80") == [Binding(80, "tcp", "127.0.0.1", 0)]
    assert parse_publish("0.0.0.0:8080:80") == [Binding(80, "tcp", "", 8080)]
    assert parse_publish("9000-9001:80-81") == [Binding(80, "tcp", "", 9000), Binding(81, "tcp", "", 9001)]
    assert parse_exposed(["53/udp", "80/tcp"]) == [Binding(53, "udp"), Binding(80)]
    for bad in ("x", "1:2:3:4", "80/sctp", "0", "70000", "[::1]:80:80", "1.2.3:80:80", "9000-9002:80-81"):
        with pytest.raises(NetworkError, match="invalid publish spec"):
            parse_publish(bad)
    assert Binding(80, "tcp", "", 8080).describe() == "80/tcp -> 0.0.0.0:8080"


def test_resolv_conf_drops_loopback_resolvers_unless_sharing_the_host_network() -> None:
    host = "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch example.org\noptions ndots:2\n"
    text, warning = files.resolv_conf(host)
    assert text == "nameserver 192.0.2.1\nsearch example.org\noptions ndots:2\n" and warning is None
    text, warning = files.resolv_conf("nameserver 127.0.0.53\n")
    assert text == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n" and "--dns" in warning
    assert files.resolv_conf("nameserver 127.0.0.53\n", keep_loopback=True)[0] == "nameserver 127.0.0.53\n"
    text, _ = files.resolv_conf(host, dns=["192.0.2.9"], search=["a.test"], options=["rotate"])
    assert text == "nameserver 192.0.2.9\nsearch a.test\noptions rotate\n"


def test_hosts_file_lists_localhost_extra_hosts_self_and_peers(tmp_path) -> None:
    text = files.hosts([("10.0.0.2", "abc")], ["db:192.0.2.7"], [("10.0.0.3", ["web", "www"])])
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("192.0.2.7\tdb\n10.0.0.2\tabc\n10.0.0.3\tweb www\n")
    path = tmp_path / "hosts"
    path.write_text("a much longer old content\n" * 10)
    inode = path.stat().st_ino
    files.write_in_place(str(path), "short\n")
    assert path.read_text() == "short\n" and path.stat().st_ino == inode


def test_ruleset_is_one_table_replaced_whole() -> None:
    a, b = _network("10.1.0.0/24"), _network("10.2.0.0/24")
    b.bridge, b.internal = "dyy", True
    a.subnet6 = "fd00:1::/64"
    script = nft.render("dyk", [a, b], [nft.Forward("tcp", "127.0.0.1", 8080, "10.1.0.2", 80, "cid"),
                                        nft.Forward("udp", "", 53, "fd00:1::2", 5353, "cid")],
                        drop_foreign=True)
    lines = [line.strip() for line in script.splitlines()]
    assert lines[:3] == ["table inet dyk {}", "delete table inet dyk", "table inet dyk {"]
    assert 'ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.1.0.2:80 comment "cid"' in lines
    assert 'meta nfproto ipv6 udp dport 53 dnat ip6 to [fd00:1::2]:5353 comment "cid"' in lines
    assert 'ip6 saddr fd00:1::/64 oifname != "dyx" masquerade' in lines
    assert 'iifname "dyx" oifname { "dyy" } counter drop' in lines
    assert 'ip saddr 10.1.0.0/24 oifname != "dyx" masquerade' in lines
    assert not any("10.2.0.0/24 oifname !=" in line for line in lines)  # internal: no way out
    assert lines[-3] == "meta nfproto ipv4 counter drop"  # Dockyard switched forwarding on: only its bridges forward
    assert nft.delete_script("dyk") == "table inet dyk {}\ndelete table inet dyk\n"


def test_settings_file_is_optional_and_checked(tmp_path) -> None:
    assert Settings.load(tmp_path) == Settings()
    (tmp_path / "settings.json").write_text(json.dumps({"bridge": "br-test", "bip": "10.5.0.1/24",
                                                        "ip-forward": False}))
    loaded = Settings.load(tmp_path)
    assert (loaded.bridge, str(loaded.bip.network), loaded.ip_forward) == ("br-test", "10.5.0.0/24", False)
    (tmp_path / "settings.json").write_text(json.dumps({"bridge": "x" * 16}))
    with pytest.raises(NetworkError, match="15 characters"):
        Settings.load(tmp_path)


def test_allocations_from_concurrent_processes_are_distinct(tmp_path) -> None:
    """Four processes allocate 25 addresses each through the store's lock."""
    store = Store(tmp_path)
    with store.locked():
        store.save_network(_network("10.9.0.0/24"))
    script = textwrap.dedent("""
        import sys
        from runtime.network import ipam
        from runtime.network.store import Store
        store = Store(sys.argv[1])
        for i in range(25):
            with store.locked():
                net = store.networks()[0]
                ipam.allocate(net, f"{sys.argv[2]}-{i}")
                store.save_network(net)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), f"p{n}"], cwd=REPO)
             for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    owners = store.networks()[0].allocations
    assert len(owners) == 100 and len(set(owners.values())) == 100


def test_pyroute2_imported_lean_still_serves_everyone_else() -> None:
    """netlink skips pyroute2's catch-all __init__; other code asking for its names still gets them."""
    pytest.importorskip("pyroute2")
    script = textwrap.dedent("""
        import sys
        import runtime.network.netlink
        assert "pyroute2.ndb" not in sys.modules
        assert "asyncio" not in sys.modules  # IPRoute's: netlink sends pyroute2's messages itself
        from pyroute2 import NDB, IPRoute, netns
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        assert callable(IPRoute) and callable(netns.create)
        assert ifinfmsg is runtime.network.netlink.ifinfmsg
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)
