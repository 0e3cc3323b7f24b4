"""htpasswd files: ``htpasswd -B`` compatibility, reloading, and the user/robot commands."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest

from registry import cli
from registry.auth.accounts import Accounts, basic_credentials
from registry.auth import passwords
from registry.auth.passwords import PasswordFile
from registry.auth.rules import Identity

from .kit import write_htpasswd

HTPASSWD = shutil.which("htpasswd")
needs_htpasswd = pytest.mark.skipif(
    HTPASSWD is None, reason="htpasswd is not on PATH (Debian package 'apache2-utils'; the "
                             "README's test command installs it)")


@needs_htpasswd
async def test_file_made_by_apache_htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    subprocess.run([HTPASSWD, "-B", "-b", "-c", str(path), "alice", "s3cret pass"], check=True,
                   capture_output=True)
    subprocess.run([HTPASSWD, "-B", "-C", "6", "-b", str(path), "bob", "ünïcødé"], check=True,
                   capture_output=True)
    subprocess.run([HTPASSWD, "-m", "-b", str(path), "md5user", "md5pass"], check=True,
                   capture_output=True)  # MD5: refused, as distribution refuses it
    accounts = Accounts(PasswordFile(str(path)), None)
    assert await accounts.authenticate("alice", "s3cret pass") == Identity("alice")
    assert await accounts.authenticate("bob", "ünïcødé") == Identity("bob")
    assert await accounts.authenticate("alice", "s3cret") is None
    assert await accounts.authenticate("md5user", "md5pass") is None
    assert PasswordFile(str(path)).names() == ["alice", "bob"]


@needs_htpasswd
def test_apache_htpasswd_verifies_what_the_command_writes(tmp_path, run_cli):
    path = tmp_path / "htpasswd"
    run_cli(["user", "add", "alice", "--file", str(path), "--password-stdin"], "pw of alice\n")
    check = subprocess.run([HTPASSWD, "-v", "-b", str(path), "alice", "pw of alice"],
                           capture_output=True)
    assert check.returncode == 0, check.stderr


async def test_changes_are_picked_up_without_restart(tmp_path):
    path = write_htpasswd(tmp_path / "htpasswd", {"alice": "one"})
    file = PasswordFile(str(path))
    accounts = Accounts(file, None)
    assert await accounts.authenticate("alice", "one")
    file.set("alice", "two")
    file.set("bob", "three")
    assert not await accounts.authenticate("alice", "one")
    assert await accounts.authenticate("alice", "two")
    assert await accounts.authenticate("bob", "three")
    os.unlink(path)
    assert not await accounts.authenticate("bob", "three")


async def test_robots_sign_in_with_the_prefix_only(tmp_path):
    users = PasswordFile(str(write_htpasswd(tmp_path / "users", {"ci": "user-pw"})))
    robots = PasswordFile(str(write_htpasswd(tmp_path / "robots", {"ci": "robot-secret"})))
    accounts = Accounts(users, robots)
    assert await accounts.authenticate("robot+ci", "robot-secret") == Identity("robot+ci")
    assert await accounts.authenticate("ci", "robot-secret") is None
    assert await accounts.authenticate("ci", "user-pw") == Identity("ci")
    assert await Accounts(users, None).authenticate("robot+ci", "robot-secret") is None


def test_basic_credentials():
    assert basic_credentials("Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM=") == ("alice", "pw:with:colons")
    for header in ("Basic", "Basic !!!", "Bearer YWxpY2U6cHc=", "Basic YWxpY2U=", "Basic /w=="):
        assert basic_credentials(header) is None


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``dockyard-registry ARGV`` with ``stdin``; (status, stdout, stderr)."""
    def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = cli.main(argv)
        captured = capsys.readouterr()
        return status, captured.out, captured.err
    return run


def test_user_commands(tmp_path, run_cli):
    path = str(tmp_path / "users")
    assert run_cli(["user", "add", "alice", "--file", path, "--password-stdin"], "pw1\n")[0] == 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    status, _, err = run_cli(["user", "add", "alice", "--file", path, "--password-stdin"], "x\n")
    assert status == 1 and "exists" in err
    assert run_cli(["user", "add", "bob", "--file", path, "--password-stdin"], "pw2\n")[0] == 0
    assert run_cli(["user", "list", "--file", path]) == (0, "alice\nbob\n", "")
    assert run_cli(["user", "passwd", "bob", "--file", path, "--password-stdin"], "new\n")[0] == 0
    assert PasswordFile(path).check("bob", "new")
    assert run_cli(["user", "remove", "alice", "--file", path])[0] == 0
    assert run_cli(["user", "list", "--file", path])[1] == "bob\n"
    for argv, message in ((["user", "remove", "alice"], "no user alice"),
                          (["user", "passwd", "nobody", "--password-stdin"], "no user nobody"),
                          (["user", "add", "robot+x", "--password-stdin"], "invalid user name"),
                          (["user", "add", "a:b", "--password-stdin"], "invalid user name"),
                          (["user", "add", "carol", "--password-stdin"], "password is empty"),
                          (["user", "add", "carol"], "use --password-stdin")):
        status, _, err = run_cli([*argv, "--file", path])
        assert status == 1 and message in err and "Traceback" not in err


def test_user_file_from_the_config(tmp_path, run_cli):
    config = tmp_path / "config.yml"
    config.write_text(f"version: 0.1\nauth:\n  htpasswd:\n    path: {tmp_path}/from-config\n")
    status, _, _ = run_cli(["user", "add", "alice", "--config", str(config),
                            "--password-stdin"], "pw\n")
    assert status == 0 and PasswordFile(str(tmp_path / "from-config")).names() == ["alice"]
    status, _, err = run_cli(["user", "list", "--config", str(tmp_path / "none.yml")])
    assert status == 1 and "cannot read config file" in err


def test_robot_commands(tmp_path, run_cli):
    path = str(tmp_path / "robots")
    status, secret, err = run_cli(["robot", "add", "ci", "--file", path])
    secret = secret.strip()
    assert status == 0 and len(secret) >= 40 and "robot+ci" in err
    assert secret not in open(path).read()  # only its hash is stored
    assert PasswordFile(path).check("ci", secret)
    status, rotated, _ = run_cli(["robot", "rotate", "robot+ci", "--file", path])
    assert status == 0 and not PasswordFile(path).check("ci", secret)
    assert PasswordFile(path).check("ci", rotated.strip())
    assert run_cli(["robot", "list", "--file", path])[1] == "robot+ci\n"
    assert run_cli(["robot", "add", "Bad Name", "--file", path])[0] == 1
    assert run_cli(["robot", "remove", "ci", "--file", path])[0] == 0
    assert run_cli(["robot", "list", "--file", path])[1] == ""


def test_a_success_is_remembered_until_the_entry_changes(tmp_path, monkeypatch):
    file = PasswordFile(str(write_htpasswd(tmp_path / "htpasswd", {"alice": "one"})))
    assert file.check("alice", "one")
    rounds = []
    monkeypatch.setattr(passwords.bcrypt, "checkpw", lambda *a: rounds.append(a) or False)
    assert file.check("alice", "one")  # no bcrypt round: in Basic mode every request asks
    assert not file.check("alice", "two") and len(rounds) == 1  # failures always cost one
    monkeypatch.undo()
    file.set("alice", "two")
    assert not file.check("alice", "one")
    assert file.check("alice", "two")
