"""Docker's rules for turning an image and ``run`` flags into the container's process."""

from __future__ import annotations

import os

from tests.helpers.busybox_image import BUSYBOX

from .conftest import APP, ENTRY


def test_entrypoint_and_cmd_rules(dockyard) -> None:
    assert dockyard.ok("run", "--rm", ENTRY) == "entry default\n"
    assert dockyard.ok("run", "--rm", ENTRY, "given", "args") == "entry given args\n"
    # --entrypoint drops the image's CMD too
    assert dockyard.ok("run", "--rm", "--entrypoint", "echo", ENTRY) == "\n"
    assert dockyard.ok("run", "--rm", "--entrypoint", "echo", ENTRY, "x") == "x\n"
    assert dockyard.ok("run", "--rm", "--entrypoint", "", ENTRY, "echo", "plain") == "plain\n"
    none = dockyard("run", "--rm", "--entrypoint", "", ENTRY)
    assert none.returncode == 125 and "No command specified" in none.stderr


def test_environment_merges_image_env_file_and_flags(dockyard, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nFOO=file\n\n")
    out = dockyard.ok("run", "--rm", "--env-file", str(env_file), "-e", "FOO=flag", "-e",
                      "PASSED", "-e", "UNSET_ON_HOST", APP, "env",
                      env={**os.environ, "PASSED": "through"})
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["FOO"] == "flag" and env["FROM_FILE"] == "1" and env["KEEP"] == "1"
    assert env["PASSED"] == "through" and "UNSET_ON_HOST" not in env
    assert env["HOME"] == "/home/app" and env["HOSTNAME"]
    assert env["PATH"].startswith("/usr/local/sbin")


def test_workdir_from_image_or_flag_is_created(dockyard) -> None:
    assert dockyard.ok("run", "--rm", APP, "pwd") == "/work\n"
    assert dockyard.ok("run", "--rm", "-w", "/new/dir", BUSYBOX, "pwd") == "/new/dir\n"
    relative = dockyard("run", "--rm", "-w", "relative", BUSYBOX, "pwd")
    assert relative.returncode == 125 and "absolute path" in relative.stderr


def test_users_and_groups_come_from_the_images_files(dockyard) -> None:
    assert dockyard.ok("run", "--rm", APP, "id").strip() == \
        "uid=1000(app) gid=1000(app) groups=29(audio),50(staff)"
    assert dockyard.ok("run", "--rm", "-u", "app:staff", APP, "id").strip() == \
        "uid=1000(app) gid=50(staff)"
    assert dockyard.ok("run", "--rm", "-u", "4242:4343", APP, "id", "-u").strip() == "4242"
    assert dockyard.ok("run", "--rm", "-u", "root", APP, "sh", "-c", "id -u; echo $HOME") == \
        "0\n/root\n"
    missing = dockyard("run", "--rm", "-u", "nosuchuser", BUSYBOX, "true")
    assert missing.returncode == 125 and "unable to find user nosuchuser" in missing.stderr


def test_volumes_bind_host_paths_read_write_or_read_only(dockyard, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("hello\n")
    out = dockyard.ok("run", "--rm", "-v", f"{shared}:/data", "-v", f"{shared}:/ro:ro", BUSYBOX,
                      "sh", "-c", "cat /data/from-host; echo new > /data/from-container; "
                                  "touch /ro/x 2>/dev/null; echo ro=$?")
    assert out == "hello\nro=1\n"
    assert (shared / "from-container").read_text() == "new\n"
    bad = dockyard("run", "--rm", "-v", "named:/data", BUSYBOX, "true")
    assert bad.returncode == 125 and "named volumes are not supported" in bad.stderr


def test_stdin_only_with_interactive(dockyard) -> None:
    assert dockyard.ok("run", "--rm", "-i", BUSYBOX, "cat", input="piped\n", stdin=None) == \
        "piped\n"
    assert dockyard.ok("run", "--rm", BUSYBOX, "cat", input="ignored\n", stdin=None) == ""


def test_tty_gets_the_clients_terminal_size(dockyard) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    try:
        result = dockyard("run", "--rm", "-t", BUSYBOX, "sh", "-c", "tty; stty size",
                          stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every slave is closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
    assert result.returncode == 0
    lines = output.decode().split()
    assert lines[0].startswith("/dev/pts/") and lines[1:] == ["33", "111"]
