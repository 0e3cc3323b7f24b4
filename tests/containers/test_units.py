"""The container code's pure parts, without root: flags, Docker's merge rules, users,
names, records, logs, the OCI config."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from client.containers import bundle, logs, names, options, rootfs, users
from client.containers.image import Image
from client.containers.records import ContainerConflict, ContainerStore, NoSuchContainer
from client.containers.runtimes import RuntimeError_
from client.errors import DockyardError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    options.add_arguments(parser)
    return parser.parse_args(argv)


def test_sizes_read_as_docker_reads_them() -> None:
    assert options.parse_bytes("64m", "memory") == 64 << 20
    assert options.parse_bytes("1.5g", "memory") == 3 << 29
    assert options.parse_bytes("512KiB", "memory") == 512 << 10
    assert options.parse_bytes("1024", "memory") == 1024
    with pytest.raises(DockyardError, match="invalid memory"):
        options.parse_bytes("lots", "memory")


def test_host_config_checks_every_flag() -> None:
    host = options.host_config(parse("-m", "64m", "--memory-swap", "-1", "--cpus", "0.5",
                                     "--cap-add", "net_admin", "--ulimit", "nofile=10:-1",
                                     "--pids-limit", "5", "img"))
    assert (host["Memory"], host["MemorySwap"], host["NanoCpus"]) == (64 << 20, -1, 500_000_000)
    assert host["CapAdd"] == ["CAP_NET_ADMIN"] and host["PidsLimit"] == 5
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 10, "Hard": -1}]
    for argv, message in ((("-m", "1m"), "Minimum memory"),
                          (("-m", "64m", "--memory-swap", "32m"), "larger than memory"),
                          (("--memory-swap", "1g"), "set the Memory limit"),
                          (("--cpus", "1000"), "range of CPUs"),
                          (("--network", "container:web", "-p", "80"), "port publishing and the container"),
                          (("--network", "none", "-p", "80"), "takes none of"),
                          (("--cap-add", "NOPE"), "unknown capability"),
                          (("-v", "relative:/x"), "named volumes"),
                          (("--tmpfs", "tmp"), "must be absolute")):
        with pytest.raises(DockyardError, match=message):
            options.host_config(parse(*argv, "img"))


def _image(**config) -> Image:
    return Image("sha256:" + "0" * 64, "img", {"config": config}, [])


def test_entrypoint_cmd_and_env_merge_as_docker_merges_them(monkeypatch) -> None:
    image = _image(Entrypoint=["/entry"], Cmd=["default"], Env=["A=1", "B=2"], User="app")
    config = options.container_config(parse("img"), image, "f" * 64)
    assert options.command_line(config) == ["/entry", "default"]
    assert config["Hostname"] == "f" * 12 and config["User"] == "app"
    config = options.container_config(parse("--entrypoint", "sh", "img"), image, "f" * 64)
    assert options.command_line(config) == ["sh"]
    monkeypatch.setenv("FROM_HOST", "h")
    config = options.container_config(parse("-e", "B=3", "-e", "C", "-e", "FROM_HOST", "-u", "0",
                                            "img", "x"), image, "f" * 64)
    assert config["Env"] == ["A=1", "B=3", "FROM_HOST=h"] and config["Cmd"] == ["x"]
    assert config["User"] == "0"
    with pytest.raises(DockyardError, match="No command specified"):
        options.command_line(options.container_config(parse("--entrypoint", "", "img"), image,
                                                      "f" * 64))


@pytest.fixture
def fake_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                             "app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("staff:x:50:app,other\nwheel:x:10:root\n")
    return tmp_path


def test_users_resolve_names_numbers_and_groups(fake_root) -> None:
    app = users.resolve(str(fake_root), "app")
    assert (app.uid, app.gid, app.additional_gids, app.home) == (1000, 1000, [50], "/home/app")
    assert users.resolve(str(fake_root), "1000:wheel").oci() == {"uid": 1000, "gid": 10}
    nobody_named = users.resolve(str(fake_root), "")  # as runc: uid 0's entry all the same
    assert (nobody_named.uid, nobody_named.gid, nobody_named.additional_gids,
            nobody_named.home) == (0, 0, [10], "/root")
    assert users.resolve(str(fake_root), "77:88").oci() == {"uid": 77, "gid": 88}
    with pytest.raises(DockyardError, match="unable to find user ghost"):
        users.resolve(str(fake_root), "ghost")
    with pytest.raises(DockyardError, match="unable to find group ghosts"):
        users.resolve(str(fake_root), "app:ghosts")


def test_users_are_read_inside_the_containers_root(fake_root) -> None:
    (fake_root / "etc" / "passwd").unlink()
    os.symlink("/etc/passwd", fake_root / "etc" / "passwd")  # would be the host's if followed
    with pytest.raises(DockyardError, match="unable to find user root"):
        users.resolve(str(fake_root), "root")


def test_commands_are_looked_up_like_execvp(fake_root) -> None:
    (fake_root / "bin").mkdir()
    (fake_root / "bin" / "tool").write_text("#!/bin/sh\n")
    (fake_root / "bin" / "tool").chmod(0o755)
    (fake_root / "bin" / "data").write_text("")
    rootfs.check_command(str(fake_root), "tool", "/usr/bin:/bin", "/")
    rootfs.check_command(str(fake_root), "./tool", "", "/bin")
    for name, code in (("missing", 127), ("/bin/data", 126), ("/bin", 126), ("/nope", 127)):
        with pytest.raises(RuntimeError_) as raised:
            rootfs.check_command(str(fake_root), name, "/bin", "/")
        assert raised.value.exit_code == code


def test_names_and_ids() -> None:
    container_id = names.new_id()
    assert len(container_id) == 64 and not container_id[:12].isdigit()
    assert names.check_name("/web-1.a_b") == "web-1.a_b"
    with pytest.raises(DockyardError, match="Invalid container name"):
        names.check_name("-bad")
    taken = set()
    for _ in range(50):
        taken.add(names.generate_name(taken.__contains__))
    assert len(taken) == 50 and all("_" in name for name in taken)


def test_records_find_by_id_prefix_and_name(tmp_path) -> None:
    store = ContainerStore(tmp_path)
    for container_id, name in (("ab" + "1" * 62, "one"), ("ab" + "2" * 62, "two")):
        store.claim(container_id, name)
        store.save({"Id": container_id, "Name": f"/{name}"})
    assert store.find("one")["Id"] == "ab" + "1" * 62
    assert store.find("/two")["Id"] == "ab" + "2" * 62
    assert store.find("ab2")["Name"] == "/two"
    with pytest.raises(ContainerConflict, match="multiple IDs"):
        store.find("ab")
    with pytest.raises(ContainerConflict, match="already in use"):
        store.claim("cd" + "3" * 62, "one")
    store.remove(store.find("one"))
    with pytest.raises(NoSuchContainer):
        store.find("one")
    store.claim("cd" + "3" * 62, "one")  # the name is free again


def test_json_log_splits_lines_as_docker_does(tmp_path) -> None:
    path = str(tmp_path / "log")
    writer = logs.JsonLogWriter(path)
    writer.write("stdout", b"a\nb")
    writer.write("stderr", b"err\n")
    writer.write("stdout", b"c\n" + b"x" * (logs.MAX_LINE + 10))
    writer.close()
    entries, _ = logs.read(path)
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "a\n"), ("stderr", "err\n"), ("stdout", "bc\n"),
        ("stdout", "x" * logs.MAX_LINE), ("stdout", "x" * 10)]
    assert [e["log"] for e in logs.read(path, tail=1)[0]] == ["x" * 10]


def _record(**host) -> dict:
    return {"Id": "e" * 64, "Config": {"Hostname": "h", "Cmd": ["run"], "Env": ["A=1"]},
            "HostConfig": {"Binds": ["/a/b:/x/y:ro", "/c:/x"], "Tmpfs": {"/t": "size=1m"},
                           **host}}


def test_oci_config_follows_docker(tmp_path) -> None:
    user = users.User(5, 6, [7], "/home/u")
    spec = bundle.oci_config(_record(), user, str(tmp_path), "/ns")
    process = spec["process"]
    assert process["args"] == ["run"] and process["user"] == {"uid": 5, "gid": 6,
                                                              "additionalGids": [7]}
    assert process["env"][:2] == [f"PATH={bundle.DEFAULT_PATH}", "HOSTNAME=h"]
    assert "A=1" in process["env"] and "HOME=/home/u" in process["env"]
    assert not process["noNewPrivileges"] and "rlimits" not in process
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations.index("/x") < destinations.index("/x/y")  # parents first
    assert {"type": "network", "path": "/ns"} in spec["linux"]["namespaces"]
    assert spec["linux"]["cgroupsPath"] == f"/dockyard/{'e' * 64}"
    assert "seccomp" in spec["linux"] and spec["linux"]["maskedPaths"]
    privileged = bundle.oci_config(_record(Privileged=True), user, str(tmp_path), None)
    assert "seccomp" not in privileged["linux"] and privileged["linux"]["maskedPaths"] == []
    assert privileged["linux"]["devices"] and privileged["process"]["capabilities"]["bounding"]
    host_net = bundle.oci_config(_record(NetworkMode="host"), user, str(tmp_path), None)
    assert not any(ns["type"] == "network" for ns in host_net["linux"]["namespaces"])
    json.dumps(spec)  # what is written as config.json
