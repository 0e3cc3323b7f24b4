"""Host-wide choices for Dockyard's networks, one set per store root.

Docker keeps these in the daemon's ``daemon.json``; Dockyard has no daemon, so
they live in ``<root>/networks/settings.json`` beside the state they govern,
and every ``dockyard`` process using that root agrees on them.  Keys are
daemon.json's where Docker has one (``bridge``, ``bip``, ``mtu``,
``default-address-pools``, ``ip-forward``); ``nftables-table`` is ours.  A missing file means the defaults.

Tests give each root its own bridge and table names, which is what keeps
them from ever touching a real installation's bridge or rules.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass

from .errors import NetworkError

FILE = "settings.json"
# Docker's default bridge is 172.17.0.0/16 and podman's 10.88.0.0/16; the top of
# 172.16.0.0/12 is the part of it Docker reaches last, so both can live beside us.
DEFAULT_BIP = "172.30.0.1/16"
DEFAULT_POOLS = ({"base": "172.31.0.0/16", "size": 24},)
IFNAMSIZ = 15  # longest interface name the kernel takes


@dataclass(frozen=True)
class Settings:
    bridge: str = "dockyard0"                       # the default network's bridge
    bip: ipaddress.IPv4Interface = ipaddress.IPv4Interface(DEFAULT_BIP)  # its gateway/prefix
    mtu: int = 1500
    pools: tuple[tuple[ipaddress.IPv4Network, int], ...] = tuple(
        (ipaddress.IPv4Network(p["base"]), p["size"]) for p in DEFAULT_POOLS)
    table: str = "dockyard"                         # nftables table (family ip)
    ip_forward: bool = True                         # switch net.ipv4.ip_forward on, as Docker does

    @classmethod
    def load(cls, directory: str) -> "Settings":
        """Settings from ``directory/settings.json``; every key is optional."""
        path = os.path.join(directory, FILE)
        try:
            with open(path) as f:
                doc = json.loads(f.read())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as err:
            raise NetworkError(f"cannot read {path}: {err}") from None
        try:
            return cls._from_doc(doc)
        except (KeyError, TypeError, ValueError) as err:
            raise NetworkError(f"{path}: {err}") from None

    @classmethod
    def _from_doc(cls, doc: dict) -> "Settings":
        default = cls()
        bridge = doc.get("bridge", default.bridge)
        if not isinstance(bridge, str) or not 0 < len(bridge) <= IFNAMSIZ:
            raise ValueError(f"bridge: an interface name of at most {IFNAMSIZ} characters")
        pools = tuple((ipaddress.IPv4Network(p["base"]), int(p["size"]))
                      for p in doc.get("default-address-pools", DEFAULT_POOLS))
        table = doc.get("nftables-table", default.table)
        if not isinstance(table, str) or not table.replace("_", "").isalnum():
            raise ValueError("nftables-table: letters, digits and _ only")
        return cls(bridge=bridge, bip=ipaddress.IPv4Interface(doc.get("bip", DEFAULT_BIP)),
                   mtu=int(doc.get("mtu", default.mtu)), pools=pools, table=table,
                   ip_forward=bool(doc.get("ip-forward", default.ip_forward)))


def write_isolated(directory: os.PathLike | str, bip: str | None = None,
                   pool: str = "10.214.0.0/16") -> dict:
    """Settings for a throw-away root (tests, benchmarks): a bridge and table
    named at random, the given ranges, and the global ip_forward left alone,
    so nothing a real installation uses is touched.  Without ``bip`` the
    default bridge gets a /24 of 10.213.0.0/16 that no route of the host uses
    yet, so roots of test sessions running side by side do not collide.
    Returns what was written."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    doc = {"bridge": f"dyt{tag}", "bip": bip or _free_test_bip(), "nftables-table": f"dytest_{tag}",
           "ip-forward": False, "default-address-pools": [{"base": pool, "size": 24}]}
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, FILE), "w") as f:
        f.write(json.dumps(doc))
    return doc


def _free_test_bip() -> str:
    import random

    from .netlink import host_subnets

    taken = host_subnets()
    for third in random.sample(range(256), 256):
        subnet = ipaddress.IPv4Network(f"10.213.{third}.0/24")
        if not any(subnet.overlaps(used) for used in taken):
            return f"10.213.{third}.1/24"
    raise NetworkError("no free /24 left in 10.213.0.0/16 for a test bridge")
