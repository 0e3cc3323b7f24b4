"""How a container's networking is shown: ``inspect``'s NetworkSettings and ``ps``'s PORTS.

The container record keeps what was asked for (``NetworkSettings.Networks``:
Docker's EndpointSettings given at create); what the container got while it
runs (addresses, MACs, gateways, host ports) lives in the network library's
record of it, read here without importing pyroute2.  A stopped container
shows its networks with empty addresses and no ports, as Docker's does.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from runtime.network.model import Container, Endpoint, Network

    from .records import ContainerStore


def network_settings(store: ContainerStore, record: dict) -> dict:
    """Docker's ``NetworkSettings`` of a container, as ``docker inspect`` shows it."""
    from runtime.network.manager import DEFAULT_NETWORK

    mode = record["HostConfig"].get("NetworkMode", "none")
    asked = (record.get("NetworkSettings") or {}).get("Networks") or {}
    attached, networks = _attached(store, record)
    endpoints: dict[str, dict] = {}
    if not mode.startswith("container:"):
        for name, settings in asked.items():  # as created: empty until attached
            endpoints[name] = _endpoint(settings, _builtin_id(name) if name in ("none", "host") else "")
        if attached is not None:
            for endpoint in attached.endpoints:
                network = networks.get(endpoint.network)
                if network is not None:
                    endpoints[network.name] = _endpoint(asked.get(network.name) or {}, network.id,
                                                        endpoint, network, attached)
    legacy = endpoints.get(DEFAULT_NETWORK) or _endpoint({}, "")
    running = record["State"]["Running"] and attached is not None and attached.attached
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": store.path(record["Id"], "netns") if record["State"]["Running"]
        and mode not in ("host",) and not mode.startswith("container:") else "",
        "Ports": ports(record, attached, networks) if running else {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        **{key: legacy[key] for key in ("EndpointID", "Gateway", "GlobalIPv6Address",
                                        "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen",
                                        "IPv6Gateway", "MacAddress")},
        "Networks": endpoints,
    }


def ports(record: dict, attached: Container | None,
          networks: dict[str, Network]) -> dict[str, list[dict] | None]:
    """``NetworkSettings.Ports``: each exposed or published port, with its host bindings
    (None for a port exposed but not published); a port published on every address of a
    container with IPv6 is bound on ``::`` too, as Docker shows it."""
    from runtime.network.manager import gateway_endpoint

    found: dict[str, list[dict] | None] = {key: None for key in record["Config"].get("ExposedPorts") or {}}
    if attached is None:
        return found
    gateway = gateway_endpoint(attached, networks)
    for binding in attached.published:
        key = f"{binding.container_port}/{binding.proto}"
        hosts = [binding.host_ip or "0.0.0.0"]
        if not binding.host_ip and gateway is not None and gateway.ip6:
            hosts.append("::")
        found[key] = [*(found.get(key) or []),
                      *({"HostIp": host, "HostPort": str(binding.host_port)} for host in hosts)]
    return found


def ports_column(store: ContainerStore, record: dict) -> str:
    """``docker ps``'s PORTS: ``0.0.0.0:8080->80/tcp, 443/tcp`` for a running container."""
    if not record["State"]["Running"]:
        return ""
    attached, networks = _attached(store, record)
    shown = []
    for key, bindings in sorted(ports(record, attached, networks).items(),
                                key=lambda item: _port_order(item[0])):
        shown += [f"{b['HostIp']}:{b['HostPort']}->{key}" for b in bindings] if bindings else [key]
    return ", ".join(shown)


def _attached(store: ContainerStore, record: dict) -> tuple[Container | None, dict[str, Network]]:
    """The network library's record of the container (None: it has none) and its networks by id."""
    from .networking import library_root, uses_library

    if not uses_library(record):
        return None, {}
    from runtime.network import Networks

    manager = Networks(library_root(store))
    attached = manager.store.container(record["Id"])
    if attached is None:
        return None, {}
    return attached, {n.id: n for n in manager.list_networks() if attached.endpoint(n.id)}


def _endpoint(asked: dict, network_id: str, endpoint: Endpoint | None = None,
              network: Network | None = None, container: Container | None = None) -> dict:
    """Docker's EndpointSettings: as asked, plus what the endpoint got while attached."""
    from runtime.network.manager import DEFAULT_NETWORK

    ip = endpoint.ip if endpoint is not None else None
    ip6 = endpoint.ip6 if endpoint is not None and network is not None else None
    user_defined = network is not None and network.name != DEFAULT_NETWORK
    dns_names = None
    if user_defined and ip and container is not None:
        dns_names = [container.name, *endpoint.aliases, container.id[:12]]
    return {
        "IPAMConfig": asked.get("IPAMConfig"),
        "Links": None,
        "Aliases": asked.get("Aliases") or (endpoint.aliases or None if endpoint is not None else None),
        "MacAddress": (endpoint.mac if ip else None) or asked.get("MacAddress") or "",
        "DriverOpts": None,
        "NetworkID": network_id,
        "EndpointID": endpoint.veth or "" if ip else "",
        "Gateway": network.gateway if ip and network is not None else "",
        "IPAddress": ip or "",
        "IPPrefixLen": int(network.subnet.split("/")[1]) if ip and network is not None else 0,
        "IPv6Gateway": network.gateway6 or "" if ip6 else "",
        "GlobalIPv6Address": ip6 or "",
        "GlobalIPv6PrefixLen": int(network.subnet6.split("/")[1]) if ip6 else 0,
        "DNSNames": dns_names,
    }


def _builtin_id(name: str) -> str:
    from runtime.network.manager import builtin_id
    return builtin_id(name)


def _port_order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto)

