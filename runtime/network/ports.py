"""Published ports: ``-p``/``-P`` as Docker reads them, and host ports chosen for them.

Host ports are checked when a container attaches, as Docker's port allocator
does: a port another Dockyard container publishes is "already allocated", a
port a host process listens on is "already in use" (found by trying to bind
it), and ``-p 80`` gets a free port the kernel picks from its ephemeral
range.  Nothing stays bound afterwards: the DNAT rules take the traffic in
the kernel, so no proxy process has to live as long as the container.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, ip_address

from .errors import NetworkError
from .model import Binding

PROTOCOLS = ("tcp", "udp")
_SOCKET_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def parse_publish(spec: str) -> list[Binding]:
    """``[ip:][hostPort:]containerPort[/proto]``; ranges (``8000-8001:80-81``) of equal length."""
    ports, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise NetworkError(f"invalid publish spec {spec!r}: protocol must be tcp or udp")
    parts = ports.split(":")
    if len(parts) > 3 or "[" in ports:
        raise NetworkError(f"invalid publish spec {spec!r}: expected [ip:][hostPort:]containerPort"
                           "[/proto] with an IPv4 address")
    host_ip, host, container = ["", "", *parts][-3:]
    if host_ip:
        try:
            if not isinstance(ip_address(host_ip), IPv4Address):
                raise ValueError
        except ValueError:
            raise NetworkError(f"invalid publish spec {spec!r}: {host_ip!r} is not an IPv4 address") from None
        host_ip = "" if host_ip == "0.0.0.0" else host_ip
    container_ports = _port_range(container, spec)
    host_ports = _port_range(host, spec) if host else [0] * len(container_ports)
    if len(host_ports) != len(container_ports):
        raise NetworkError(f"invalid publish spec {spec!r}: host and container port ranges differ in length")
    return [Binding(c, proto, host_ip, h) for h, c in zip(host_ports, container_ports)]


def parse_exposed(keys: Iterable[str]) -> list[Binding]:
    """``-P``: each of an image's ExposedPorts (``"80/tcp"``) on a free host port."""
    return [binding for key in keys for binding in parse_publish(key)]


def assign(wanted: list[Binding], taken: Iterable[Binding]) -> list[Binding]:
    """The bindings with real host ports, or NetworkError naming the first conflict.

    ``taken`` are the ports other Dockyard containers publish right now.
    """
    used = list(taken)
    result = []
    for binding in wanted:
        port = binding.host_port
        if port and any(_clash(binding, other) for other in used):
            raise NetworkError(f"Bind for {binding.host_ip or '0.0.0.0'}:{port} failed: "
                               "port is already allocated")
        port = _probe(binding)
        while any(_clash(Binding(binding.container_port, binding.proto, binding.host_ip, port), other)
                  for other in used):  # a free port another container published: pick again
            port = _probe(binding)
        chosen = Binding(binding.container_port, binding.proto, binding.host_ip, port)
        used.append(chosen)
        result.append(chosen)
    return result


def _clash(a: Binding, b: Binding) -> bool:
    return (a.proto == b.proto and a.host_port == b.host_port
            and (not a.host_ip or not b.host_ip or a.host_ip == b.host_ip))


def _probe(binding: Binding) -> int:
    """Bind the host port for a moment: the port itself if it is free, or (port 0) one the kernel picks."""
    with socket.socket(socket.AF_INET, _SOCKET_TYPES[binding.proto]) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are no clash
        try:
            sock.bind((binding.host_ip or "0.0.0.0", binding.host_port))
        except OSError as err:
            raise NetworkError(f"Bind for {binding.host_ip or '0.0.0.0'}:{binding.host_port} failed: "
                               f"{err.strerror.lower() if err.strerror else err}") from None
        return sock.getsockname()[1]


def _port_range(text: str, spec: str) -> list[int]:
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise NetworkError(f"invalid publish spec {spec!r}: {text!r} is not a port or port range") from None
    if not 0 < low <= high <= 65535:
        raise NetworkError(f"invalid publish spec {spec!r}: ports are 1 to 65535")
    return list(range(low, high + 1))
