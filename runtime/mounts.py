"""The container's root filesystem, built inside its new mount namespace.

Runs in the container's init after unshare(CLONE_NEWNS) and before the user's
process: everything here is undone by the kernel when the last process of the
namespace exits, so nothing is ever mounted in the host's namespace and no
clean-up is needed on delete.  Order matters and follows runc:

1. "/" becomes recursively private (or linux.rootfsPropagation), so nothing we
   do propagates back to the host;
2. the rootfs is bind-mounted onto itself (pivot_root needs a mount point);
3. the config's mounts go under it, /dev gets its device nodes and links;
4. pivot_root(".", ".") and a lazy unmount of the old root, which leaves no
   path back to the host's files (never chroot, which leaves one);
5. masked and read-only paths, then the read-only remount of "/".
"""

from __future__ import annotations

import errno
import os
import stat

from runtime import syscalls as sc

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable

# option -> (clears the flag?, flag), as mount(8) reads them
_FLAGS = {
    "ro": (False, sc.MS_RDONLY), "rw": (True, sc.MS_RDONLY),
    "nosuid": (False, sc.MS_NOSUID), "suid": (True, sc.MS_NOSUID),
    "nodev": (False, sc.MS_NODEV), "dev": (True, sc.MS_NODEV),
    "noexec": (False, sc.MS_NOEXEC), "exec": (True, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS), "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC), "remount": (False, sc.MS_REMOUNT),
    "mand": (False, sc.MS_MANDLOCK), "nomand": (True, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME), "atime": (True, sc.MS_NOATIME),
    "nodiratime": (False, sc.MS_NODIRATIME), "diratime": (True, sc.MS_NODIRATIME),
    "relatime": (False, sc.MS_RELATIME), "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME), "nostrictatime": (True, sc.MS_STRICTATIME),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW), "symfollow": (True, sc.MS_NOSYMFOLLOW),
    "bind": (False, sc.MS_BIND), "rbind": (False, sc.MS_BIND | sc.MS_REC),
}

_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# runc's extensions to the options, for the runtime rather than the filesystem
_EXTENSIONS = frozenset({"tmpcopyup", "notmpcopyup"})

# Flags a bind mount only takes on a second, remounting call.
_BIND_REMOUNT_FLAGS = (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME
                       | sc.MS_NODIRATIME | sc.MS_RELATIME | sc.MS_STRICTATIME | sc.MS_NOSYMFOLLOW)

# name, major, minor: the nodes every container's /dev has (OCI runtime spec, "Default Devices")
_DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7),
                    ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
              ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"), ("/proc/kcore", "core"))


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """Mount options -> (flags, propagation flags, data string for the filesystem)."""
    flags = propagation = 0
    data = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            propagation |= _PROPAGATION[opt]
        elif opt not in _EXTENSIONS:
            data.append(opt)
    return flags, propagation, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """root + path with every symlink resolved as if root were "/", so that a
    link in the image (even an absolute or ../.. one) can never point a mount
    outside the container's root."""
    def readlink(relative: str) -> str | None:
        try:
            return os.readlink(os.path.join(root, relative))
        except OSError:  # not a link, or does not exist yet
            return None

    return os.path.join(root, *resolve_links(path, readlink))


def resolve_links(path: str, readlink: Callable[[str], str | None],
                  follow: bool = True) -> list[str]:
    """The components of `path` with every symlink on the way resolved inside
    the tree `readlink` reads (it gives a link's target for a path relative to
    the tree's root, None for anything else), the tree's root standing for "/":
    no absolute or ../.. link leads out of it.  The last component is followed
    only with `follow`."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        target = readlink("/".join([*resolved, part])) if parts or follow else None
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > 40:
            raise OSError(errno.ELOOP, f"too many levels of symbolic links in {path!r}")
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p] + parts
    return resolved


def mount_early(config: dict) -> int:
    """The part of steps 1-2 that does not depend on the container's cgroup,
    done while the runtime makes it: the root's propagation, the rootfs bind
    and config.mounts up to the first cgroup file system (its view is the
    cgroup's).  Returns how many of config.mounts it made."""
    rootfs = config["root"]["path"]
    linux = config.get("linux", {})
    propagation = _PROPAGATION.get(linux.get("rootfsPropagation", ""), sc.MS_PRIVATE | sc.MS_REC)
    sc.mount(None, "/", None, propagation)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    entries = config.get("mounts") or []
    count = next((i for i, m in enumerate(entries) if m.get("type") in ("cgroup", "cgroup2")),
                 len(entries))
    for m in entries[:count]:
        mount_entry(rootfs, m, False)
    if _devices_early(entries, count):
        populate_dev(rootfs, linux.get("devices") or [])
    return count


def prepare_rootfs(config: dict, cgroup_namespace: bool, done: int) -> None:
    """The rest of steps 1-4, in the cgroup: config.mounts after the first `done`
    (see mount_early), /dev's devices unless mount_early could make them, and
    pivot_root into the rootfs."""
    rootfs = config["root"]["path"]
    entries = config.get("mounts") or []
    for m in entries[done:]:
        mount_entry(rootfs, m, cgroup_namespace)
    if _dev_mounted(entries) and not _devices_early(entries, done):
        populate_dev(rootfs, config.get("linux", {}).get("devices") or [])
    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def finalize_rootfs(config: dict) -> None:
    """After pivot_root: masked paths, read-only paths, read-only root (step 5)."""
    linux = config.get("linux", {})
    for path in linux.get("readonlyPaths") or []:
        make_readonly(path)
    for path in linux.get("maskedPaths") or []:
        mask(path)
    if config["root"].get("readonly"):
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _current_flags("/"))


def _dev_mounted(entries: list[dict]) -> bool:
    """Whether /dev is one of these mounts (its devices are then ours to make)."""
    return any(m["destination"].rstrip("/") == "/dev" for m in entries)


def _devices_early(entries: list[dict], early: int) -> bool:
    """Whether /dev's devices can be made right after the first `early` mounts (before
    the cgroup is joined): /dev is among them and no later mount goes on or under it."""
    return _dev_mounted(entries[:early]) and not any(
        m["destination"].rstrip("/") == "/dev" or m["destination"].startswith("/dev/")
        for m in entries[early:])


def mount_entry(rootfs: str, m: dict, cgroup_namespace: bool) -> None:
    """One entry of config.mounts, under rootfs."""
    flags, propagation, data = parse_options(m.get("options") or [])
    kind = m.get("type") or ("bind" if flags & sc.MS_BIND else "none")
    source = m.get("source") or kind
    dest = secure_join(rootfs, m["destination"])
    if kind == "bind" or flags & sc.MS_BIND:
        _make_mountpoint(dest, os.path.isdir(source))
        sc.mount(source, dest, None, sc.MS_BIND | (flags & sc.MS_REC))
        if flags & _BIND_REMOUNT_FLAGS:
            sc.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | (flags & ~sc.MS_REC))
    elif kind == "cgroup":
        _make_mountpoint(dest, True)
        mount_cgroups(dest, flags, cgroup_namespace)
    elif kind == "tmpfs":
        _mount_tmpfs(source, dest, flags, data, "tmpcopyup" in (m.get("options") or []))
    else:
        _make_mountpoint(dest, True)
        sc.mount(source, dest, kind, flags, data or None)
    if propagation:
        sc.mount(None, dest, None, propagation)


def _mount_tmpfs(source: str, dest: str, flags: int, data: str, copy_up: bool) -> None:
    """A tmpfs at dest.  Over an existing directory its root takes that directory's
    mode unless the options say mode= (as runc does), and with copy_up
    (tmpcopyup) its contents too (runtime.copyup)."""
    try:
        covered = os.stat(dest)
    except FileNotFoundError:
        covered = None
        _make_mountpoint(dest, True)
    if covered is not None:
        data = ",".join(filter(None, (f"mode={stat.S_IMODE(covered.st_mode):04o}", data)))
    if covered is None or not copy_up:
        sc.mount(source, dest, "tmpfs", flags, data or None)
        return
    from runtime.copyup import copy_tree

    below = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # stays on what we cover
    try:
        sc.mount(source, dest, "tmpfs", flags & ~sc.MS_RDONLY, data)
        copy_tree(below, dest)
    finally:
        os.close(below)
    if flags & sc.MS_RDONLY:
        sc.mount(source, dest, "tmpfs", flags | sc.MS_REMOUNT, data)


def _make_mountpoint(path: str, directory: bool) -> None:
    if directory:
        os.makedirs(path, exist_ok=True)
    elif not os.path.lexists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def mount_cgroups(dest: str, flags: int, cgroup_namespace: bool) -> None:
    """The "cgroup" mount type: the container's own cgroups at dest.

    Mirrors the host's layout (pure v2, pure v1 or hybrid).  In a cgroup
    namespace each hierarchy is mounted afresh, which the kernel roots at the
    namespace's cgroup; without one, the container's own cgroup directory is
    bind-mounted from the host's hierarchy.  Called after the init joined its
    cgroup, so /proc/self/cgroup names the container's.
    """
    from runtime.cgroups.layout import detect, own_cgroups

    layout = detect()
    own = own_cgroups()
    hierarchies = {id(m): (m, ",".join(sorted(m.controllers)), own[min(m.controllers)])
                   for m in layout.v1.values()}
    if layout.v2 is not None:
        hierarchies[id(layout.v2)] = (layout.v2, "", own.get("", "/"))
    split = layout.mode != "v2"
    if split:
        sc.mount("tmpfs", dest, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755")
    for mount, controllers, path in hierarchies.values():
        target = os.path.join(dest, os.path.basename(mount.mountpoint)) if split else dest
        os.makedirs(target, exist_ok=True)
        if cgroup_namespace:
            sc.mount("cgroup", target, "cgroup" if controllers else "cgroup2", flags, controllers or None)
        else:
            relative = path[len(mount.root):] if path.startswith(mount.root) else path
            sc.mount(mount.mountpoint + "/" + relative.lstrip("/"), target, None, sc.MS_BIND)
            sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | flags)
    if split and flags & sc.MS_RDONLY:
        sc.mount(None, dest, None, sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)


def populate_dev(rootfs: str, devices: list[dict]) -> None:
    """The spec's default device nodes, the config's devices and /dev's links."""
    dev = os.path.join(rootfs, "dev")
    old_umask = os.umask(0)
    try:
        for name, major, minor in _DEFAULT_DEVICES:
            _mknod(os.path.join(dev, name), stat.S_IFCHR | 0o666, major, minor, 0, 0,
                   "/dev/" + name)
        for d in devices:
            kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[d["type"]]
            _mknod(secure_join(rootfs, d["path"]), kind | d.get("fileMode", 0o666),
                   d.get("major", 0), d.get("minor", 0), d.get("uid", 0), d.get("gid", 0),
                   d["path"])
    finally:
        os.umask(old_umask)
    for target, name in _DEV_LINKS:
        if name == "core" and not os.path.exists(target):  # kernels without CONFIG_PROC_KCORE
            continue
        try:
            os.symlink(target, os.path.join(dev, name))
        except FileExistsError:
            pass


def _mknod(path: str, mode: int, major: int, minor: int, uid: int, gid: int, host: str) -> None:
    """Make a device node; in a user namespace, where mknod is refused, bind-mount the
    host's node at `host` instead (runc's way)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.mknod(path, mode, os.makedev(major, minor))
    except FileExistsError:
        return
    except PermissionError:
        _make_mountpoint(path, False)
        sc.mount(host, path, None, sc.MS_BIND)
        return
    os.chown(path, uid, gid)


def make_readonly(path: str) -> None:
    """Bind the path onto itself and remount that read-only; absent paths are fine."""
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    except FileNotFoundError:
        return
    sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _current_flags(path))


def mask(path: str) -> None:
    """Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory."""
    try:
        is_dir = os.path.isdir(path)
        if is_dir:
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    except FileNotFoundError:
        pass


def _current_flags(path: str) -> int:
    """The nosuid/nodev/noexec flags path is mounted with: a bind remount must
    repeat the locked ones or the kernel refuses it (EPERM)."""
    st = os.statvfs(path)
    flags = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV),
                             (os.ST_NOEXEC, sc.MS_NOEXEC)):
        if st.f_flag & st_flag:
            flags |= ms_flag
    return flags
