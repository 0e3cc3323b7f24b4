"""``dockyard login``/``logout`` end to end, and how the CLI reports errors."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path

import pytest

from client.cli import main

from .fakes import TokenAuthRegistry

REPO_ROOT = Path(__file__).resolve().parents[3]


async def run_cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run ``python -m client`` (the test's server keeps serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client", *args, cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(stdin.encode())
    return proc.returncode, out.decode(), err.decode()


def stored_auths(home: Path) -> dict:
    path = home / ".docker" / "config.json"
    return json.loads(path.read_text())["auths"] if path.exists() else {}


async def test_login_verifies_then_stores(token_server, token_registry, home):
    code, out, err = await run_cli("login", token_server, "-u", "alice", "--password-stdin",
                                    stdin="secret\n")
    assert (code, out, err) == (0, "Login Succeeded\n", "")
    assert stored_auths(home) == {token_server: {"auth": base64.b64encode(b"alice:secret")
                                                 .decode()}}
    assert token_registry.token_requests[-1]["user"] == "alice"

    code, out, err = await run_cli("login", token_server)  # stored credentials are reused
    assert (code, out) == (0, "Login Succeeded\n")
    assert "existing credentials" in err


async def test_failed_login_stores_nothing(token_server, home):
    code, out, err = await run_cli("login", token_server, "-u", "alice", "-p", "wrong")
    assert code == 1 and out == ""
    warning, error = err.splitlines()
    assert "insecure" in warning
    assert error == f"Error: {token_server}: incorrect username or password (UNAUTHORIZED)"
    assert stored_auths(home) == {}


@pytest.mark.parametrize("token_registry", [TokenAuthRegistry(mode="basic")])
async def test_login_with_a_basic_challenge(token_server, home):
    config = home / "elsewhere"
    code, out, _ = await run_cli("--config", str(config), "login", token_server,
                                  "-u", "alice", "--password-stdin", stdin="secret")
    assert (code, out) == (0, "Login Succeeded\n")
    assert token_server in json.loads((config / "config.json").read_text())["auths"]


async def test_login_to_an_open_dockyard_registry(dockyard, home):
    """A registry without auth accepts anyone, so docker (and we) report success."""
    code, out, _ = await run_cli("login", dockyard, "-u", "bob", "--password-stdin",
                                 stdin="pw")
    assert (code, out) == (0, "Login Succeeded\n")
    assert dockyard in stored_auths(home)


async def test_login_to_a_dockyard_registry_with_auth(secure_dockyard, home):
    code, out, err = await run_cli("login", secure_dockyard, "-u", "alice", "--password-stdin",
                                   stdin="alice-pw\n")
    assert (code, out) == (0, "Login Succeeded\n"), err
    assert secure_dockyard in stored_auths(home)
    code, out, err = await run_cli("login", secure_dockyard, "-u", "bob", "-p", "wrong")
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == (f"Error: {secure_dockyard}: incorrect username or password "
                                    f"(UNAUTHORIZED)")
    assert list(stored_auths(home)) == [secure_dockyard]  # bob was not stored


def test_login_without_a_terminal_says_how(capsys):
    assert main(["login", "localhost:5000", "--password-stdin"]) == 1
    assert capsys.readouterr().err == "Error: --password-stdin needs --username\n"
    assert main(["login", "localhost:5000"]) == 1  # nothing stored, nobody to ask
    assert "stdin is not a terminal" in capsys.readouterr().err


def test_logout(home, capsys):
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {"auth": "YTpi"}}}))
    assert main(["logout"]) == 0
    assert main(["logout", "docker.io"]) == 0
    assert capsys.readouterr().out == ("Removing login credentials for docker.io\n"
                                       "Not logged in to docker.io\n")


def test_errors_are_one_line_and_tracebacks_need_debug(home, capsys):
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text("{broken")
    assert main(["logout"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot read ") and err.count("\n") == 1
    assert main(["--debug", "logout"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "login" in capsys.readouterr().out
