"""runtime.engine as a library (the way `dockyard run` uses it), and the pure helpers under it."""

from __future__ import annotations

import json
import os

import pytest

from runtime import engine, spec, state
from runtime import syscalls as sc
from runtime.mounts import parse_options, secure_join


def test_config_validation_names_the_bad_field(tmp_path) -> None:
    with pytest.raises(spec.SpecError, match="config.json: no such file"):
        spec.load(str(tmp_path))
    config = spec.default_config(["true"])
    config["linux"]["namespaces"].append({"type": "pid"})
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(spec.SpecError, match="pid given twice"):
        spec.load(str(tmp_path))
    config = spec.default_config([])
    config["process"]["args"] = []
    with pytest.raises(spec.SpecError, match="process.args"):
        spec.validate(config)
    loaded_root = spec.default_config(["true"])
    (tmp_path / "config.json").write_text(json.dumps(loaded_root))
    assert spec.load(str(tmp_path))["root"]["path"] == str(tmp_path / "rootfs")


def test_secure_join_keeps_symlinks_inside_the_root(tmp_path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/../../../outside", tmp_path / "etc" / "escape")
    os.symlink("../../..", tmp_path / "up")
    assert secure_join(str(tmp_path), "/etc/escape/x") == str(tmp_path / "outside" / "x")
    assert secure_join(str(tmp_path), "/up/etc") == str(tmp_path / "etc")


def test_mount_options_split_into_flags_propagation_and_data() -> None:
    flags, propagation, data = parse_options(["nosuid", "ro", "rw", "rprivate", "mode=755", "size=1m",
                                              "tmpcopyup"])
    assert flags == sc.MS_NOSUID
    assert propagation == sc.MS_PRIVATE | sc.MS_REC
    assert data == "mode=755,size=1m"  # runc's tmpcopyup is the runtime's, not the filesystem's


def test_invalid_ids_are_refused(tmp_path) -> None:
    for bad in ("", "..", "a/b", "x y"):
        with pytest.raises(state.StateError):
            state.container_dir(str(tmp_path), bad)


def test_library_lifecycle_as_the_client_drives_it(runtime, capfd) -> None:
    """create returns with the init waiting; start releases it; the caller
    (the init's parent) reaps it; delete removes every trace."""
    bundle = runtime.bundle(["sh", "-c", "echo from-container; exit 5"])
    container_id = runtime.new_id()
    created = engine.create(container_id, str(bundle), runtime.root)
    assert engine.container_state(container_id, runtime.root)["status"] == "created"
    engine.start(container_id, runtime.root)
    assert engine.wait_exit_code(created["pid"]) == 5
    assert engine.container_state(container_id, runtime.root)["status"] == "stopped"
    engine.delete(container_id, runtime.root)
    assert engine.list_containers(runtime.root) == []
    assert "from-container" in capfd.readouterr().out


def test_library_run_returns_the_exit_code(runtime) -> None:
    bundle = runtime.bundle(["sh", "-c", "exit 9"])
    assert engine.run(runtime.new_id(), str(bundle), runtime.root) == 9
    assert engine.list_containers(runtime.root) == []


def test_jsonio_reads_and_writes_as_the_json_package() -> None:
    from runtime import jsonio

    value = {"b": [1, 2.5, None, True, "é\n"], "a": {"nested": -3}, "big": 2 ** 64}
    assert jsonio.loads(json.dumps(value, indent=2).encode()) == value
    assert jsonio.dumps(value) == json.dumps(value)
    assert jsonio.dumps(value, sort_keys=True) == json.dumps(value, sort_keys=True)
    for bad in ("", "{", "{} x", "[1,]"):
        with pytest.raises(ValueError) as theirs:
            json.loads(bad)
        with pytest.raises(ValueError) as ours:
            jsonio.loads(bad)
        assert str(ours.value) == str(theirs.value)
