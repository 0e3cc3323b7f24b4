"""Docker-format seccomp profiles, and their conversion into OCI linux.seccomp.

A Docker profile (default.json beside this module, or one a user passes with
--security-opt seccomp=FILE) is an OCI seccomp section plus conditions: an
archMap from the native architecture to the sub-architectures whose
syscalls must also be filtered, and per-rule includes/excludes on
architecture, capabilities and minimum kernel.  The conditions are resolved
once, when the bundle is written, exactly as moby does (caps are judged
against the container's bounding set), so config.json carries a plain OCI
section that crun and runc load the same way.

default.json follows moby's profiles/seccomp/default.json: an allow-list
with EPERM for everything else; namespace, mount and similar syscalls only
with CAP_SYS_ADMIN, clone only without CLONE_NEW* flags otherwise, clone3
failing with ENOSYS so that libc falls back to clone; socket() only for the
listed address families; personality() only for the harmless personas.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any


class SeccompError(Exception):
    """A seccomp profile is malformed, or the filter could not be built or loaded."""


# uname -m -> the architecture names Docker profiles use in includes/excludes
# (libseccomp's names for Go's GOARCH values).
_NATIVE_ARCH = {
    "x86_64": "amd64", "i386": "x86", "i686": "x86", "aarch64": "arm64", "armv7l": "arm",
    "armv6l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
    "loongarch64": "loong64", "mips64": "mips64",
}
# those names -> OCI's SCMP_ARCH_* names, to pick the archMap entry
_SECCOMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "loong64": "SCMP_ARCH_LOONGARCH64",
    "mips64": "SCMP_ARCH_MIPS64",
}


def native_arch() -> str:
    """This machine's architecture as Docker profiles name it ("amd64", "arm64", ...)."""
    machine = os.uname().machine
    return _NATIVE_ARCH.get(machine, machine)


def default_profile() -> dict[str, Any]:
    """Dockyard's default profile, in Docker's format (equivalent to Docker's default)."""
    with open(os.path.join(os.path.dirname(__file__), "default.json")) as f:
        return json.load(f)


def _kernel_at_least(minimum: str, release: str) -> bool:
    def numbers(text: str) -> tuple[int, ...]:
        parts = []
        for piece in text.split("-")[0].split(".")[:2]:
            digits = "".join(c for c in piece if c.isdigit())
            parts.append(int(digits or 0))
        return tuple(parts)
    return numbers(release) >= numbers(minimum)


def _applies(rule: Mapping[str, Any], arch: str, caps: set[str], release: str) -> bool:
    """moby's reading of includes (every condition must hold) and excludes (any one rules out)."""
    excludes = rule.get("excludes") or {}
    if arch in (excludes.get("arches") or []) or caps & set(excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and _kernel_at_least(excludes["minKernel"], release):
        return False
    includes = rule.get("includes") or {}
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if not set(includes.get("caps") or []) <= caps:
        return False
    return not includes.get("minKernel") or _kernel_at_least(includes["minKernel"], release)


def to_oci(profile: Mapping[str, Any], capabilities: Iterable[str], arch: str | None = None,
           kernel_release: str | None = None) -> dict[str, Any] | None:
    """The OCI linux.seccomp for a container with bounding set `capabilities`, or None for none.

    `arch` and `kernel_release` default to this machine's; they are
    parameters so that a profile can be resolved for, and tested against,
    another one.
    """
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None  # Docker reads an empty profile as "unconfined"
    if profile.get("architectures") and profile.get("archMap"):
        raise SeccompError("a seccomp profile may give 'architectures' or 'archMap', not both")
    arch = arch or native_arch()
    release = kernel_release or os.uname().release
    caps = set(capabilities)
    oci = {key: value for key, value in profile.items() if key not in ("archMap", "syscalls")}
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == _SECCOMP_ARCH.get(arch):
            oci["architectures"] = [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if rule.get("name") and rule.get("names"):
            raise SeccompError(f"a seccomp rule may give 'name' or 'names', not both: {rule!r}")
        if _applies(rule, arch, caps, release):
            plain = {key: value for key, value in rule.items()
                     if key not in ("name", "includes", "excludes", "comment")}
            plain["names"] = rule.get("names") or [rule["name"]]
            syscalls.append(plain)
    oci["syscalls"] = syscalls
    return oci


def default_oci(capabilities: Iterable[str]) -> dict[str, Any]:
    """Docker's default filter for a container with bounding set `capabilities`, as OCI."""
    oci = to_oci(default_profile(), capabilities)
    assert oci is not None
    return oci
