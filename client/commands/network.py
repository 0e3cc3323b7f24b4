"""``dockyard network COMMAND``: create, list, inspect, remove, connect, disconnect, prune.

Output and messages follow ``docker network``; the work is done by
``runtime.network`` (which imports pyroute2 only for operations that touch
bridges, so ``ls`` and ``inspect`` stay quick).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.network import Networks
    from runtime.network.model import Network

    from ..context import Context

HELP = "Manage networks"
TITLES = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
          "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT"}
# Docker's built-in networks besides bridge, shown by ls and inspect; no record behind them.
PSEUDO_DRIVERS = {"host": "host", "none": "null"}


def register(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser("network", help=HELP, description=HELP)
    group = parser.add_subparsers(title="Commands", metavar="COMMAND")

    create = group.add_parser("create", help="Create a network", description="Create a network")
    create.add_argument("name", metavar="NETWORK")
    create.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    create.add_argument("--subnet", action="append", default=[],
                        help="Subnet in CIDR format that represents a network segment "
                             "(one IPv4, and one IPv6 with --ipv6)")
    create.add_argument("--gateway", action="append", default=[],
                        help="IPv4 or IPv6 Gateway for the master subnet")
    create.add_argument("--ipv6", action="store_true", help="Enable or disable IPv6 networking")
    create.add_argument("--internal", action="store_true",
                        help="Restrict external access to the network")
    create.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="Set driver specific options (com.docker.network.bridge.name, "
                             "com.docker.network.driver.mtu)")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="Set metadata on a network")
    create.set_defaults(run=run_create)

    ls = group.add_parser("ls", aliases=["list"], help="List networks", description="List networks")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    ls.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    ls.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="Filter output: name=, id=, driver=")
    ls.add_argument("--format", help="'table', 'json', or a Go template such as '{{.Name}}'")
    ls.set_defaults(run=run_ls)

    inspect = group.add_parser("inspect", help="Display detailed information on one or more "
                               "networks", description="Display detailed information on one "
                               "or more networks")
    inspect.add_argument("networks", nargs="+", metavar="NETWORK")
    inspect.add_argument("-f", "--format", help="Format the output using a Go template")
    inspect.set_defaults(run=run_inspect)

    rm = group.add_parser("rm", aliases=["remove"], help="Remove one or more networks",
                          description="Remove one or more networks")
    rm.add_argument("networks", nargs="+", metavar="NETWORK")
    rm.set_defaults(run=run_rm)

    for verb, text in (("connect", "Connect a container to a network"),
                       ("disconnect", "Disconnect a container from a network")):
        sub = group.add_parser(verb, help=text, description=text)
        sub.add_argument("network", metavar="NETWORK")
        sub.add_argument("container", metavar="CONTAINER")
        if verb == "connect":
            sub.add_argument("--alias", action="append", default=[],
                             help="Add network-scoped alias for the container")
            sub.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
            sub.set_defaults(run=run_connect)
        else:
            sub.add_argument("-f", "--force", action="store_true",
                             help="Force the container to disconnect from a network")
            sub.set_defaults(run=run_disconnect)

    prune = group.add_parser("prune", help="Remove all unused networks",
                             description="Remove all unused networks")
    prune.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    prune.set_defaults(run=run_prune)
    parser.set_defaults(run=lambda args, ctx: parser.print_help())


def networks(ctx: "Context") -> "Networks":
    from runtime.network import Networks
    return Networks(ctx.root)


def run_create(args: argparse.Namespace, ctx: "Context") -> int:
    subnets, gateways = _by_version(args.subnet, "--subnet"), _by_version(args.gateway, "--gateway")
    network = networks(ctx).create_network(
        args.name, subnet=subnets.get(4), gateway=gateways.get(4), driver=args.driver,
        internal=args.internal, options=_pairs(args.opt, "--opt"), labels=_pairs(args.label, "--label"),
        ipv6=args.ipv6, subnet6=subnets.get(6), gateway6=gateways.get(6))
    print(network.id)
    return 0


def _by_version(values: list[str], flag: str) -> dict[int, str]:
    """At most one IPv4 and one IPv6 value of a repeatable flag, by IP version."""
    from ipaddress import ip_address

    from ..errors import DockyardError

    found: dict[int, str] = {}
    for value in values:
        try:
            version = ip_address(value.split("/")[0]).version
        except ValueError:
            raise DockyardError(f"invalid {flag} {value!r}") from None
        if version in found:
            raise DockyardError(f"{flag}: one IPv{version} value at most")
        found[version] = value
    return found


def run_ls(args: argparse.Namespace, ctx: "Context") -> int:
    from ..formatting import Template, table

    rows = [_summary(n, args.no_trunc) for n in sorted(_all(networks(ctx)), key=lambda n: n.name)]
    rows = [row for row in rows if _matches(row, _pairs(args.filter, "--filter"))]
    if args.quiet:
        print("\n".join(row["ID"] for row in rows))
    elif args.format and args.format != "table":
        print(Template.parse(args.format).render_all(rows, TITLES))
    else:
        columns = ["ID", "Name", "Driver", "Scope"]
        print(table([TITLES[c] for c in columns], [[row[c] for c in columns] for row in rows]))
    return 0


def run_inspect(args: argparse.Namespace, ctx: "Context") -> int:
    from runtime.network import NotFound

    from ..formatting import inspect_output

    manager = networks(ctx)
    found, failed = [], False
    for ref in args.networks:
        try:
            found.append(describe(manager, _lookup(manager, ref)))
        except NotFound as err:
            print(f"Error: {err}", file=sys.stderr)
            failed = True
    if found or not args.format:
        print(inspect_output(found, args.format))
    return 1 if failed else 0


def run_rm(args: argparse.Namespace, ctx: "Context") -> int:
    from runtime.network import NetworkError

    manager = networks(ctx)
    failed = False
    for ref in args.networks:
        try:
            if ref in PSEUDO_DRIVERS:
                raise NetworkError(f"{ref} is a pre-defined network and cannot be removed")
            manager.remove_network(ref)
            print(ref)
        except NetworkError as err:
            print(f"Error response from daemon: {err}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def run_connect(args: argparse.Namespace, ctx: "Context") -> int:
    networks(ctx).connect(args.network, container_id(ctx, args.container), aliases=args.alias,
                          ip=args.ip)
    return 0


def run_disconnect(args: argparse.Namespace, ctx: "Context") -> int:
    networks(ctx).disconnect(args.network, container_id(ctx, args.container))
    return 0


def run_prune(args: argparse.Namespace, ctx: "Context") -> int:
    from ..containers.cli import confirm

    if not args.force and not confirm("WARNING! This will remove all custom networks not used "
                                       "by at least one container.\nAre you sure you want to "
                                       "continue? [y/N] "):
        return 0
    report(prune(ctx))
    return 0


def prune(ctx: "Context") -> list["Network"]:
    """Remove the user-defined networks no container uses, started or not (a created
    container's network is only in its own record until it starts); the default bridge stays."""
    from ..containers.records import ContainerStore

    wanted = set()
    for record in ContainerStore(ctx.root).all():
        wanted.add(record["HostConfig"].get("NetworkMode", ""))
        wanted.update((record.get("NetworkSettings") or {}).get("Networks") or {})
    return networks(ctx).prune_networks(keep=sorted(wanted))


def report(pruned: list["Network"]) -> None:
    """Docker's "Deleted Networks:" section."""
    if pruned:
        print("Deleted Networks:\n" + "".join(f"{n.name}\n" for n in pruned))


def container_id(ctx: "Context", ref: str) -> str:
    """The full ID of a container by name, ID or prefix: dockyard's containers first, then
    the network records (which the library's users outside ``dockyard run`` also make)."""
    from runtime.network import NotFound

    from ..containers.records import ContainerStore, NoSuchContainer

    try:
        return ContainerStore(ctx.root).find(ref)["Id"]
    except NoSuchContainer:
        try:
            return networks(ctx).container(ref).id
        except NotFound:
            raise NoSuchContainer(f"No such container: {ref}") from None


def describe(manager: "Networks", network: "Network") -> dict[str, Any]:
    """``docker network inspect``'s object for one network."""
    containers = {}
    for record in ([] if network.name in PSEUDO_DRIVERS else manager.users(network)):
        endpoint = record.endpoint(network.id)
        if endpoint is not None and endpoint.ip:
            prefix = network.subnet.split("/")[1]
            containers[record.id] = {"Name": record.name, "EndpointID": endpoint.veth or "",
                                     "MacAddress": endpoint.mac or "",
                                     "IPv4Address": f"{endpoint.ip}/{prefix}",
                                     "IPv6Address": f"{endpoint.ip6}/{network.subnet6.split('/')[1]}"
                                     if endpoint.ip6 else ""}
    driver = PSEUDO_DRIVERS.get(network.name, network.driver)
    config = [] if network.name in PSEUDO_DRIVERS else [{"Subnet": network.subnet,
                                                         "Gateway": network.gateway}]
    if network.ipv6:
        config.append({"Subnet": network.subnet6, "Gateway": network.gateway6})
    options = dict(network.options)
    if network.name not in PSEUDO_DRIVERS:
        options.setdefault("com.docker.network.bridge.name", network.bridge)
    return {
        "Name": network.name, "Id": network.id, "Created": network.created, "Scope": "local",
        "Driver": driver, "EnableIPv4": True, "EnableIPv6": network.ipv6,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": network.internal, "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": options, "Labels": dict(network.labels),
    }


def _all(manager: "Networks") -> list["Network"]:
    """The stored networks and Docker's host and none networks."""
    from runtime.network.manager import builtin_id
    from runtime.network.model import Network

    stored = manager.list_networks()
    return stored + [Network(id=builtin_id(name), name=name, bridge="", subnet="", gateway="",
                             created=stored[0].created, driver=driver)
                     for name, driver in PSEUDO_DRIVERS.items()]


def _lookup(manager: "Networks", ref: str) -> "Network":
    from runtime.network import NotFound

    for network in _all(manager):
        if ref in (network.name, network.id):
            return network
    matches = [n for n in _all(manager) if n.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    raise NotFound(f"network {ref} not found")


def _summary(network: "Network", no_trunc: bool) -> dict[str, Any]:
    return {"ID": network.id if no_trunc else network.id[:12], "Name": network.name,
            "Driver": network.driver, "Scope": "local", "IPv6": str(network.ipv6).lower(),
            "Internal": str(network.internal).lower(), "CreatedAt": network.created,
            "Labels": ",".join(f"{k}={v}" for k, v in network.labels.items())}


def _matches(row: dict[str, Any], filters: dict[str, str]) -> bool:
    """Docker's ls filters: name and id match substrings/prefixes, driver exactly."""
    from ..errors import DockyardError

    for key, value in filters.items():
        if key == "name" and value not in row["Name"]:
            return False
        if key == "id" and not row["ID"].startswith(value):
            return False
        if key == "driver" and row["Driver"] != value:
            return False
        if key not in ("name", "id", "driver"):
            raise DockyardError(f"invalid filter '{key}'")
    return True


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    from ..errors import DockyardError

    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DockyardError(f"invalid argument {item!r} for {flag}: expected KEY=VALUE")
        pairs[key] = value
    return pairs
