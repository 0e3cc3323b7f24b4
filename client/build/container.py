"""RUN: one command in a throwaway container over the stage's layers.

The container's root is an overlay of the stage's unpacked layers under a
fresh upper directory (mounted by ``client.containers.rootfs``, as for
``dockyard run``); when the command has finished, that upper directory
*is* the step's change set (new and changed files, 0/0 character devices
for deletions, opaque directories), which ``layertar`` turns into the layer.

The container runs under ``dockyard-runtime`` as a child process, so its
output can be streamed and a Ctrl-C or failure always ends in the same
``finally``: runtime state deleted, overlay unmounted, scratch removed.
Nothing is left mounted or running after a build, even an interrupted one.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from runtime.spec import default_config

from ..containers.rootfs import mount_overlay, unmount
from ..errors import DockyardError
from .dockerfile import instructions as ins

_HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")
_RUNTIME_ROOT = "/run/dockyard-runtime"


class RunFailed(DockyardError):
    """A RUN step exited non-zero: the build stops with that exit code."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"process \"{command}\" did not complete successfully: exit code: {code}")
        self.code = code


@dataclass
class RunSpec:
    """Everything one RUN needs besides its layers."""
    argv: list[str]
    env: dict[str, str]
    cwd: str
    uid: int
    gid: int
    network: str = "default"
    mounts: list[dict] = field(default_factory=list)  # OCI mounts for --mount


def _config(rootfs: Path, spec: RunSpec) -> dict:
    config = default_config(spec.argv)
    config["root"] = {"path": str(rootfs), "readonly": False}
    config["hostname"] = "buildkitsandbox"
    process = config["process"]
    process.update(env=[f"{key}={value}" for key, value in spec.env.items()], cwd=spec.cwd,
                   user={"uid": spec.uid, "gid": spec.gid}, noNewPrivileges=False)
    mounts = config["mounts"]
    if spec.network != "none":
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                         if ns["type"] != "network"]
        for path in _HOST_FILES:
            if os.path.exists(path) and (rootfs / path.lstrip("/")).is_file():
                mounts.append({"destination": path, "type": "bind", "source": path,
                               "options": ["rbind", "ro"]})
    mounts.extend(spec.mounts)
    return config


async def run_step(scratch: Path, layers: list[tuple[str, str]], spec: RunSpec,
                   output: Callable[[bytes], Awaitable[None] | None]) -> Path:
    """Run ``spec`` over ``layers`` (bottom first, as (directory, overlay xattr namespace));
    returns the upper directory.

    The caller owns ``scratch`` (one fresh directory per step) and removes it;
    a non-zero exit raises ``RunFailed``.
    """
    if os.geteuid() != 0:
        raise DockyardError("RUN steps need root (they run in a container)")
    upper, work, rootfs = scratch / "upper", scratch / "work", scratch / "rootfs"
    for directory in (upper, work, rootfs):
        directory.mkdir(parents=True)
    container_id = "build-" + uuid.uuid4().hex[:16]
    runtime = [sys.executable, "-m", "runtime", "--root", _RUNTIME_ROOT]
    mount_overlay(layers, str(upper), str(work), str(rootfs))
    config = _config(rootfs, spec)
    created_targets = _prepare_targets(rootfs, config["mounts"])
    try:
        (scratch / "config.json").write_text(json.dumps(config))
        process = await asyncio.create_subprocess_exec(
            *runtime, "run", "--bundle", str(scratch), container_id,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            assert process.stdout is not None
            while chunk := await process.stdout.read(65536):
                result = output(chunk)
                if asyncio.iscoroutine(result):
                    await result
            code = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
    finally:
        await _delete(runtime, container_id)
        _remove_created(rootfs, created_targets)
        unmount(str(rootfs))
    if code != 0:
        raise RunFailed(" ".join(spec.argv), code)
    return upper


def _prepare_targets(rootfs: Path, mounts: list[dict]) -> list[Path]:
    """Create the mount points the image lacks (/proc in a scratch-based image, cache
    targets), so that they can be removed again and never end up in the layer."""
    created: list[Path] = []
    mounted: list[str] = []
    for mount in mounts:
        destination = mount["destination"].rstrip("/")
        inside = any(destination.startswith(m + "/") for m in mounted)
        mounted.append(destination)
        if inside:
            continue
        missing = None
        for parent in reversed(Path(destination).relative_to("/").parents[:-1]):
            if not os.path.lexists(rootfs / parent):
                missing = parent
                break
        target = rootfs / destination.lstrip("/")
        if os.path.lexists(target):
            continue
        target.mkdir(parents=True)
        created.append(rootfs / missing if missing else target)
    return created


def _remove_created(rootfs: Path, created: list[Path]) -> None:
    """Remove the mount points made for the run, if the command left them empty."""
    for top in reversed(created):
        for directory, _, _ in sorted(os.walk(top), reverse=True):
            try:
                os.rmdir(directory)
            except OSError:
                pass


async def _delete(runtime: list[str], container_id: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *runtime, "delete", "--force", container_id, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await process.wait()


def run_argv(run: ins.Run, shell: tuple[str, ...]) -> list[str]:
    """The process a RUN starts; heredocs become part of the shell script.

    ``RUN <<EOF`` alone runs the body as the script (a ``#!`` line picks its
    interpreter); otherwise the line and its heredoc bodies go to the shell
    together, which then reads the heredocs itself, as BuildKit does.
    """
    if not run.command.shell or not run.heredocs:
        return run.command.argv(shell)
    line = run.command.args[0]
    if len(run.heredocs) == 1 and line.strip() in (f"<<{run.heredocs[0].name}",
                                                   f"<<-{run.heredocs[0].name}"):
        body = run.heredocs[0].content
        if body.startswith("#!"):
            interpreter = body.splitlines()[0][2:].split()
            return [*interpreter, "-c", body] if interpreter else [*shell, body]
        return [*shell, body]
    script = line + "".join(f"\n{doc.content}{doc.name}" for doc in run.heredocs)
    return [*shell, script]


def remove_scratch(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
