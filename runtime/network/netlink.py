"""Links, addresses, routes and network namespaces, in pyroute2's rtnetlink messages.

This module alone imports pyroute2, and only the code paths that make or
remove bridges and veths import this module: ``--network none`` and
``host`` never pay for it.  pyroute2 encodes and decodes every message
(``ifinfmsg``, ``ifaddrmsg``, ``rtmsg``, their attributes by name); they go
to the kernel over a blocking netlink socket of this module's own
(``_Socket``) rather than through ``IPRoute``.  pyroute2 0.9's IPRoute is
built on asyncio, and importing it brings asyncio, ssl, unittest.mock (its
mock engine) and every rtnetlink family's filters: about 40 ms of its 55 ms,
on the start path of every bridge ``run``.  What is needed here is small:
one request at a time, answered by an ack, one message or a dump.

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
import struct
import sys
from ipaddress import IPv4Network, ip_address


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
# (after the lean import above)
from pyroute2.netlink import (NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,  # noqa: E402
                              NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR)
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl import (RTM_DELLINK, RTM_GETADDR, RTM_GETLINK,  # noqa: E402
                                   RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402

from runtime import syscalls  # noqa: E402

_HAIRPIN = 1  # IFLA_BRPORT_MODE: a container may reach itself through a published port
_IFA_F_NODAD = 0x02
_IFF_UP = 0x1
_RT_TABLE_MAIN, _RTPROT_STATIC, _RTN_UNICAST = 254, 4, 1
_NEW = NLM_F_CREATE | NLM_F_EXCL
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr: length, type, flags, sequence, port
_INT = struct.Struct("=i")  # nlmsgerr's (negative) errno; ifinfomsg's ifi_index, 4 bytes in


class _Socket:
    """A blocking rtnetlink socket: one request at a time, its answer read before the next."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                   socket.NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._sequence = 0

    def __enter__(self) -> _Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def request(self, message, kind: int, flags: int = 0) -> list[bytes]:
        """Send ``message`` (a pyroute2 message, its fields and attrs set) as a request of
        type ``kind``; the messages of the answer (one for a get, all of a dump), or
        NetlinkError with the kernel's errno.  They are left to the caller to decode:
        pyroute2 decodes every attribute of a link (its statistics, ...), ~0.5 ms."""
        self._sequence += 1
        message["header"] = {"type": kind, "flags": NLM_F_REQUEST | NLM_F_ACK | flags,
                             "sequence_number": self._sequence}
        message.encode()
        self._sock.send(message.data)
        answers = []
        while True:
            data = self._sock.recv(1 << 18)
            offset = 0
            while offset < len(data):
                length, answer_kind, _, sequence, _ = _HEADER.unpack_from(data, offset)
                if sequence == self._sequence:
                    if answer_kind == NLMSG_ERROR:
                        code = -_INT.unpack_from(data, offset + _HEADER.size)[0]
                        if code:
                            raise NetlinkError(code, os.strerror(code))
                        return answers
                    if answer_kind == NLMSG_DONE:
                        return answers
                    answers.append(data[offset:offset + length])
                offset += length or len(data)

    def index(self, name: str) -> int | None:
        """A link's index by name; None if there is none."""
        message = ifinfmsg()
        message["attrs"] = [("IFLA_IFNAME", name)]
        try:
            return _INT.unpack_from(self.request(message, RTM_GETLINK)[0], _HEADER.size + 4)[0]
        except NetlinkError as err:
            if err.code != errno.ENODEV:
                raise
        return None

    def link(self, kind: int, index: int = 0, attrs: list | tuple = (), up: bool = False,
             flags: int = 0) -> None:
        """RTM_NEWLINK (create or change) or RTM_DELLINK of the link with that index, or
        else the one ``attrs`` names; ``up``: set IFF_UP too."""
        message = ifinfmsg()
        message["index"] = index
        message["attrs"] = list(attrs)
        if up:
            message["flags"] = message["change"] = _IFF_UP
        self.request(message, kind, flags)

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        """An address on a link; IPv6 ones without duplicate address detection (Docker's
        choice too: the address is Dockyard's to give, and DAD would hold it back ~1 s)."""
        message = ifaddrmsg()
        v6 = ":" in address
        message.update(family=socket.AF_INET6 if v6 else socket.AF_INET, prefixlen=prefixlen,
                       index=index, flags=_IFA_F_NODAD if v6 else 0)
        message["attrs"] = [("IFA_ADDRESS", address)] if v6 else \
            [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        self.request(message, RTM_NEWADDR, _NEW)

    def addresses(self, index: int) -> set:
        """The addresses on a link (ip_address objects)."""
        return {ip_address(a.get_attr("IFA_ADDRESS")) for a in
                self.dump(ifaddrmsg(), RTM_GETADDR) if a["index"] == index}

    def default_route(self, gateway: str, index: int) -> None:
        """The default route through ``gateway`` on the link (its address family's)."""
        message = rtmsg()
        message.update(family=socket.AF_INET6 if ":" in gateway else socket.AF_INET,
                       table=_RT_TABLE_MAIN, proto=_RTPROT_STATIC, type=_RTN_UNICAST)
        message["attrs"] = [("RTA_GATEWAY", gateway), ("RTA_OIF", index)]
        self.request(message, RTM_NEWROUTE, _NEW)

    def dump(self, message, kind: int) -> list:
        """A dump request's answer, decoded into messages of the request's class."""
        answers = [type(message)(data) for data in self.request(message, kind, NLM_F_DUMP)]
        for answer in answers:
            answer.decode()
        return answers

    def delete(self, name: str) -> None:
        """Delete a link by name; gone already is fine."""
        try:
            self.link(RTM_DELLINK, attrs=[("IFLA_IFNAME", name)])
        except NetlinkError as err:
            if err.code != errno.ENODEV:
                raise


def ensure_bridge(name: str, addresses: list[tuple[str, int]], mtu: int) -> None:
    """Create the bridge with its gateway addresses (address, prefixlen), up, if it is
    not there already."""
    with _Socket() as rtnl:
        index = rtnl.index(name)
        if index is None:
            rtnl.link(RTM_NEWLINK, flags=_NEW,
                      attrs=[("IFLA_IFNAME", name), ("IFLA_MTU", mtu), _kind("bridge")])
            index = rtnl.index(name)
        present = rtnl.addresses(index)
        for address, prefixlen in addresses:
            if ip_address(address) not in present:
                rtnl.add_address(index, address, prefixlen)
        rtnl.link(RTM_NEWLINK, index, up=True)
    # Forward what comes in on the bridge (containers' traffic out, and between
    # networks until the nftables rules drop it); take 127.0.0.0/8-sourced
    # packets out through it, so that DNAT of connections to 127.0.0.1 works.
    for key in ("forwarding", "route_localnet"):
        write_sysctl(f"net/ipv4/conf/{name}/{key}", "1")


def delete_link(name: str) -> None:
    """Delete a link (a bridge, or a veth pair by either end); gone already is fine."""
    with _Socket() as rtnl:
        rtnl.delete(name)


def link_exists(name: str) -> bool:
    with _Socket() as rtnl:
        return rtnl.index(name) is not None


def add_endpoint(namespace: str, bridge: str, veth: str, ifname: str,
                 addresses: list[tuple[str, int, str]], mac: str, mtu: int, default_route: bool) -> None:
    """A veth pair from the bridge into the namespace: ``ifname`` inside with mac and
    addresses (address, prefixlen, gateway: one IPv4, perhaps one IPv6) and, with
    default_route, the default routes through the gateways."""
    with _Socket() as rtnl:
        master = rtnl.index(bridge)
        fd = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
        try:
            peer = {"attrs": [("IFLA_IFNAME", ifname), ("IFLA_NET_NS_FD", fd),
                              ("IFLA_ADDRESS", mac), ("IFLA_MTU", mtu)]}
            rtnl.link(RTM_NEWLINK, up=True, flags=_NEW,
                      attrs=[("IFLA_IFNAME", veth), ("IFLA_MTU", mtu), ("IFLA_MASTER", master),
                             _kind("veth", [("VETH_INFO_PEER", peer)])])
        finally:
            os.close(fd)
        rtnl.link(RTM_NEWLINK, attrs=[("IFLA_IFNAME", veth), ("IFLA_LINKINFO", {"attrs": [
            ("IFLA_INFO_SLAVE_KIND", "bridge"),
            ("IFLA_INFO_SLAVE_DATA", {"attrs": [("IFLA_BRPORT_MODE", _HAIRPIN)]})]})])
    with _socket_in(namespace) as rtnl:
        rtnl.link(RTM_NEWLINK, attrs=[("IFLA_IFNAME", "lo")], up=True)
        inner = rtnl.index(ifname)
        for address, prefixlen, _ in addresses:
            rtnl.add_address(inner, address, prefixlen)
        rtnl.link(RTM_NEWLINK, inner, up=True)
        for _, _, gateway in addresses if default_route else ():
            rtnl.default_route(gateway, inner)


def _kind(kind: str, data: list | None = None) -> tuple:
    """IFLA_LINKINFO for a new link of a kind (with its kind's data attributes)."""
    info = [("IFLA_INFO_KIND", kind)]
    if data:
        info.append(("IFLA_INFO_DATA", {"attrs": data}))
    return ("IFLA_LINKINFO", {"attrs": info})


def remove_interface(namespace: str, ifname: str) -> None:
    """Delete an interface inside a namespace (``network disconnect``); gone is fine."""
    with _socket_in(namespace) as rtnl:
        rtnl.delete(ifname)


def host_subnets() -> list[IPv4Network]:
    """The IPv4 destinations the host routes somewhere now (new networks must not overlap them)."""
    with _Socket() as rtnl:
        query = rtmsg()
        query["family"] = socket.AF_INET
        routes = rtnl.dump(query, RTM_GETROUTE)
    return [IPv4Network(f"{route.get_attr('RTA_DST')}/{route['dst_len']}", strict=False)
            for route in routes if route.get_attr("RTA_TABLE") == _RT_TABLE_MAIN
            and route.get_attr("RTA_DST") and route["dst_len"]]


def write_sysctl(key: str, value: str) -> str:
    """Set /proc/sys/<key>; returns the value it had."""
    with open(f"/proc/sys/{key}", "r+") as f:
        old = f.read().strip()
        if old != value:
            f.seek(0)
            f.write(value)
    return old


def _socket_in(namespace: str) -> _Socket:
    """An rtnetlink socket inside namespace: opened by this thread after setns(), which
    binds it there for good, then the thread switches back.  (Cheaper than a helper
    process in the namespace, which is what IPRoute(netns=...) forks.)"""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(target, syscalls.CLONE_NEWNET)
        try:
            return _Socket()
        finally:
            syscalls.setns(own, syscalls.CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)
