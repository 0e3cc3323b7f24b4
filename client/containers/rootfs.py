"""The container's root: an overlay of the image's layers under its own upper directory.

The client mounts it (in the host's mount namespace, on ``<container>/rootfs``)
before calling the runtime and unmounts it once the container has stopped,
as containerd and podman do: the bundle then has a plain ``root.path``, so
crun and runc run it exactly as dockyard's own runtime does.  Mounting is
idempotent and so is unmounting, because a later command may have to finish
what a killed one started.

Layers come from ``client.layers``: whiteouts are 0/0 character devices and
opaque directories carry ``trusted.overlay.opaque`` (``user.overlay.opaque``
for layers unpacked without root, which overlay reads when mounted with
``userxattr``).  lowerdir lists the topmost layer first; the paths are given
relative to the layers directory (the mount runs with that as working
directory), which keeps the option string within the kernel's one page for
stacks of up to about 55 layers.
"""

from __future__ import annotations

import errno
import os

from client.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Sequence


def mount_overlay(layers: Sequence[tuple[str, str]], upper: str, work: str, target: str,
                  volatile: bool = False) -> None:
    """Mount the overlay (``layers`` bottom first, as (directory, xattr namespace)) on ``target``.

    ``volatile`` (for containers removed on exit, as podman does for them)
    skips every sync of the upper directory, including the one at unmount,
    which flushes the whole file system under it and can take longer than
    the container ran; the price, an upper directory that must not be
    mounted again after a machine crash, is nothing for a throwaway one.
    """
    from runtime import syscalls as sc

    if is_mounted(target):
        return
    namespaces = {namespace for _, namespace in layers}
    if len(namespaces) > 1:
        raise DockyardError("the image's layers were unpacked both with and without root; "
                            "remove the image and pull it again")
    for directory, _ in layers:
        if not os.path.isdir(directory):
            raise DockyardError(f"layer directory {directory} is missing: the image was removed")
    base = os.path.dirname(os.path.dirname(layers[-1][0])) if layers else None
    lower = ":".join(os.path.relpath(d, base) for d, _ in reversed(layers)) if layers else None
    if lower is None:  # an image without layers (FROM scratch + nothing): an empty lower
        lower = os.path.join(os.path.dirname(upper), "empty")
        os.makedirs(lower, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work},index=off"
    if namespaces == {"user"}:
        options += ",userxattr"
    if volatile:
        options += ",volatile"
    previous = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if base:
            os.chdir(base)
        sc.mount("overlay", target, "overlay", 0, options)
    except OSError as err:
        raise DockyardError(f"cannot mount the container's root file system: {err.strerror}") from None
    finally:
        os.fchdir(previous)
        os.close(previous)


def unmount(target: str) -> None:
    """Unmount whatever is mounted on ``target``; nothing mounted is fine."""
    from runtime import syscalls as sc

    try:
        sc.umount2(target)
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.ENOENT):  # not a mount point, or gone
            return
        if err.errno != errno.EBUSY:
            raise
        sc.umount2(target, sc.MNT_DETACH)


def is_mounted(target: str) -> bool:
    """Whether ``target`` is a mount point (its device differs from its parent's)."""
    try:
        return os.stat(target).st_dev != os.stat(os.path.dirname(target)).st_dev
    except FileNotFoundError:
        return False


def write_etc_files(directory: str, hostname: str, host_network: bool) -> None:
    """hostname, hosts and resolv.conf in the container's directory, for bind mounts into /etc.

    With the host's network the container sees the host's hosts and
    resolv.conf; otherwise a localhost-only hosts file naming itself, and
    the host's resolv.conf (Docker's choice too).  On a bridge network the
    network library rewrites them once the container is attached.
    """
    from runtime.network import files

    files.write_in_place(os.path.join(directory, "hostname"), f"{hostname}\n")
    hosts = files.read_host_file(files.HOST_HOSTS) if host_network else files.LOCALHOST
    files.write_in_place(os.path.join(directory, "hosts"), hosts)
    files.write_in_place(os.path.join(directory, "resolv.conf"),
                         files.read_host_file(files.HOST_RESOLV_CONF))


def check_command(rootfs: str, name: str, path: str, cwd: str) -> None:
    """Fail as Docker does (127 missing, 126 not executable) before a command that cannot run starts.

    The runtime would find out too, but only after start, and each runtime
    says it differently; this looks in the container's root the same way
    execvp will, with symlinks resolved inside it.
    """
    from runtime.mounts import secure_join

    from .runtimes import RuntimeError_

    if "/" in name:
        candidates = [os.path.join(cwd, name)]
    else:
        candidates = [os.path.join(d, name) for d in path.split(":") if d.startswith("/")]
    denied = None
    for candidate in candidates:
        real = secure_join(rootfs, candidate)
        if os.path.isfile(real):
            if os.access(real, os.X_OK):
                return
            denied = candidate
    if denied is not None:
        raise RuntimeError_(f'exec: "{denied}": permission denied', 126)
    if "/" in name:
        if os.path.isdir(secure_join(rootfs, candidates[0])):
            raise RuntimeError_(f'exec: "{name}": is a directory', 126)
        raise RuntimeError_(f'exec: "{name}": stat {name}: no such file or directory', 127)
    raise RuntimeError_(f'exec: "{name}": executable file not found in $PATH', 127)
