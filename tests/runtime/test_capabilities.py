"""Capability names and sets, and capabilities applied for real in forked children.

Each child applies a set to itself and reports /proc/self/status back, so the
test process keeps its own capabilities.  Applying needs root (CAP_SETPCAP).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from runtime import capabilities as caps

from .childproc import run_in_child

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing capability sets needs root")


def test_names_are_accepted_in_every_spelling() -> None:
    assert [caps.normalize(n) for n in ("net_admin", "NET_ADMIN", "Cap_Net_Admin", "all")] == [
        "CAP_NET_ADMIN"] * 3 + ["ALL"]
    with pytest.raises(caps.CapabilityError, match="unknown capability 'CAP_FLY'"):
        caps.normalize("CAP_FLY")
    assert caps.parse(["chown", "CAP_CHOWN", "kill"]) == ["CAP_CHOWN", "CAP_KILL"]
    everything = caps.parse(["ALL"])
    assert set(everything) == set(caps.status()["bounding"]) & set(caps.CAPABILITIES)


def test_docker_default_set() -> None:
    assert len(caps.DEFAULT_CAPABILITIES) == 14
    assert "CAP_SYS_ADMIN" not in caps.DEFAULT_CAPABILITIES
    assert set(caps.DEFAULT_CAPABILITIES) <= set(caps.CAPABILITIES)


def test_cap_add_and_drop_follow_docker() -> None:
    base = caps.DEFAULT_CAPABILITIES
    assert caps.adjust(base, add=["net_admin"], drop=["mknod"]) == [
        c for c in base if c != "CAP_MKNOD"] + ["CAP_NET_ADMIN"]
    assert caps.adjust(base, add=["chown"], drop=["ALL"]) == ["CAP_CHOWN"]
    assert "CAP_KILL" not in caps.adjust(base, add=["ALL"], drop=["kill"])
    assert "CAP_SYS_ADMIN" in caps.adjust(base, add=["ALL"])
    oci = caps.oci_capabilities(base)
    assert oci["bounding"] == oci["effective"] == oci["permitted"] == list(base)
    assert oci["inheritable"] == oci["ambient"] == []


@needs_root
def test_default_set_applied_in_a_child() -> None:
    def apply_and_report() -> dict:
        caps.apply(caps.oci_capabilities(caps.DEFAULT_CAPABILITIES))
        return caps.status()

    sets = run_in_child(apply_and_report).unwrap()
    default = sorted(caps.DEFAULT_CAPABILITIES)
    for name in ("bounding", "effective", "permitted"):
        assert sorted(sets[name]) == default, name
    assert sets["inheritable"] == sets["ambient"] == []


@needs_root
def test_non_root_user_keeps_ambient_capabilities_across_exec() -> None:
    """keep-caps holds the permitted set over setuid; ambient carries it through exec."""
    wanted = ["CAP_NET_BIND_SERVICE"]
    spec = {"bounding": wanted, "effective": wanted, "permitted": wanted, "inheritable": wanted,
            "ambient": wanted}

    def switch_user() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    def apply_then_exec() -> str:
        caps.apply(spec, switch_user=switch_user)
        caps.set_no_new_privileges()
        return subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True,
                              check=True).stdout

    status = dict(line.split(":\t", 1) for line in run_in_child(apply_then_exec).unwrap().splitlines()
                  if ":\t" in line)
    bit = f"{1 << 10:016x}"  # CAP_NET_BIND_SERVICE is capability 10
    assert status["Uid"].split()[0] == "65534"
    assert (status["CapEff"], status["CapPrm"], status["CapAmb"], status["CapBnd"]) == (bit,) * 4
    assert status["NoNewPrivs"].strip() == "1"


@needs_root
def test_capability_the_runtime_lacks_is_named() -> None:
    def ask_for_everything_known() -> str:
        try:
            caps.apply({"permitted": list(caps.CAPABILITIES[:caps.last_cap() + 1])})
        except caps.CapabilityError as e:
            return str(e)
        return "granted"

    held = set(caps.status()["permitted"])
    if held >= set(caps.CAPABILITIES[:caps.last_cap() + 1]):
        pytest.skip("this process holds every capability, so none can be refused")
    message = run_in_child(ask_for_everything_known).unwrap()
    assert message.startswith("cannot grant CAP_")
