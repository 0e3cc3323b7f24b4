"""rlimits: parsing Docker's --ulimit, and limits applied in forked children.

Hosts without CAP_SYS_RESOURCE (this project's CI) must refuse to raise a hard
limit with a message naming it; hosts with it may raise.  Both branches are
checked against whatever this host is.
"""

from __future__ import annotations

import resource

import pytest

from runtime import rlimits

from .childproc import run_in_child


def _nofile() -> list[int]:
    return list(resource.getrlimit(resource.RLIMIT_NOFILE))


def test_parse_ulimit_like_docker() -> None:
    assert rlimits.parse_ulimit("nofile=1024:2048") == {"type": "RLIMIT_NOFILE", "soft": 1024,
                                                        "hard": 2048}
    assert rlimits.parse_ulimit("nproc=512") == {"type": "RLIMIT_NPROC", "soft": 512, "hard": 512}
    assert rlimits.parse_ulimit("memlock=-1:-1")["hard"] == rlimits.UNLIMITED
    for bad in ("nofile", "bogus=1", "nofile=a:b", "nofile=10:5"):
        with pytest.raises(rlimits.RlimitError, match="invalid ulimit"):
            rlimits.parse_ulimit(bad)


def test_lowering_applies_both_values() -> None:
    soft, hard = _nofile()
    wanted = {"type": "RLIMIT_NOFILE", "soft": min(soft, 256), "hard": min(hard, 512)}

    def lower() -> list:
        rlimits.apply([wanted, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}])
        return [_nofile(), list(resource.getrlimit(resource.RLIMIT_CORE))]

    assert run_in_child(lower).unwrap() == [[wanted["soft"], wanted["hard"]], [0, 0]]


def test_raising_the_hard_limit_needs_cap_sys_resource() -> None:
    soft, hard = _nofile()
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the nofile hard limit is already unlimited")
    above = {"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard + 1}
    untouched = {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}

    def try_raise() -> list:
        try:
            rlimits.apply([untouched, above])
        except rlimits.RlimitError as e:
            return [str(e), list(resource.getrlimit(resource.RLIMIT_CORE))]
        return ["raised", _nofile()]

    outcome = run_in_child(try_raise).unwrap()
    if rlimits.can_raise_hard_limits():
        assert outcome == ["raised", [soft, hard + 1]]
    else:
        assert outcome[0] == (f"cannot raise RLIMIT_NOFILE to {hard + 1}: the hard limit is {hard} "
                              "and raising it needs CAP_SYS_RESOURCE, which this process lacks")
        assert outcome[1] == list(resource.getrlimit(resource.RLIMIT_CORE))  # nothing applied


def test_malformed_entries_are_named() -> None:
    with pytest.raises(rlimits.RlimitError, match="unknown rlimit 'RLIMIT_BOGUS'"):
        rlimits.apply([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])
    with pytest.raises(rlimits.RlimitError, match="soft limit 10 is above the hard limit 5"):
        rlimits.apply([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])
    with pytest.raises(rlimits.RlimitError, match="needs integer soft and hard"):
        rlimits.apply([{"type": "RLIMIT_NOFILE", "soft": "many"}])
