"""A container record -> the OCI runtime config (``config.json``) Docker would hand runc.

Starts from ``runtime.spec.default_config`` (what ``runc spec`` writes) and
applies Docker's choices: its capability set adjusted by --cap-add/--cap-drop,
its seccomp profile, no-new-privileges only when asked, a 64 MiB /dev/shm,
/etc/hostname, /etc/hosts and /etc/resolv.conf bind-mounted from the
container's directory, user mounts ordered parents first, the cgroup at
/dockyard/<id>, a cgroup namespace only on pure cgroup v2 hosts, and for
--privileged every capability, the host's devices, no seccomp and no masked
or read-only paths.  Nothing here touches the system: the caller mounts,
resolves the user and writes the file.

--init runs tini (Debian's ``tini`` package ships a static build, which
works inside any image) bind-mounted read-only at /sbin/docker-init, where
Docker puts its own copy of tini.
"""

from __future__ import annotations

import os

from client.errors import DockyardError

from .options import CPU_PERIOD, command_line, merge_env

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .users import User

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/docker-init"
# Static init binaries that run in any root file system; DOCKYARD_INIT names another.
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/libexec/docker/docker-init")
ETC_FILES = ("hostname", "hosts", "resolv.conf")
# /dev entries Docker leaves out when it copies the host's devices for --privileged
_SKIPPED_DEV = frozenset({"pts", "shm", "fd", "mqueue", "console", ".lxc", ".lxd-mounts"})


def find_init() -> str:
    """The static init binary for --init, or an error saying how to get one."""
    configured = os.environ.get("DOCKYARD_INIT")
    for path in (configured,) if configured else INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise DockyardError("--init needs a static init binary: install Debian's tini package "
                        "(/usr/bin/tini-static) or set DOCKYARD_INIT")


def process_env(config: dict, user: User) -> list[str]:
    """The process environment as Docker builds it: PATH, HOSTNAME, TERM, Config.Env, HOME."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={config['Hostname']}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    env = merge_env(env, config.get("Env") or [])
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    return env


def oci_config(record: dict, user: User, directory: str, netns: str | None) -> dict:
    """config.json for the container whose record and directory are given.

    ``netns`` is the network namespace to join (None: the host's).
    """
    from runtime.capabilities import DEFAULT_CAPABILITIES, adjust, all_capabilities, oci_capabilities
    from runtime.spec import default_config

    config, host = record["Config"], record["HostConfig"]
    privileged = host.get("Privileged", False)
    argv = command_line(config)
    if host.get("Init"):
        argv = [INIT_PATH, "--", *argv]
    spec = default_config(argv, terminal=bool(config.get("Tty")))
    caps = all_capabilities() if privileged else adjust(DEFAULT_CAPABILITIES, host.get("CapAdd") or [],
                                                        host.get("CapDrop") or [])
    security = host.get("SecurityOpt") or []
    process = spec["process"]
    process.update({
        "user": user.oci(),
        "env": process_env(config, user),
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": oci_capabilities(caps),
        "noNewPrivileges": any(o.startswith("no-new-privileges") for o in security),
        "oomScoreAdj": 0,
    })
    process.pop("rlimits", None)  # Docker sets none unless asked: the runtime's own apply
    if host.get("Ulimits"):
        process["rlimits"] = [{"type": f"RLIMIT_{u['Name'].upper()}", "soft": _unsigned(u["Soft"]),
                               "hard": _unsigned(u["Hard"])} for u in host["Ulimits"]]
    if config.get("Tty"):
        from .terminal import console_size
        size = console_size()
        if size:
            process["consoleSize"] = size
    spec["root"] = {"path": "rootfs", "readonly": bool(host.get("ReadonlyRootfs"))}
    spec["hostname"] = config["Hostname"]
    spec["mounts"] = _mounts(spec["mounts"], host, directory, privileged)
    linux = spec["linux"]
    linux["namespaces"] = _namespaces(netns, host.get("NetworkMode") == "host")
    linux["cgroupsPath"] = f"/dockyard/{record['Id']}"
    linux["resources"] = _resources(host, privileged)
    if privileged:
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
        linux["devices"] = host_devices()
    elif not any(o.replace(":", "=") == "seccomp=unconfined" for o in security):
        from runtime.seccomp import default_oci
        linux["seccomp"] = default_oci(caps)
    return spec


def _unsigned(value: int) -> int:
    return (1 << 64) - 1 if value < 0 else value


def _namespaces(netns: str | None, host_network: bool) -> list[dict]:
    from runtime.cgroups import detect

    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if not host_network:
        namespaces.append({"type": "network", "path": netns} if netns else {"type": "network"})
    if detect().mode == "v2":  # Docker's default: a private cgroup namespace on pure v2 only
        namespaces.append({"type": "cgroup"})
    return namespaces


def _mounts(defaults: list[dict], host: dict, directory: str, privileged: bool) -> list[dict]:
    shm = f"size={host.get('ShmSize') or 64 * 1024 * 1024}"
    mounts = []
    for m in defaults:
        if m["destination"] == "/proc":  # runc spec's /proc has no options, Docker's these
            m = {**m, "options": ["rw", "nosuid", "noexec", "nodev"]}
        elif m["destination"] == "/dev/shm":
            m = {**m, "options": [o for o in m["options"] if not o.startswith("size=")] + [shm]}
        elif privileged and m["destination"] in ("/sys", "/sys/fs/cgroup"):
            m = {**m, "options": [o for o in m["options"] if o != "ro"] + ["rw"]}
        mounts.append(m)
    mounts += [{"destination": f"/etc/{name}", "type": "bind", "source": os.path.join(directory, name),
                "options": ["rbind", "rprivate"]} for name in ETC_FILES]
    user_mounts = []
    for bind in host.get("Binds") or []:
        source, target, *mode = bind.split(":")
        user_mounts.append({"destination": target, "type": "bind", "source": source,
                            "options": ["rbind", "rprivate", "ro" if mode == ["ro"] else "rw"]})
    for target, options in (host.get("Tmpfs") or {}).items():
        opts = [o for o in options.split(",") if o] if options else []
        user_mounts.append({"destination": target, "type": "tmpfs", "source": "tmpfs",
                            "options": ["nosuid", "nodev", "noexec", *opts]})
    if host.get("Init"):
        user_mounts.append({"destination": INIT_PATH, "type": "bind", "source": find_init(),
                            "options": ["bind", "ro"]})
    # parents before children, as Docker sorts them (by the number of path components)
    user_mounts.sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))
    return mounts + user_mounts


def _resources(host: dict, privileged: bool) -> dict:
    resources: dict = {"devices": [{"allow": privileged, "access": "rwm"}]}
    memory = host.get("Memory") or 0
    if memory:
        resources["memory"] = {"limit": memory}
        swap = host.get("MemorySwap") or 0
        if swap and swap_limits_supported():
            resources["memory"]["swap"] = swap
    cpu: dict = {}
    if host.get("NanoCpus"):
        cpu.update(quota=host["NanoCpus"] * CPU_PERIOD // 10**9, period=CPU_PERIOD)
    if host.get("CpusetCpus"):
        cpu["cpus"] = host["CpusetCpus"]
    if cpu:
        resources["cpu"] = cpu
    if host.get("PidsLimit"):
        resources["pids"] = {"limit": host["PidsLimit"]}
    return resources


def swap_limits_supported() -> bool:
    """Whether the host can limit memory+swap (Docker ignores the limit, with a warning, if not)."""
    from runtime.cgroups import detect

    layout = detect()
    memory = layout.v1.get("memory")
    if memory is not None:
        return os.path.exists(os.path.join(memory.mountpoint, "memory.memsw.limit_in_bytes"))
    return layout.v2 is not None and "memory" in layout.v2.controllers


def host_devices() -> list[dict]:
    """Every character and block device under the host's /dev, for --privileged."""
    import stat

    devices = []
    for directory, dirs, files in os.walk("/dev"):
        if directory == "/dev":
            dirs[:] = [d for d in dirs if d not in _SKIPPED_DEV]
        for name in files:
            path = os.path.join(directory, name)
            if directory == "/dev" and name in _SKIPPED_DEV:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else None
            if kind is None or st.st_rdev == 0:  # 0/0 is no device (overlay whiteouts)
                continue
            devices.append({"type": kind, "path": path, "major": os.major(st.st_rdev),
                            "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
                            "uid": st.st_uid, "gid": st.st_gid})
    return devices
