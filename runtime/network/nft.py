"""Dockyard's nftables table: published ports, masquerading, isolation between networks.

Everything lives in one table of its own (``table inet dockyard`` by default: IPv4 and IPv6),
so no other rule on the host is ever read, changed or reordered.  The table
is not edited rule by rule: it is rendered whole from the network records
and replaced in one nftables transaction (declare, delete, declare again with
the rules), so it always matches the records, a crash can never leave half
an update, and a container's rules vanish simply by its record no longer
listing ports.

Loopback: ``-p 8080:80`` must answer on 127.0.0.1:8080, which Docker does
either with a proxy process per port or (userland-proxy off) with
route_localnet on the bridge, DNAT in the output hook and masquerading of
127.0.0.0/8 sources.  Dockyard does the latter: the kernel path runs at close
to loopback speed and needs no process that lives as long as the container.

Forwarding: containers' traffic leaves through the host, which needs the
global ``net.ipv4.ip_forward`` (IPv4's per-interface switch only governs what
comes *in* on an interface, and replies come in on the uplink).  Docker
switches it on and, when it was the one to do so, drops any forwarding that
does not involve its bridges so the host does not turn into a router for
everything else; Dockyard does the same (``drop_foreign``).  IPv6 forwarding
is left to the host's administrator: switching ``net.ipv6.conf.all.forwarding``
on also stops the host from accepting router advertisements, which could cut
its own IPv6 connectivity.  Containers on an IPv6 network talk to each other
and to the host over IPv6 without it, and the masquerading rules for their
traffic out are in place for when it is on.

The rules go to the kernel through libnftables (``nft``'s own library, from
Debian's libnftables1) over ctypes: no process to start per change, and the
same parser and error messages as ``nft -f``.  A transaction that removes
anything waits for an RCU grace period (10-20 ms here), so a script equal to
the one applied last is not applied again: a container without published
ports changes nothing in the table and costs nothing here.  What was applied
last is kept under /run, which, like the kernel's rules, does not survive a
reboot.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import Network

_LIBRARY = "libnftables.so.1"
FAMILY = "inet"  # one table for IPv4 and IPv6
_NFPROTO = {"ip": "ipv4", "ip6": "ipv6"}
APPLIED_DIR = "/run/dockyard/nftables"  # <table>: the script applied last


@dataclass(frozen=True)
class Forward:
    """One published port: host (address, port) to a container's (address, port)."""

    proto: str
    host_ip: str        # "" for every local address
    host_port: int
    target_ip: str
    target_port: int
    container_id: str


def render(table: str, networks: Sequence["Network"], forwards: Sequence[Forward],
           drop_foreign: bool) -> str:
    """The nft script that replaces the table with one for these networks and ports."""
    bridges = [n.bridge for n in networks]
    ours = _set([_quote(b) for b in bridges])
    published = [_dnat(f) for f in forwards]
    postrouting = []
    # published ports are open to every network, and to the world; internal networks
    # publish nothing (the manager makes no forwards to them) and never get through here
    external = [_quote(n.bridge) for n in networks if not n.internal]
    forward = [f"oifname {_set(external)} ct status dnat accept"] if external else []
    for network in networks:
        br = _quote(network.bridge)
        others = [_quote(b) for b in bridges if b != network.bridge]
        if others:
            forward.append(f"iifname {br} oifname {_set(others)} counter drop")
        if network.internal:  # no way out, no way in, no masquerading
            forward.append(f"iifname {br} oifname != {br} counter drop")
            forward.append(f"oifname {br} iifname != {br} counter drop")
            continue
        postrouting.append(f"oifname {br} ip saddr 127.0.0.0/8 masquerade")
        subnets = [("ip", network.subnet)] + ([("ip6", network.subnet6)] if network.subnet6 else [])
        for family, subnet in subnets:
            postrouting.append(f"oifname {br} {family} saddr {subnet} ct status dnat masquerade")
            postrouting.append(f"{family} saddr {subnet} oifname != {br} masquerade")
    forward += [f"iifname {ours} accept",
                f"oifname {ours} ct state established,related accept",
                f"oifname {ours} counter drop"]
    if drop_foreign:  # IPv4 only: Dockyard never switches IPv6 forwarding on
        forward.append("meta nfproto ipv4 counter drop")
    return "\n".join([
        f"table {FAMILY} {table} {{}}",
        f"delete table {FAMILY} {table}",
        f"table {FAMILY} {table} {{",
        _chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;",
               ["fib daddr type local jump published"]),
        _chain("output", "type nat hook output priority -100; policy accept;",
               ["fib daddr type local jump published"]),
        _chain("published", "", published),
        _chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;",
               postrouting),
        _chain("forward", "type filter hook forward priority filter; policy accept;", forward),
        "}", ""])


def delete_script(table: str) -> str:
    """The script that removes the table, whether or not it exists."""
    return f"table {FAMILY} {table} {{}}\ndelete table {FAMILY} {table}\n"


def remove(table: str) -> None:
    """Remove the table (there or not) and forget what was applied to it."""
    apply(delete_script(table))
    try:
        os.unlink(os.path.join(APPLIED_DIR, table))
    except FileNotFoundError:
        pass


def apply_changed(table: str, script: str, force: bool = False) -> None:
    """apply(script) unless it is the one applied last for table (force: apply anyway)."""
    marker = os.path.join(APPLIED_DIR, table)
    try:
        with open(marker) as f:
            if f.read() == script and not force:
                return
    except FileNotFoundError:
        pass
    apply(script)
    os.makedirs(APPLIED_DIR, mode=0o700, exist_ok=True)
    temp = f"{marker}.{os.getpid()}.tmp"
    with open(temp, "w") as f:
        f.write(script)
    os.replace(temp, marker)


def apply(script: str) -> None:
    """Run an nft script as one transaction; NetworkError with nft's message on failure."""
    lib = _library()
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise NetworkError("nftables: cannot create a context")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        if lib.nft_run_cmd_from_buffer(ctx, script.encode()) != 0:
            message = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
            raise NetworkError(f"nftables refused Dockyard's rules: {' '.join(message.split())}")
    finally:
        lib.nft_ctx_free(ctx)


def available() -> bool:
    try:
        _library()
    except NetworkError:
        return False
    return True


def _dnat(f: Forward) -> str:
    family, target = ("ip6", f"[{f.target_ip}]") if ":" in f.target_ip else ("ip", f.target_ip)
    match = f"{family} daddr {f.host_ip}" if f.host_ip else f"meta nfproto {_NFPROTO[family]}"
    return (f"{match} {f.proto} dport {f.host_port} dnat {family} to {target}:{f.target_port} "
            f'comment "{f.container_id}"')


def _chain(name: str, header: str, rules: list[str]) -> str:
    body = "".join(f"\t\t{line}\n" for line in ([header] if header else []) + rules)
    return f"\tchain {name} {{\n{body}\t}}"


def _quote(name: str) -> str:
    return f'"{name}"'


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


_lib = None


def _library():
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(_LIBRARY)
        except OSError:
            raise NetworkError(f"{_LIBRARY} not found: install nftables "
                               "(apt-get install nftables)") from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _lib = lib
    return _lib
