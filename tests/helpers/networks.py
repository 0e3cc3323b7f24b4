"""A dockyard root's own networks for tests: private names going in, nothing left coming out.

``dockyard run`` defaults to the ``bridge`` network, as Docker's does, and
the default bridge is made on first use.  A test root that kept the default
settings would share ``dockyard0`` and the ``dockyard`` nftables table with a
real installation and with every other test root (each with its own address
records).  ``IsolatedNetworks`` gives the root a bridge, a table and address
ranges of its own (``write_isolated``), and at teardown removes whatever
networks the test caused and reports any link, table or record left behind.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class IsolatedNetworks:
    def __init__(self, root: Path) -> None:
        from runtime.network.settings import write_isolated

        self.root = root
        self.settings = write_isolated(root / "networks")

    def teardown(self, container_ids: set[str] = frozenset()) -> list[str]:
        """Remove the root's networks (its containers must be gone); what is left behind."""
        from runtime.network import Networks

        networks = Networks(self.root)
        bridges = {self.settings["bridge"], *(n.bridge for n in networks.store.networks())}
        if networks.store.networks() or networks.store.containers():
            networks.destroy_all()
        left = [f"link {name}" for name in links()
                if name in bridges or any(name.startswith(f"dy{i[:11]}") for i in container_ids)]
        left += [f"nft table {t}" for t in nft_tables() if t.endswith(f" {self.settings['nftables-table']}")]
        records = self.root / "networks" / "containers"
        left += [f"network record {p.name}" for p in records.glob("*.json")] if records.is_dir() else []
        return left


def links(prefix: str = "dy") -> set[str]:
    """Names of the host's links that start with prefix."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    names = (line.split(":", 2)[1].strip().split("@")[0] for line in out.stdout.splitlines())
    return {name for name in names if name.startswith(prefix)}


def nft_tables() -> set[str]:
    """``nft list tables`` lines: ``table <family> <name>``."""
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    return set(out.stdout.split("\n"))
