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
import stat
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from runtime.spec import default_config

from ..containers import users
from ..containers.rootfs import mount_overlay, unmount
from ..errors import DockyardError
from .dockerfile import instructions as ins
from .layertar import is_opaque
from .network import StepNetwork, step_network
from .scratch import RUNTIME_ROOT, record_step



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
    user: str = ""                 # the stage's USER, resolved in the container's own files
    network: str = "host"          # a ``network.MODES`` (the build resolves RUN's "default")
    mounts: list[dict] = field(default_factory=list)  # OCI mounts for --mount


def _config(rootfs: Path, spec: RunSpec, network: StepNetwork) -> dict:
    user = users.resolve(str(rootfs), spec.user or "0")
    config = default_config(spec.argv)
    config["root"] = {"path": str(rootfs), "readonly": False}
    config["hostname"] = "buildkitsandbox"
    env = {"HOME": user.home, **spec.env}
    config["process"].update(env=[f"{key}={value}" for key, value in env.items()],
                             cwd=spec.cwd, user=user.oci(), noNewPrivileges=False)
    namespaces = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
    if network.namespace is not None:
        namespaces.append(network.namespace)
    config["linux"]["namespaces"] = namespaces
    config["mounts"].extend([*network.mounts, *spec.mounts])
    return config


async def run_step(scratch: Path, layers: list[tuple[str, str]], spec: RunSpec, root: Path,
                   output: Callable[[bytes], Awaitable[None] | None]) -> Path:
    """Run ``spec`` over ``layers`` (bottom first, as (directory, overlay xattr namespace));
    returns the upper directory.

    The caller owns ``scratch`` (one fresh directory per step) and removes it;
    ``root`` is dockyard's root (for bridge networks); a non-zero exit raises ``RunFailed``.
    """
    if os.geteuid() != 0:
        raise DockyardError("RUN steps need root (they run in a container)")
    upper, work, rootfs = scratch / "upper", scratch / "work", scratch / "rootfs"
    for directory in (upper, work, rootfs):
        directory.mkdir(parents=True)
    unique = uuid.uuid4().hex
    container_id = "build-" + unique[:16]
    runtime = [sys.executable, "-m", "runtime", "--root", RUNTIME_ROOT]
    points = _MountPoints()
    record_step(scratch, container_id, unique if spec.network == "bridge" else None)
    mount_overlay(layers, str(upper), str(work), str(rootfs))
    try:
        async with step_network(spec.network, root, unique, scratch, rootfs) as network:
            config = _config(rootfs, spec, network)
            points = _prepare_targets(rootfs, config["mounts"])
            (scratch / "config.json").write_text(json.dumps(config))
            try:
                code = await _run(runtime, scratch, container_id, output)
            finally:
                await _delete(runtime, container_id)
    finally:
        _remove_created(points)
        unmount(str(rootfs))
        _drop_copied_up(upper, points)
    if code != 0:
        raise RunFailed(" ".join(spec.argv), code)
    return upper


async def _run(runtime: list[str], bundle: Path, container_id: str,
               output: Callable[[bytes], Awaitable[None] | None]) -> int:
    """The container, its output streamed to ``output``; its exit code."""
    process = await asyncio.create_subprocess_exec(
        *runtime, "run", "--bundle", str(bundle), container_id,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            result = output(chunk)
            if asyncio.iscoroutine(result):
                await result
        return await process.wait()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise


@dataclass
class _MountPoints:
    """The mount points a step's container needed that its image lacked.

    They are created in the overlay before the run and removed after it, so
    that they never end up in the layer; the directories above them that the
    image did have were copied up into the upper directory by overlayfs when
    they were made, and are dropped from it again when nothing else changed them.
    """
    created: list[Path] = field(default_factory=list)        # outermost first
    parents: dict[str, os.stat_result] = field(default_factory=dict)  # relative -> before


def _prepare_targets(rootfs: Path, mounts: list[dict]) -> _MountPoints:
    points = _MountPoints()
    mounted: list[str] = []
    for mount in mounts:
        destination = mount["destination"].rstrip("/")
        inside = any(destination.startswith(m + "/") for m in mounted)
        mounted.append(destination)
        target = rootfs / destination.lstrip("/")
        if inside or os.path.lexists(target):
            continue  # within an earlier mount, the runtime makes it there
        for parent in reversed(Path(destination).relative_to("/").parents[:-1]):
            if os.path.lexists(rootfs / parent):
                points.parents.setdefault(str(parent), os.lstat(rootfs / parent))
            else:
                (rootfs / parent).mkdir()
                points.created.append(rootfs / parent)
        if mount["type"] == "bind" and not os.path.isdir(mount["source"]):
            target.touch()  # a file (secret, socket) is mounted over a file
        else:
            target.mkdir()
        points.created.append(target)
    return points


def _remove_created(points: _MountPoints) -> None:
    """Remove the mount points made for the run, if the command left them empty."""
    for path in reversed(points.created):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            elif path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass


def _drop_copied_up(upper: Path, points: _MountPoints) -> None:
    """After unmounting: the image's directories copied up only to hold a mount point."""
    for relative in sorted(points.parents, key=len, reverse=True):
        path, before = upper / relative, points.parents[relative]
        try:
            st = os.lstat(path)
            if (stat.S_ISDIR(st.st_mode) and (st.st_mode, st.st_uid, st.st_gid) ==
                    (before.st_mode, before.st_uid, before.st_gid)
                    and not is_opaque(path)):
                path.rmdir()  # fails, as it should, when the command put something there
        except OSError:
            pass


async def _delete(runtime: list[str], container_id: str) -> None:
    """What ``run`` leaves when it is interrupted (it deletes the container itself when
    it returns, so there is usually nothing to do and no process to start)."""
    if not os.path.lexists(os.path.join(RUNTIME_ROOT, container_id)):
        return
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
