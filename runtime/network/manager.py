"""Networks and containers' places on them: the operations behind ``dockyard network``,
``run --network/-p`` and the clean-up after a container.

Each operation takes the store's lock, changes the records first (so a
crash leaves records naming every kernel object made, for ``cleanup`` to
remove), then the kernel: bridges and veths through ``netlink``, the
nftables table rendered whole from the records through ``nft``, hosts files
of the containers whose peers changed.  Only bridge networks touch the
kernel: ``none``, ``host`` and ``container:`` only write files, and never
import pyroute2.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network

from . import files, ipam, ports
from .errors import NetworkError, NotFound
from .model import BRIDGE_DRIVER, Binding, Container, Endpoint, Network
from .store import Store

DEFAULT_NETWORK = "bridge"
BUILTIN = (DEFAULT_NETWORK, "host", "none")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
MAX_INTERFACES = 10
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_FORWARDING_MARK = "ip-forward-enabled"  # Dockyard switched net.ipv4.ip_forward on


def builtin_id(name: str) -> str:
    """Fixed ids for bridge/host/none, so they can be listed before first use."""
    try:  # CPython's own SHA-256: hashlib's import loads OpenSSL, ~3 ms of every bridge run
        from _sha256 import sha256
    except ImportError:  # not built in (Python 3.12 calls it _sha2)
        from hashlib import sha256
    return sha256(f"dockyard network {name}".encode()).hexdigest()


@dataclass(frozen=True)
class Request:
    """A container's networking options, as ``dockyard run`` was given them."""

    container_id: str
    name: str                       # container name (no leading "/")
    files_dir: str                  # where hosts, resolv.conf and hostname are written
    network: str = DEFAULT_NETWORK  # --network: bridge, none, host, container:<id>, a network
    aliases: Sequence[str] = ()     # --network-alias
    ip: str | None = None           # --ip
    mac: str | None = None          # --mac-address
    hostname: str | None = None     # --hostname
    publish: Sequence[str] = ()     # -p specs
    publish_all: bool = False       # -P
    exposed: Sequence[str] = ()     # the image's ExposedPorts keys ("80/tcp"), for -P
    dns: Sequence[str] = ()
    dns_search: Sequence[str] = ()
    dns_options: Sequence[str] = ()
    extra_hosts: Sequence[str] = ()  # --add-host name:address
    netns: str | None = None        # bridge networks: the pinned namespace the container will join
    peer_pid: int | None = None     # container:<id> whose peer has no pinned namespace


@dataclass(frozen=True)
class Attachment:
    """What the container's config.json needs from its network set-up."""

    namespace: dict | None   # linux.namespaces entry; None: stay in the host's namespace
    hostname: str
    files: dict[str, str]    # container path -> host file to bind-mount
    warnings: list[str] = field(default_factory=list)

    def mounts(self) -> list[dict]:
        """OCI bind mounts of the files (read-write, as Docker mounts them)."""
        return [{"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}
                for dest, src in self.files.items()]


class Networks:
    """Dockyard's networks under one store root."""

    def __init__(self, root: os.PathLike | str) -> None:
        self.store = Store(root)

    # -- networks -------------------------------------------------------------

    def create_network(self, name: str, subnet: str | None = None, gateway: str | None = None,
                       driver: str = BRIDGE_DRIVER, internal: bool = False,
                       options: dict[str, str] | None = None,
                       labels: dict[str, str] | None = None, ipv6: bool = False,
                       subnet6: str | None = None, gateway6: str | None = None) -> Network:
        """A user-defined bridge network, its bridge and rules (``network create``);
        ``ipv6``: dual stack, on ``subnet6`` or a random unique local /64."""
        if driver != BRIDGE_DRIVER:
            raise NetworkError(f"driver {driver!r} is not supported: only bridge")
        if not _NAME.fullmatch(name):
            raise NetworkError(f"invalid network name {name!r}: letters, digits, '_', '.', '-'")
        options = dict(options or {})
        if (subnet6 or gateway6) and not ipv6:
            raise NetworkError("an IPv6 subnet or gateway needs --ipv6")
        with self.store.locked():
            if name in BUILTIN or self._by_name(name):
                raise NetworkError(f"network with name {name} already exists")
            network_id = os.urandom(32).hex()
            bridge = options.get(BRIDGE_NAME_OPTION) or f"dy-{network_id[:12]}"
            self._check_bridge_name(bridge)
            net = ip_network(ipam.parse_subnet(subnet)) if subnet else None
            others = [ip_network(n.subnet) for n in self.store.networks()]
            if net is not None and any(net.overlaps(o) for o in others):
                raise NetworkError(f"Pool overlaps with other one on this address space: {net}")
            if net is None:
                from . import netlink
                net = ipam.choose_subnet(self.store.settings.pools, others + netlink.host_subnets())
            gw = ipam.parse_address(gateway, net, "gateway") if gateway else next(net.hosts())
            network = Network(id=network_id, name=name, bridge=bridge, subnet=str(net),
                              gateway=str(gw), created=_now(), internal=internal,
                              options=options, labels=dict(labels or {}))
            if ipv6:
                self._add_ipv6(network, subnet6, gateway6)
            self.store.save_network(network, durable=True)
            try:
                self._ensure_bridges([network])
                self._sync_rules(force=True)
            except BaseException:
                self._delete_network(network)
                raise
        return network

    def _add_ipv6(self, network: Network, subnet6: str | None, gateway6: str | None) -> None:
        net6 = ipam.parse_subnet(subnet6, version=6) if subnet6 else ipam.random_ula()
        if any(n.subnet6 and net6.overlaps(ip_network(n.subnet6)) for n in self.store.networks()):
            raise NetworkError(f"Pool overlaps with other one on this address space: {net6}")
        gw6 = ipam.parse_address(gateway6, net6, "gateway") if gateway6 else net6.network_address + 1
        network.subnet6, network.gateway6 = str(net6), str(gw6)

    def list_networks(self) -> list[Network]:
        """Stored networks, with the default bridge network even before its first use."""
        networks = self.store.networks()
        if not self._by_name(DEFAULT_NETWORK, networks):
            networks.insert(0, self._default_record())
        return networks

    def network(self, ref: str) -> Network:
        """A network by name, id or id prefix; the default bridge network even before its first use."""
        found = self.store.find_network(ref)
        if found is None and ref in (DEFAULT_NETWORK, builtin_id(DEFAULT_NETWORK)):
            return self._default_record()
        if found is None:
            raise NotFound(f"network {ref} not found")
        return found

    def users(self, network: Network) -> list[Container]:
        """Containers with an endpoint on the network, attached or not."""
        return [c for c in self.store.containers() if c.endpoint(network.id)]

    def remove_network(self, ref: str) -> Network:
        """``network rm``: refused for the built-in networks and while containers are attached."""
        with self.store.locked():
            network = self.network(ref)
            if network.name in BUILTIN:
                raise NetworkError(f"{network.name} is a pre-defined network and cannot be removed")
            attached = [c.name for c in self.users(network)]
            if attached:
                raise NetworkError(f"error while removing network: network {network.name} id "
                                   f"{network.id} has active endpoints ({', '.join(sorted(attached))})")
            self._delete_network(network)
        return network

    def prune_networks(self, keep: Sequence[str] = ()) -> list[Network]:
        """Remove every user-defined network no container uses; returns them.

        ``keep``: networks (by name, id or id prefix) that containers this
        library has not seen yet will use (created, never started).
        """
        with self.store.locked():
            used = {e.network for c in self.store.containers() for e in c.endpoints}
            pruned = [n for n in self.store.networks() if n.name not in BUILTIN and n.id not in used
                      and not any(ref in (n.name, n.id) or n.id.startswith(ref) for ref in keep if ref)]
            for network in pruned:
                self._delete_network(network)
        return pruned

    # -- containers -----------------------------------------------------------

    def setup(self, request: Request) -> Attachment:
        """Attach a container before it is created (``run``, ``start``).

        The first time, the request is recorded; a container that has a
        record already (``start`` of a stopped one) is attached again as
        recorded, with ``connect``/``disconnect`` since taken into account,
        in the request's new namespace, after releasing whatever a killed
        run left behind.  On failure nothing new is left: no kernel object,
        no address, and no record unless there was one before.
        """
        with self.store.locked():
            record = self.store.container(request.container_id)
            known = record is not None
            if known:
                self._release(record)
            else:
                record = self._record(request)
                self.store.save_container(record)
            try:
                return self._attach(record, request.netns, request.peer_pid)
            except BaseException:
                self._release(record)
                if not known:
                    self.store.delete_container(record.id)
                raise

    def cleanup(self, container_id: str, shared: bool = False) -> None:
        """Release what a container holds: veths, addresses, host ports, rules.

        For a container whose processes are gone (it stopped, or its ``run``
        was killed); idempotent, and a container Dockyard has no record of is
        fine.  The record stays, so ``attach`` can bring the container back on
        the same networks.  The namespace is the caller's to unpin; doing that
        first makes this quicker, as the kernel then removes the veths with
        the namespace instead of this call deleting them one by one.
        ``shared``: other containers joined the namespace (``container:``) and
        keep it alive, so its veths are deleted all the same (as Docker takes
        the interfaces away from them), not left holding released addresses.
        """
        with self.store.locked():
            record = self.store.container(container_id)
            if record is not None:
                self._release(record, shared)

    def forget(self, container_id: str) -> None:
        """cleanup, then drop the record (``rm``); idempotent."""
        with self.store.locked():
            record = self.store.container(container_id)
            if record is not None:
                self._release(record)
                self.store.delete_container(container_id)

    def container(self, ref: str) -> Container:
        """A container's record by id, unique id prefix or name."""
        records = self.store.containers()
        for match in ([c for c in records if c.id == ref], [c for c in records if c.name == ref],
                      [c for c in records if c.id.startswith(ref)]):
            if len(match) == 1:
                return match[0]
        raise NotFound(f"No such container: {ref}")

    def connect(self, network_ref: str, container_ref: str, aliases: Sequence[str] = (),
                ip: str | None = None) -> None:
        """``network connect``: a new endpoint, live if the container is attached."""
        with self.store.locked():
            try:
                record = self.container(container_ref)
            except NotFound:
                raise NetworkError(f"container {container_ref} has no network settings (its network "
                                   "mode is none or host): it cannot be connected") from None
            network = self._network_for_use(network_ref)
            if record.mode != BRIDGE_DRIVER:
                raise NetworkError(f"container {record.name} uses network mode {record.mode}: "
                                   "it cannot be connected to other networks")
            if record.endpoint(network.id):
                raise NetworkError(f"endpoint with name {record.name} already exists in network "
                                   f"{network.name}")
            if len(record.endpoints) >= MAX_INTERFACES:
                raise NetworkError(f"container {record.name} is on {MAX_INTERFACES} networks already")
            self._check_user_options(network, aliases, ip)
            endpoint = Endpoint(network.id, list(aliases), ip)
            record.endpoints.append(endpoint)
            if record.attached:
                self._attach_endpoint(record, endpoint, network)
            self.store.save_container(record)
            if record.attached:
                self._sync_rules()
                self._refresh_hosts({network.id})

    def disconnect(self, network_ref: str, container_ref: str) -> None:
        """``network disconnect``: the endpoint goes, and its interface if attached."""
        with self.store.locked():
            record = self.container(container_ref)
            network = self.network(network_ref)
            endpoint = record.endpoint(network.id)
            if endpoint is None:
                raise NetworkError(f"container {record.name} is not connected to network {network.name}")
            if record.attached and endpoint.ifname:
                from . import netlink
                netlink.remove_interface(record.netns, endpoint.ifname)
            ipam.release(network, record.id)
            self.store.save_network(network)
            record.endpoints.remove(endpoint)
            if gateway_endpoint(record, self._networks_of(record)) is None:
                record.published = []  # no way in left
            self.store.save_container(record)
            if record.attached:
                self._sync_rules()
                self._refresh_hosts({network.id}, record)

    def published(self, container_ref: str) -> list[Binding]:
        """The host ports a container publishes now (``dockyard port``); a port published
        on every address of a container with IPv6 is listed on ``::`` too, as Docker lists it."""
        record = self.container(container_ref)
        gateway = gateway_endpoint(record, self._networks_of(record))
        v6 = [Binding(b.container_port, b.proto, "::", b.host_port) for b in record.published
              if not b.host_ip and gateway is not None and gateway.ip6]
        return record.published + v6

    def destroy_all(self) -> None:
        """Every container's resources, every network, its bridge and the table: gone.

        For tests and for uninstalling; ``system prune`` removes only unused networks.
        """
        with self.store.locked():
            for record in self.store.containers():
                self._release(record)
                self.store.delete_container(record.id)
            for network in self.store.networks():
                self._delete_network(network)
            self._sync_rules(force=True)

    # -- internals: records ---------------------------------------------------

    def _record(self, request: Request) -> Container:
        mode, _, peer = request.network.partition(":")
        if mode == "container" and not peer:
            raise NetworkError("--network container: needs a container name or id")
        kind = mode if mode in ("none", "host", "container") else BRIDGE_DRIVER
        wanted = [*(ports.parse_publish(p) for p in request.publish)]
        bindings = [b for group in wanted for b in group]
        if request.publish_all:
            bindings += ports.parse_exposed(request.exposed)
        if bindings and kind in ("none", "container"):
            raise NetworkError("conflicting options: port publishing and the container type network mode")
        if kind != BRIDGE_DRIVER and (request.ip or request.aliases or request.mac):
            raise NetworkError("--ip, --network-alias and --mac-address need a bridge network")
        if kind == "container" and request.hostname:
            raise NetworkError("conflicting options: hostname and the network mode")
        hostname = request.hostname or (os.uname().nodename if kind == "host" else request.container_id[:12])
        record = Container(id=request.container_id, name=request.name, mode=kind,
                           files_dir=request.files_dir, hostname=hostname,
                           ports=bindings if kind == BRIDGE_DRIVER else [],
                           extra_hosts=[_check_extra_host(h) for h in request.extra_hosts],
                           dns=list(request.dns), dns_search=list(request.dns_search),
                           dns_options=list(request.dns_options),
                           peer=peer or None if kind == "container" else None)
        if kind == BRIDGE_DRIVER:
            network = self._network_for_use(request.network)
            self._check_user_options(network, request.aliases, request.ip)
            record.endpoints.append(Endpoint(network.id, list(request.aliases), request.ip,
                                             _check_mac(request.mac)))
        return record

    def _by_name(self, name: str, networks: list[Network] | None = None) -> Network | None:
        return next((n for n in (networks if networks is not None else self.store.networks())
                     if n.name == name), None)

    def _default_record(self) -> Network:
        settings = self.store.settings
        return Network(id=builtin_id(DEFAULT_NETWORK), name=DEFAULT_NETWORK, bridge=settings.bridge,
                       subnet=str(settings.bip.network), gateway=str(settings.bip.ip), created=_now(),
                       options={MTU_OPTION: str(settings.mtu)})

    def _network_for_use(self, ref: str) -> Network:
        """The network, with the default bridge network's record made on its first use."""
        network = self.network(ref)
        if network.name == DEFAULT_NETWORK and self.store.find_network(network.id) is None:
            self.store.save_network(network)
        return network

    def _check_user_options(self, network: Network, aliases: Sequence[str], ip: str | None) -> None:
        if network.name == DEFAULT_NETWORK and ip:
            raise NetworkError("user specified IP address is supported on user defined networks only")
        if network.name == DEFAULT_NETWORK and aliases:
            raise NetworkError("network-scoped aliases are supported for user defined networks only")

    def _check_bridge_name(self, bridge: str) -> None:
        from . import netlink
        if len(bridge) > 15 or any(n.bridge == bridge for n in self.store.networks()) \
                or bridge == self.store.settings.bridge or netlink.link_exists(bridge):
            raise NetworkError(f"bridge name {bridge!r} is taken or too long (15 characters at most)")

    def _delete_network(self, network: Network) -> None:
        """The bridge, then the record (a failure in between leaves a record naming the
        bridge, which a later rm or prune removes), then the network's rules."""
        from . import netlink
        netlink.delete_link(network.bridge)
        self.store.delete_network(network)
        self._sync_rules(force=True)

    # -- internals: attaching -------------------------------------------------

    def _attach(self, record: Container, netns: str | None, peer_pid: int | None) -> Attachment:
        if record.mode == "host":
            return self._attach_host(record)
        if record.mode == "container":
            return self._attach_to_peer(record, peer_pid)
        record.netns = netns
        if record.mode == "none":
            self.store.save_container(record)
            namespace = {"type": "network", "path": netns} if netns else {"type": "network"}
            return Attachment(namespace, record.hostname, self._file_map(record),
                              self._write_files(record))
        if not netns:
            raise NetworkError("a bridge network needs the container's network namespace (Request.netns)")
        networks = {e.network: self.store.network(e.network) for e in record.endpoints}
        for endpoint in record.endpoints:
            self._allocate(record, endpoint, networks[endpoint.network])
        first = gateway_endpoint(record, networks)
        if first is not None:
            self._publish(record)
        self.store.save_container(record)  # before the kernel: it names all that is made
        for network in networks.values():
            self.store.save_network(network)
        self._ensure_bridges(list(networks.values()))
        for endpoint in record.endpoints:
            self._plug(record, endpoint, networks[endpoint.network], endpoint is first)
        self._sync_rules()
        warnings = self._write_files(record)
        self._refresh_hosts(set(networks))
        return Attachment({"type": "network", "path": record.netns}, record.hostname,
                          self._file_map(record), warnings)

    def _attach_endpoint(self, record: Container, endpoint: Endpoint, network: Network) -> None:
        """One more endpoint on a container that is attached already (``connect``); the
        first way out a container gets carries its default route and published ports."""
        self._allocate(record, endpoint, network)
        gateway = gateway_endpoint(record, self._networks_of(record)) is endpoint
        if gateway:
            self._publish(record)
        self.store.save_container(record)
        self.store.save_network(network)
        self._ensure_bridges([network])
        self._plug(record, endpoint, network, gateway)

    def _publish(self, record: Container) -> None:
        """Host ports for what the container asked to publish (none taken by another container)."""
        if record.ports:
            taken = [b for c in self.store.containers() if c.id != record.id for b in c.published]
            record.published = ports.assign(record.ports, taken)

    def _networks_of(self, record: Container) -> dict[str, Network]:
        return {n.id: n for n in self.store.networks() if record.endpoint(n.id)}

    def _allocate(self, record: Container, endpoint: Endpoint, network: Network) -> None:
        used = {e.ifname for e in record.endpoints if e.ifname}
        index = next(i for i in range(MAX_INTERFACES) if f"eth{i}" not in used)
        endpoint.ifname = f"eth{index}"
        endpoint.veth = f"dy{record.id[:12]}" if index == 0 else f"dy{record.id[:11]}_{index}"
        endpoint.ip = ipam.allocate(network, record.id, endpoint.requested_ip)
        endpoint.ip6 = ipam.allocate(network, record.id, version=6) if network.ipv6 else None
        endpoint.mac = endpoint.requested_mac or _mac_for(endpoint.ip)

    def _plug(self, record: Container, endpoint: Endpoint, network: Network, gateway: bool) -> None:
        from . import netlink
        addresses = [(endpoint.ip, ip_network(network.subnet).prefixlen, network.gateway)]
        if endpoint.ip6:
            addresses.append((endpoint.ip6, ip_network(network.subnet6).prefixlen, network.gateway6))
        netlink.add_endpoint(record.netns, network.bridge, endpoint.veth, endpoint.ifname,
                             addresses, endpoint.mac, self._mtu(network), gateway)

    def _attach_host(self, record: Container) -> Attachment:
        """--network host: the host's hosts file (plus --add-host) and resolvers, loopback ones too."""
        base = files.read_host_file(files.HOST_HOSTS)
        warnings = self._write_files(record, base, keep_loopback=True)
        return Attachment(None, record.hostname, self._file_map(record), warnings)

    def _attach_to_peer(self, record: Container, peer_pid: int | None) -> Attachment:
        """container:<id>: the peer's namespace, hostname and files."""
        peer = self.container(record.peer or "")
        if peer.mode == "host":
            return Attachment(None, peer.hostname, self._file_map(peer))
        if peer.mode == "container":
            raise NetworkError(f"container {peer.name} shares another container's network: "
                               "join that one instead")
        if peer.netns is None and peer_pid is None:
            raise NetworkError(f"container {peer.name} is not running")
        path = peer.netns or f"/proc/{peer_pid}/ns/net"
        return Attachment({"type": "network", "path": path}, peer.hostname, self._file_map(peer))

    def _release(self, record: Container, shared: bool = False) -> None:
        """Undo _attach as far as it got; every step tolerates what is already gone.

        Veths are deleted only while the namespace is still pinned.  Once its
        pin is gone the container has stopped and the kernel is tearing the
        namespace down, veths included, in the background; deleting them here
        would wait out an RCU grace period (~25 ms) and import pyroute2
        (~70 ms) for nothing.
        """
        touched = set()
        pinned = shared or record.netns is not None and os.path.exists(record.netns)
        if any(e.veth or e.ip for e in record.endpoints):
            for endpoint in record.endpoints:
                if endpoint.veth and pinned:
                    from . import netlink
                    netlink.delete_link(endpoint.veth)
                network = self.store.find_network(endpoint.network)
                if network is not None and record.id in network.allocations.values():
                    ipam.release(network, record.id)
                    self.store.save_network(network)
                touched.add(endpoint.network)
                endpoint.ip = endpoint.ip6 = endpoint.mac = endpoint.veth = endpoint.ifname = None
        had_ports = bool(record.published)
        record.netns, record.published = None, []
        if self.store.container(record.id) is not None:
            self.store.save_container(record)
        if touched or had_ports:
            self._sync_rules()
            self._refresh_hosts(touched)

    def _ensure_bridges(self, networks: list[Network]) -> None:
        from . import netlink
        settings = self.store.settings
        for network in networks:
            addresses = [(network.gateway, ip_network(network.subnet).prefixlen)]
            if network.ipv6:
                addresses.append((network.gateway6, ip_network(network.subnet6).prefixlen))
            netlink.ensure_bridge(network.bridge, addresses, self._mtu(network))
        if settings.ip_forward and netlink.write_sysctl("net/ipv4/ip_forward", "1") == "0":
            with open(self._forwarding_mark(), "a"):
                pass

    def _forwarding_mark(self) -> str:
        return os.path.join(self.store.dir, _FORWARDING_MARK)

    def _mtu(self, network: Network) -> int:
        return int(network.options.get(MTU_OPTION) or self.store.settings.mtu)

    def _sync_rules(self, force: bool = False) -> None:
        """Replace Dockyard's nftables table with one rendered from the records
        (unless that is the table applied last; force: even then)."""
        from . import nft
        table = self.store.settings.table
        networks = self.store.networks()
        if not networks:
            nft.remove(table)
            return
        forwards = []
        by_id = {n.id: n for n in networks}
        for record in self.store.containers():
            first = gateway_endpoint(record, by_id)
            if first is not None and first.ip:
                forwards += [nft.Forward(b.proto, b.host_ip, b.host_port, target,
                                         b.container_port, record.id) for b in record.published
                             for target in (first.ip, first.ip6)
                             if target and (not b.host_ip or ip_address(b.host_ip).version
                                            == ip_address(target).version)]
        nft.apply_changed(table, nft.render(table, networks, forwards,
                                            drop_foreign=os.path.exists(self._forwarding_mark())),
                          force)

    # -- internals: files -----------------------------------------------------

    def _write_files(self, record: Container, base: str = files.LOCALHOST,
                     keep_loopback: bool = False) -> list[str]:
        """hosts, resolv.conf and hostname; returns the warnings for the user."""
        self._write_hosts(record, self.store.containers(), base)
        resolv, warning = files.resolv_conf(files.read_host_file(files.HOST_RESOLV_CONF), record.dns,
                                            record.dns_search, record.dns_options, keep_loopback)
        files.write_in_place(self._path(record, "resolv.conf"), resolv)
        files.write_in_place(self._path(record, "hostname"), record.hostname + "\n")
        return [warning] if warning else []

    def _write_hosts(self, record: Container, everyone: list[Container],
                     base: str = files.LOCALHOST) -> None:
        own = [(ip, record.hostname) for e in record.endpoints for ip in (e.ip, e.ip6) if ip]
        peers = []
        for endpoint in record.endpoints:
            if endpoint.ip is None or endpoint.network == builtin_id(DEFAULT_NETWORK):
                continue  # the default bridge network has no name resolution, as in Docker
            for other in everyone:
                theirs = other.endpoint(endpoint.network) if other.id != record.id else None
                for ip in (theirs.ip, theirs.ip6) if theirs is not None else ():
                    if ip:
                        peers.append((ip, [other.name, *theirs.aliases, other.id[:12]]))
        extra = [h.replace("host-gateway", self._gateway(record)) for h in record.extra_hosts]
        files.write_in_place(self._path(record, "hosts"), files.hosts(own, extra, peers, base))

    def _refresh_hosts(self, network_ids: set[str], left: Container | None = None) -> None:
        """Rewrite the hosts files of the attached containers on these networks
        (and of ``left``, which has just left one of them)."""
        everyone = self.store.containers()
        for record in everyone:
            if record.attached and (any(e.network in network_ids for e in record.endpoints)
                                    or (left is not None and record.id == left.id)):
                self._write_hosts(record, everyone)

    def _gateway(self, record: Container) -> str:
        """--add-host name:host-gateway: the host as the container reaches it."""
        network = self.store.find_network(record.endpoints[0].network) if record.endpoints else None
        return network.gateway if network else str(self.store.settings.bip.ip)

    @staticmethod
    def _path(record: Container, name: str) -> str:
        return os.path.join(record.files_dir, name)

    def _file_map(self, record: Container) -> dict[str, str]:
        return {f"/etc/{name}": self._path(record, name) for name in ("hosts", "resolv.conf", "hostname")}


def gateway_endpoint(record: Container, networks: dict[str, Network]) -> Endpoint | None:
    """Docker's gateway endpoint: the first on a network that is not ``--internal``.  It
    carries the default route and the published ports; a container only on internal
    networks has neither, so nothing outside its networks reaches it or is reached."""
    return next((e for e in record.endpoints
                 if e.network in networks and not networks[e.network].internal), None)


def _mac_for(address: str) -> str:
    """Docker's MAC for an address: 02:42 then the IPv4 bytes (stable across restarts)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ip_address(address).packed)


def _check_mac(mac: str | None) -> str | None:
    if mac is not None and not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
        raise NetworkError(f"invalid MAC address {mac!r}")
    if mac is not None and int(mac[:2], 16) & 1:
        raise NetworkError(f"invalid MAC address {mac}: a multicast address")
    return mac.lower() if mac else None


def _check_extra_host(entry: str) -> str:
    name, sep, address = entry.partition(":")
    if not sep or not name:
        raise NetworkError(f"invalid argument {entry!r} for --add-host: expected name:address")
    if address != "host-gateway":
        try:
            ip_address(address)
        except ValueError:
            raise NetworkError(f"invalid IP address in add-host: {address!r}") from None
    return entry


def _now() -> str:
    """RFC 3339 in UTC with nanoseconds, as Docker shows Created."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"
