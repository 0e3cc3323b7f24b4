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
    assert dockyard.ok("run", "--rm", BUSYBOX, "sh", "-c", "echo $HOME") == "/root\n"  # no USER
    missing = dockyard("run", "--rm", "-u", "nosuchuser", BUSYBOX, "true")
    assert missing.returncode == 125 and "unable to find user nosuchuser" in missing.stderr


def test_proc_is_mounted_nosuid_nodev_noexec_as_docker_mounts_it(dockyard) -> None:
    line = dockyard.ok("run", "--rm", BUSYBOX, "grep", " /proc rw", "/proc/self/mountinfo")
    assert {"nosuid", "nodev", "noexec"} <= set(line.split()[5].split(","))


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


class Terminal:
    """A pty for a dockyard client: its stdin, stdout and stderr, read and typed into by the test."""

    def __init__(self, rows: int, columns: int) -> None:
        import pty

        self.master, self.slave = pty.openpty()
        self.resize(rows, columns)
        self.output = b""

    def resize(self, rows: int, columns: int) -> None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def expect(self, text: bytes, timeout: float = 10.0) -> None:
        import select
        import time

        deadline = time.monotonic() + timeout
        while text not in self.output:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no {text!r} in {self.output!r}"
            self.output += os.read(self.master, 4096)
        self.output = self.output[self.output.index(text) + len(text):]

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def test_interactive_tty_follows_the_clients_window_size(dockyard) -> None:
    import signal

    terminal = Terminal(24, 80)
    try:
        client = dockyard.popen("run", "--rm", "-it", BUSYBOX, "sh", stdin=terminal.slave,
                                stdout=terminal.slave, stderr=terminal.slave)
        terminal.expect(b"# ")
        os.write(terminal.master, b"stty size\r")
        terminal.expect(b"24 80")
        terminal.resize(30, 100)
        client.send_signal(signal.SIGWINCH)  # what the terminal would do
        for _ in range(20):  # until the resize has reached the container's terminal
            os.write(terminal.master, b"stty size\r")
            try:
                terminal.expect(b"30 100", timeout=0.5)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("the container's terminal never got the new size")
        os.write(terminal.master, b"exit 3\r")
        assert client.wait(timeout=10) == 3
    finally:
        terminal.close()


def test_run_and_exec_with_a_tty_get_the_clients_terminal_size(dockyard) -> None:
    dockyard.ok("run", "-d", "--name", "box", BUSYBOX, "sleep", "30")
    for command in (("run", "--rm", "-t", BUSYBOX), ("exec", "-t", "box")):
        terminal = Terminal(12, 34)
        try:
            result = dockyard(*command, "sh", "-c", "tty; stty size", stdin=terminal.slave,
                              stdout=terminal.slave, stderr=terminal.slave)
            terminal.expect(b"/dev/pts/")
            terminal.expect(b"12 34")
        finally:
            terminal.close()
        assert result.returncode == 0
