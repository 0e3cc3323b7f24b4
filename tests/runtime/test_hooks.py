"""OCI hooks run by `dockyard-runtime`: each stage at its point of the life cycle,
with the container's state on stdin, for `run` and for create/start/delete."""

from __future__ import annotations

import json
from pathlib import Path

STAGES = ("prestart", "createRuntime", "poststart", "poststop")


def _hooked(log: Path, failing: str = ""):
    """A bundle edit: every stage appends "<stage> <state JSON>" to log; `failing` exits 1."""
    def edit(config: dict) -> None:
        config["hooks"] = {
            stage: [{"path": "/bin/sh",
                     "args": ["sh", "-c", f'echo "{stage} $(cat)" >> {log}'
                              + ("; exit 1" if stage == failing else "")]}]
            for stage in STAGES}
    return edit


def _seen(log: Path) -> list[tuple[str, str, int]]:
    """(stage, status, pid) of every hook that ran, in order."""
    entries = []
    for line in log.read_text().splitlines():
        stage, _, state = line.partition(" ")
        state = json.loads(state)
        entries.append((stage, state["status"], state["pid"]))
    return entries


def test_run_runs_every_stage_in_order_with_the_state(runtime) -> None:
    log = runtime.tmp / "hooks.log"
    result = runtime.run(["sh", "-c", "exit 3"], edit=_hooked(log))
    assert result.returncode == 3, result.stderr
    seen = _seen(log)
    assert [(stage, status) for stage, status, _ in seen] == [
        ("prestart", "creating"), ("createRuntime", "creating"), ("poststart", "running"),
        ("poststop", "stopped")]
    assert len({pid for _, _, pid in seen[:3]}) == 1 and seen[0][2] > 0


def test_create_start_delete_run_the_stages_at_their_commands(runtime) -> None:
    log = runtime.tmp / "hooks.log"
    bundle = runtime.bundle(["sleep", "60"], edit=_hooked(log))
    container_id = runtime.new_id()
    assert runtime.cli_leaving_container("create", "-b", str(bundle), container_id).returncode == 0
    assert [stage for stage, _, _ in _seen(log)] == ["prestart", "createRuntime"]
    assert runtime.cli("start", container_id).returncode == 0
    assert _seen(log)[-1][:2] == ("poststart", "running")
    assert runtime.cli("delete", "--force", container_id).returncode == 0
    assert [stage for stage, _, _ in _seen(log)] == list(STAGES)


def test_a_failing_prestart_hook_fails_run_and_leaves_nothing(runtime) -> None:
    log = runtime.tmp / "hooks.log"
    result = runtime.run(["true"], edit=_hooked(log, failing="prestart"))
    assert result.returncode == 1
    assert "prestart hook /bin/sh" in result.stderr
    assert [stage for stage, _, _ in _seen(log)] == ["prestart"]
