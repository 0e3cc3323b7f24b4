"""The OCI runtime configuration (config.json): loading, validation, defaults.

The configuration stays the spec's own JSON shape (a dict): that is the
contract the client writes and crun/runc read, so a parallel model would only
have to be kept in step with it.  What this module adds is validation up front,
so a bad bundle fails with one clear line before anything is created, and
`default_config`, the equivalent of `runc spec`.
"""

from __future__ import annotations

import os

from runtime import jsonio

OCI_VERSION = "1.0.2"

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup")

# Docker's (and runc spec's) default capability set.
DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

DEFAULT_MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
    "/proc/scsi",
]

DEFAULT_READONLY_PATHS = [
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
]


# Device cgroup rules every container gets after its own (runc's AllowedDevices):
# mknod of anything (the node is still useless without an allow rule), and
# the nodes the runtime itself creates in /dev.
DEFAULT_DEVICE_RULES = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
      for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2))),
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # /dev/pts/*
]


class SpecError(ValueError):
    """The bundle's configuration is missing, unreadable or invalid."""


def load(bundle: str) -> dict:
    """Read and validate <bundle>/config.json; root.path comes back absolute."""
    path = os.path.join(bundle, "config.json")
    try:
        config = jsonio.load_file(path)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file (is {bundle!r} an OCI bundle?)") from None
    except (OSError, ValueError) as e:
        raise SpecError(f"{path}: {e}") from None
    validate(config)
    root = config["root"]["path"]
    config["root"]["path"] = os.path.normpath(os.path.join(os.path.abspath(bundle), root))
    return config


def validate(config: dict) -> None:
    """Raise SpecError naming the first field that breaks the runtime spec."""
    if not isinstance(config, dict):
        raise SpecError("config.json: not a JSON object")
    if not isinstance(config.get("ociVersion"), str):
        raise SpecError("ociVersion: required string")
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise SpecError("root.path: required")
    process = config.get("process")
    if process is not None:
        validate_process(process)
    for i, m in enumerate(config.get("mounts") or []):
        if not isinstance(m, dict) or not str(m.get("destination", "")).startswith("/"):
            raise SpecError(f"mounts[{i}].destination: must be an absolute path")
    seen = set()
    for i, ns in enumerate(config.get("linux", {}).get("namespaces") or []):
        kind = ns.get("type") if isinstance(ns, dict) else None
        if kind not in NAMESPACE_TYPES:
            raise SpecError(f"linux.namespaces[{i}].type: {kind!r} is not one of {', '.join(NAMESPACE_TYPES)}")
        if kind in seen:
            raise SpecError(f"linux.namespaces: {kind} given twice")
        seen.add(kind)
    if "user" in seen and not config["linux"].get("uidMappings"):
        raise SpecError("linux.uidMappings: required with a user namespace")


def validate_process(process: dict) -> None:
    """The process section on its own, as `exec --process` also takes it."""
    if not isinstance(process, dict):
        raise SpecError("process: not an object")
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise SpecError("process.args: required, a non-empty list of strings")
    if not str(process.get("cwd", "")).startswith("/"):
        raise SpecError("process.cwd: required, an absolute path")
    user = process.get("user", {})
    if not isinstance(user.get("uid", 0), int) or not isinstance(user.get("gid", 0), int):
        raise SpecError("process.user.uid/gid: must be integers")


def namespaces(config: dict) -> dict[str, str | None]:
    """Namespace type -> path to join (None: create a new one)."""
    return {ns["type"]: ns.get("path") or None
            for ns in config.get("linux", {}).get("namespaces") or []}


def cgroup_resources(config: dict) -> dict:
    """linux.resources with the device rules the runtime adds: the defaults
    and an allow rule for each of linux.devices, after the config's own."""
    linux = config.get("linux", {})
    resources = dict(linux.get("resources") or {})
    extra = [{"allow": True, "type": d["type"], "major": d.get("major"), "minor": d.get("minor"),
              "access": "rwm"} for d in linux.get("devices") or []]
    resources["devices"] = list(resources.get("devices") or []) + DEFAULT_DEVICE_RULES + extra
    return resources


def default_config(args: list[str] | None = None, terminal: bool = False) -> dict:
    """A configuration like `runc spec` writes: rootfs/, sh, all namespaces but user and cgroup."""
    caps = list(DEFAULT_CAPABILITIES)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args or ["sh"]),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "dockyard",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
        },
    }
