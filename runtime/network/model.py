"""What Dockyard remembers about networks and containers' network settings.

Two kinds of record, each one JSON file under ``<root>/networks/``:

- ``Network`` (``<id>.json``): a bridge network, with its IPAM state (which
  address belongs to which container, and the last one handed out);
- ``Container`` (``containers/<id>.json``): what a container asked for
  (networks, aliases, ports, DNS, extra hosts) and, while it is attached,
  what it got (addresses, veth names, the namespace's path, host ports).

A container's record is written *before* any kernel object is made for it and
names every one of them, so whoever finds it later (a ``dockyard rm``, the
sweeper after a SIGKILL) can remove exactly what was made, and nothing else.
Addresses are kept as strings, as they are shown and stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

TYPE_CHECKING = False  # typing is not imported at run time: ps, inspect and attach import this
if TYPE_CHECKING:
    from typing import Any

BRIDGE_DRIVER = "bridge"


def _from_doc(cls: type, doc: dict[str, Any]) -> Any:
    """A dataclass from its JSON object; keys it does not know are ignored, so
    a record written by a newer version still loads."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass
class Network:
    id: str
    name: str
    bridge: str            # the Linux bridge's name
    subnet: str            # "172.31.0.0/24"
    gateway: str           # the bridge's own address
    created: str
    driver: str = BRIDGE_DRIVER
    internal: bool = False  # no masquerading, no way out
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    allocations: dict[str, str] = field(default_factory=dict)  # address (v4 or v6) -> container id
    last: str | None = None  # the last address handed out; the next search starts after it
    subnet6: str | None = None   # --ipv6: "fd12:3456:789a:1::/64"
    gateway6: str | None = None
    last6: str | None = None

    @property
    def ipv6(self) -> bool:
        return self.subnet6 is not None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Network":
        return _from_doc(cls, doc)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Endpoint:
    """One network a container is on: asked for, and (while attached) got."""

    network: str                       # the network's id
    aliases: list[str] = field(default_factory=list)
    requested_ip: str | None = None    # --ip
    requested_mac: str | None = None   # --mac-address
    ip: str | None = None              # while attached
    ip6: str | None = None             # while attached, on an IPv6 network
    mac: str | None = None
    ifname: str | None = None          # inside the container: eth0, eth1, ...
    veth: str | None = None            # host end of the veth pair

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Endpoint":
        return _from_doc(cls, doc)


@dataclass
class Binding:
    """A published port; ``host_port`` 0 asks for a free one, chosen at attach."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""      # "" (shown as 0.0.0.0): every address of the host
    host_port: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Binding":
        return _from_doc(cls, doc)

    def describe(self) -> str:
        """Docker's ``dockyard port`` line: ``80/tcp -> 0.0.0.0:8080`` (``[::]:8080``)."""
        host = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip or "0.0.0.0"
        return f"{self.container_port}/{self.proto} -> {host}:{self.host_port}"


@dataclass
class Container:
    id: str
    name: str
    mode: str                  # "bridge" (one or more bridge networks), "none", "host", "container"
    files_dir: str             # where its hosts, resolv.conf and hostname files are
    hostname: str
    endpoints: list[Endpoint] = field(default_factory=list)
    ports: list[Binding] = field(default_factory=list)      # as asked
    published: list[Binding] = field(default_factory=list)  # while attached: real host ports
    extra_hosts: list[str] = field(default_factory=list)    # "name:address"
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    peer: str | None = None    # mode "container": the container whose namespace it shares
    netns: str | None = None   # while attached: the bind-mounted namespace Dockyard made

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Container":
        record = _from_doc(cls, doc)
        record.endpoints = [Endpoint.from_doc(e) for e in record.endpoints]
        record.ports = [Binding.from_doc(b) for b in record.ports]
        record.published = [Binding.from_doc(b) for b in record.published]
        return record

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def attached(self) -> bool:
        return self.netns is not None

    def endpoint(self, network_id: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.network == network_id), None)
