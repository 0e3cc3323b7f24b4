"""``dockyard network ...`` and ``dockyard port`` as a user runs them (root)."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO, links, needs_root

pytestmark = needs_root


def dockyard(sandbox, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "client", "--root", str(sandbox.root), *args],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_network_create_ls_inspect_rm(sandbox) -> None:
    created = dockyard(sandbox, "network", "create", "--subnet", "10.214.50.0/24",
                       "--gateway", "10.214.50.254", "--label", "team=a", "front").stdout.strip()
    assert len(created) == 64
    listing = dockyard(sandbox, "network", "ls").stdout.splitlines()
    assert listing[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in listing[1:]] == ["bridge", "front", "host", "none"]
    assert dockyard(sandbox, "network", "ls", "-q", "--filter", "name=fro").stdout.split() == [created[:12]]
    assert dockyard(sandbox, "network", "ls", "--format", "{{.Name}}:{{.Driver}}").stdout.split() == \
        ["bridge:bridge", "front:bridge", "host:host", "none:null"]

    [doc] = json.loads(dockyard(sandbox, "network", "inspect", "front").stdout)
    assert doc["Id"] == created and doc["Labels"] == {"team": "a"}
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.214.50.0/24", "Gateway": "10.214.50.254"}]
    bridge = doc["Options"]["com.docker.network.bridge.name"]
    assert bridge in links()

    missing = dockyard(sandbox, "network", "inspect", "front", "nosuch", check=False)
    assert missing.returncode == 1 and "network nosuch not found" in missing.stderr
    overlapping = dockyard(sandbox, "network", "create", "--subnet", "10.214.50.128/25", "x", check=False)
    assert overlapping.returncode == 1 and "overlaps" in overlapping.stderr
    builtin = dockyard(sandbox, "network", "rm", "bridge", check=False)
    assert builtin.returncode == 1 and "pre-defined" in builtin.stderr

    assert dockyard(sandbox, "network", "rm", "front").stdout.strip() == "front"
    assert bridge not in links()


def test_connect_disconnect_rm_refused_prune(sandbox) -> None:
    dockyard(sandbox, "network", "create", "one")
    dockyard(sandbox, "network", "create", "spare")
    c = sandbox.start("box", network="one")
    dockyard(sandbox, "network", "connect", "--alias", "b", "spare", "box")
    [doc] = json.loads(dockyard(sandbox, "network", "inspect", "spare").stdout)
    assert doc["Containers"][c.id]["Name"] == "box"
    assert "eth1" in c.run("ip", "-o", "link").stdout

    refused = dockyard(sandbox, "network", "rm", "spare", check=False)
    assert refused.returncode == 1 and "active endpoints" in refused.stderr
    dockyard(sandbox, "network", "disconnect", "spare", "box")
    assert "eth1" not in c.run("ip", "-o", "link").stdout
    pruned = dockyard(sandbox, "network", "prune", "-f").stdout
    assert pruned == "Deleted Networks:\nspare\n\n"
    assert dockyard(sandbox, "network", "ls", "-q", "-f", "name=one").stdout.strip()


def test_port_lists_the_mappings(sandbox) -> None:
    sandbox.start("web", publish=["127.0.0.1::80", "53/udp"])
    lines = dockyard(sandbox, "port", "web").stdout.splitlines()
    assert [line.split(" -> ")[0] for line in lines] == ["80/tcp", "53/udp"]
    assert lines[0].split(" -> ")[1].startswith("127.0.0.1:")
    one = dockyard(sandbox, "port", "web", "53/udp").stdout.strip()
    assert one.startswith("0.0.0.0:") and one == lines[1].split(" -> ")[1]
    none = dockyard(sandbox, "port", "web", "81", check=False)
    assert none.returncode == 1 and "No public port '81/tcp'" in none.stderr
