"""Links, addresses, routes and network namespaces, through pyroute2.

pyroute2 is imported by this module alone, and this module only by the code
paths that make or remove bridges and veths: importing it costs about a
tenth of a second, which ``--network none`` and ``host`` never pay.

A container's network namespace is made and pinned (bind-mounted) by the
caller before the container exists, so it can be configured before the
container's process starts, and the runtime joins it by path.  The
container's end of the veth pair is created straight inside it, already
named ``eth0`` (no rename, and no moment when it sits in the host's namespace
beside the host's own eth0).  Host ends are deleted by name, which also
removes the container ends, whatever became of the namespace.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network


def _import_pyroute2_lean() -> None:
    """Make ``pyroute2`` importable without running its ``__init__`` yet.

    The package's ``__init__`` imports every netlink family it knows
    (wireguard, nl80211, ipvs, NDB, ...): a third of its import time, for
    nothing this module uses.  The package module is created without it; a
    submodule (``pyroute2.iproute``) imports as usual, and the first request
    for anything else (``from pyroute2 import NDB`` elsewhere in the process)
    runs the real ``__init__`` then, so other users of pyroute2 see no
    difference.
    """
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    package = importlib.util.module_from_spec(spec)

    def __getattr__(name: str):
        try:
            return importlib.import_module(f"pyroute2.{name}")
        except ModuleNotFoundError:
            pass
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = __getattr__
    sys.modules["pyroute2"] = package


_import_pyroute2_lean()
from pyroute2 import netns  # noqa: E402  (after the lean import above)
from pyroute2.iproute.linux import IPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402

_HAIRPIN = 1  # IFLA_BRPORT_MODE: a container may reach itself through a published port
_IFA_F_NODAD = 0x02


def ensure_bridge(name: str, addresses: list[tuple[str, int]], mtu: int) -> None:
    """Create the bridge with its gateway addresses (address, prefixlen), up, if it is
    not there already."""
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            index = found[0]
        else:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            index = ipr.link_lookup(ifname=name)[0]
        for address, prefixlen in addresses:
            if not ipr.get_addr(index=index, address=address):
                _add_address(ipr, index, address, prefixlen)
        ipr.link("set", index=index, state="up")
    # Forward what comes in on the bridge (containers' traffic out, and between
    # networks until the nftables rules drop it); take 127.0.0.0/8-sourced
    # packets out through it, so that DNAT of connections to 127.0.0.1 works.
    for key in ("forwarding", "route_localnet"):
        write_sysctl(f"net/ipv4/conf/{name}/{key}", "1")


def delete_link(name: str) -> None:
    """Delete a link (a bridge, or a veth pair by either end); gone already is fine."""
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            _ignore(errno.ENODEV, ipr.link, "del", index=found[0])


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def add_endpoint(namespace: str, bridge: str, veth: str, ifname: str,
                 addresses: list[tuple[str, int, str]], mac: str, mtu: int, default_route: bool) -> None:
    """A veth pair from the bridge into the namespace: ``ifname`` inside with mac and
    addresses (address, prefixlen, gateway: one IPv4, perhaps one IPv6) and, with
    default_route, the default routes through the gateways."""
    with IPRoute() as ipr:
        fd = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ipr.link("add", ifname=veth, kind="veth", mtu=mtu,
                     peer={"ifname": ifname, "net_ns_fd": fd, "address": mac, "mtu": mtu})
        finally:
            os.close(fd)
        index = ipr.link_lookup(ifname=veth)[0]
        ipr.link("set", index=index, master=ipr.link_lookup(ifname=bridge)[0])
        ipr.brport("set", index=index, mode=_HAIRPIN)
        ipr.link("set", index=index, state="up")
    with _iproute_in(namespace) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        inner = ipr.link_lookup(ifname=ifname)[0]
        for address, prefixlen, _ in addresses:
            _add_address(ipr, inner, address, prefixlen)
        ipr.link("set", index=inner, state="up")
        for address, _, gateway in addresses if default_route else ():
            v6 = ":" in address
            ipr.route("add", dst="::/0" if v6 else "0.0.0.0/0", gateway=gateway,
                      family=socket.AF_INET6 if v6 else socket.AF_INET)


def _add_address(ipr: IPRoute, index: int, address: str, prefixlen: int) -> None:
    """An address on a link; IPv6 ones without duplicate address detection (Docker's
    choice too: the address is Dockyard's to give, and DAD would hold it back ~1 s)."""
    if ":" in address:
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen, family=socket.AF_INET6,
                 flags=_IFA_F_NODAD)
    else:
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen)


def remove_interface(namespace: str, ifname: str) -> None:
    """Delete an interface inside a namespace (``network disconnect``); gone is fine."""
    with _iproute_in(namespace) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if found:
            _ignore(errno.ENODEV, ipr.link, "del", index=found[0])


def host_subnets() -> list[IPv4Network]:
    """The IPv4 destinations the host routes somewhere now (new networks must not overlap them)."""
    subnets = []
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=2, table=254):
            dst, length = route.get("dst"), route["dst_len"]
            if dst and length:
                subnets.append(IPv4Network(f"{dst}/{length}", strict=False))
    return subnets


def write_sysctl(key: str, value: str) -> str:
    """Set /proc/sys/<key>; returns the value it had."""
    with open(f"/proc/sys/{key}", "r+") as f:
        old = f.read().strip()
        if old != value:
            f.seek(0)
            f.write(value)
    return old


@contextmanager
def _iproute_in(namespace: str) -> Iterator[IPRoute]:
    """An rtnetlink socket inside namespace: opened by this thread after
    setns(), which binds it there for good, then the thread switches back.
    Cheaper than pyroute2's IPRoute(netns=...), which forks a helper process."""
    netns.pushns(namespace)
    try:
        ipr = IPRoute()
    finally:
        netns.popns()
    with ipr:
        yield ipr


def _ignore(code: int, call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as err:
        if err.code != code:
            raise
