"""Address management: subnets for new networks, addresses for containers.

Pure functions over the records; the store's lock makes them safe between
processes.  Addresses are handed out round-robin from the one after the last
one given, as Docker's IPAM does: a released address is the last to come
back, so a peer's ARP cache or a client's open connection does not meet a
different container at an old address.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from .errors import NetworkError
from .model import Network


def parse_subnet(text: str, version: int = 4) -> IPv4Network | IPv6Network:
    """A CIDR of the IP version without host bits (Docker refuses 172.31.5.1/24 too)."""
    example = "172.31.5.0/24" if version == 4 else "fd00:1:2:3::/64"
    try:
        subnet = ip_network(text, strict=False)
    except ValueError:
        raise NetworkError(f"invalid subnet {text!r}: expected an IPv{version} CIDR such as {example}") from None
    if subnet.version != version:
        raise NetworkError(f"invalid subnet {text!r}: expected an IPv{version} CIDR such as {example}")
    if "/" not in text or ip_address(text.split("/")[0]) != subnet.network_address:
        raise NetworkError(f"invalid subnet {text}: it should be {subnet}")
    if subnet.max_prefixlen - subnet.prefixlen < 2:
        raise NetworkError(f"subnet {text} is too small: at most /{subnet.max_prefixlen - 2}")
    return subnet


def random_ula() -> IPv6Network:
    """A /64 of a random RFC 4193 unique local prefix, for ``--ipv6`` without a subnet."""
    import secrets

    return IPv6Network((0xFD << 120 | secrets.randbits(56) << 64, 64))


def parse_address(text: str, subnet: IPv4Network | IPv6Network,
                  what: str = "address") -> IPv4Address | IPv6Address:
    """An address inside subnet that a host may use (not the network or broadcast address)."""
    try:
        address = ip_address(text)
    except ValueError:
        raise NetworkError(f"invalid {what} {text!r}") from None
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        raise NetworkError(f"{what} {address} is not a usable address of subnet {subnet}")
    return address


def choose_subnet(pools: Iterable[tuple[IPv4Network, int]],
                  in_use: Iterable[IPv4Network]) -> IPv4Network:
    """The first pool subnet that overlaps nothing in use (other networks, host routes)."""
    taken = list(in_use)
    for base, size in pools:
        for candidate in base.subnets(new_prefix=size):
            if not any(candidate.overlaps(used) for used in taken):
                return candidate
    raise NetworkError("could not find an available, non-overlapping IPv4 address pool "
                       "among the defaults to assign to the network")


def allocate(network: Network, container_id: str, requested: str | None = None,
             version: int = 4) -> str:
    """Give container_id an address of network (``requested`` if it is free) and record it;
    version 6: of the network's IPv6 subnet."""
    text, gateway_text, last_field = (("subnet", "gateway", "last") if version == 4
                                      else ("subnet6", "gateway6", "last6"))
    subnet, gateway = ip_network(getattr(network, text)), ip_address(getattr(network, gateway_text))
    if requested is not None:
        address = parse_address(requested, subnet)
        if address == gateway or str(address) in network.allocations:
            raise NetworkError(f"Address already in use: {address} on network {network.name}")
        return _take(network, str(address), container_id)
    first, last = int(subnet.network_address) + 1, int(subnet.broadcast_address) - 1
    previous = getattr(network, last_field)
    start = int(ip_address(previous)) + 1 if previous else first
    span = min(last - first + 1, 1 << 20)  # a /64 is never searched whole
    for offset in range(span):
        candidate = str(ip_address(first + (start - first + offset) % (last - first + 1)))
        if candidate != str(gateway) and candidate not in network.allocations:
            setattr(network, last_field, candidate)
            return _take(network, candidate, container_id)
    raise NetworkError(f"no available addresses on network {network.name} ({subnet})")


def release(network: Network, container_id: str) -> None:
    """Give back every address container_id holds on network (none is fine)."""
    for address in [a for a, owner in network.allocations.items() if owner == container_id]:
        del network.allocations[address]


def _take(network: Network, address: str, container_id: str) -> str:
    network.allocations[address] = container_id
    return address
