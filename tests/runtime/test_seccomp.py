"""seccomp: profile conversion, and filters loaded for real in forked children.

A loaded filter can never be removed, so every filter goes into a child that
reports which syscalls worked and exits.  Blocked syscalls are called
through libc's syscall(2) with numbers libseccomp resolves, so the checks
work on any architecture.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
import subprocess

import pytest

from runtime import capabilities, seccomp
from runtime.capabilities import DEFAULT_CAPABILITIES
from runtime.seccomp import libseccomp

from .childproc import run_in_child

needs_libseccomp = pytest.mark.skipif(ctypes.util.find_library("seccomp") is None,
                                      reason="libseccomp2 is not installed")


def _syscall(name: str, *args: int) -> str:
    """Call syscall `name` raw; "ok" or the errno's name."""
    number = libseccomp._library().seccomp_syscall_resolve_name(name.encode())
    libc = ctypes.CDLL(None, use_errno=True)
    ret = libc.syscall(number, *(ctypes.c_long(a) for a in args))
    return "ok" if ret >= 0 else errno.errorcode[ctypes.get_errno()]


def _probe() -> dict[str, str]:
    """What a container process would see: namespaces and keyrings blocked, the rest working."""
    return {
        "unshare": _syscall("unshare", 0x04000000),  # CLONE_NEWUTS
        "keyctl": _syscall("keyctl", 0),  # KEYCTL_GET_KEYRING_ID
        "add_key": _syscall("add_key", 0, 0, 0, 0, 0),
        "clone3": _syscall("clone3", 0, 0),
        "getpid": "ok" if os.getpid() > 0 else "?",
        "exec": "ok" if subprocess.run(["true"], check=False).returncode == 0 else "failed",
    }


def _load_then(spec: dict, probe=_probe, no_new_privs: bool = True):
    def body():
        if no_new_privs:
            capabilities.set_no_new_privileges()
        seccomp.load(spec)
        return probe()
    return body


def test_default_profile_resolves_capability_conditions() -> None:
    plain = seccomp.default_oci(DEFAULT_CAPABILITIES)
    admin = seccomp.default_oci([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["defaultErrnoRet"] == 1

    def names(spec: dict) -> set[str]:
        return {n for rule in spec["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" and
                not rule.get("args") for n in rule["names"]}

    assert {"read", "execve", "chroot"} <= names(plain)  # chroot: CAP_SYS_CHROOT is a default
    assert not {"unshare", "mount", "keyctl", "add_key", "kcmp", "reboot"} & names(plain)
    assert {"unshare", "mount", "clone"} <= names(admin)
    clone3 = [r for r in plain["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert not [r for r in admin["syscalls"] if r["names"] == ["clone3"]]
    assert all(set(rule) <= {"names", "action", "args", "errnoRet"} for rule in plain["syscalls"])


def test_conversion_follows_arch_and_kernel_conditions() -> None:
    profile = seccomp.default_profile()
    s390 = seccomp.to_oci(profile, [], arch="s390x", kernel_release="4.4.0")
    assert s390["architectures"] == ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]
    clone = [r for r in s390["syscalls"] if r["names"] == ["clone"]]
    assert [r["args"][0]["index"] for r in clone] == [1]  # s390 passes clone's flags second
    names = {n for rule in s390["syscalls"] for n in rule["names"]}
    assert "ptrace" not in names  # minKernel 4.8
    assert "arch_prctl" not in names
    assert seccomp.to_oci({}, []) is None
    with pytest.raises(seccomp.SeccompError, match="not both"):
        seccomp.to_oci({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                        "archMap": [{"architecture": "SCMP_ARCH_X86"}]}, [])
    single = seccomp.to_oci({"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]}, [])
    assert single["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]


@needs_libseccomp
def test_default_profile_blocks_namespaces_and_keyrings() -> None:
    seen = run_in_child(_load_then(seccomp.default_oci(DEFAULT_CAPABILITIES))).unwrap()
    assert seen == {"unshare": "EPERM", "keyctl": "EPERM", "add_key": "EPERM", "clone3": "ENOSYS",
                    "getpid": "ok", "exec": "ok"}


@needs_libseccomp
@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_filter_prepared_before_fork_loads_where_libseccomp_is_unreachable(tmp_path) -> None:
    """The runtime compiles before fork; its child loads after pivot_root, without the host's /lib."""
    compiled = seccomp.prepare(seccomp.default_oci(DEFAULT_CAPABILITIES))
    probe = {"unshare": lambda: _syscall("unshare", 0x04000000),
             "getppid": lambda: _syscall("getppid")}

    def in_empty_root() -> dict:
        os.chroot(str(tmp_path))
        os.chdir("/")
        capabilities.set_no_new_privileges()
        compiled.load()
        return {name: call() for name, call in probe.items()}

    assert run_in_child(in_empty_root).unwrap() == {"unshare": "EPERM", "getppid": "ok"}


@needs_libseccomp
@pytest.mark.skipif(os.geteuid() != 0, reason="unshare(CLONE_NEWUTS) needs root")
def test_cap_sys_admin_opens_the_gated_syscalls() -> None:
    spec = seccomp.default_oci([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    seen = run_in_child(_load_then(spec)).unwrap()
    assert seen["unshare"] == "ok" and seen["keyctl"] == "EPERM"


@needs_libseccomp
def test_oci_profile_with_argument_rules() -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["no_such_syscall", "getpid"], "action": "SCMP_ACT_ALLOW"},
            ]}
    if seccomp.native_arch() != "amd64":
        spec.pop("architectures")

    def probe() -> dict[str, str]:
        outcome = {}
        for name, call in (("mkdir", lambda: os.mkdir("/proc/nonexistent-dir")),
                           ("kill 0", lambda: os.kill(os.getpid(), 0)),
                           ("kill SIGWINCH", lambda: os.kill(os.getpid(), signal.SIGWINCH))):
            try:
                call()
                outcome[name] = "ok"
            except OSError as e:
                outcome[name] = errno.errorcode[e.errno]
        return outcome

    assert run_in_child(_load_then(spec, probe)).unwrap() == {
        "mkdir": "EACCES", "kill 0": "EPERM", "kill SIGWINCH": "ok"}


@needs_libseccomp
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_ADMIN first needs a root child")
def test_loading_without_nnp_or_sys_admin_is_a_clear_error() -> None:
    def drop_then_load() -> str:
        capabilities.capset([], [], [])
        try:
            seccomp.load(seccomp.default_oci([]))
        except seccomp.SeccompError as e:
            return str(e)
        return "loaded"

    assert "needs no_new_privileges or CAP_SYS_ADMIN" in run_in_child(drop_then_load).unwrap()


def test_bad_sections_are_refused() -> None:
    with pytest.raises(seccomp.SeccompError, match="unsupported seccomp action"):
        libseccomp.action("SCMP_ACT_EXPLODE")
    with pytest.raises(seccomp.SeccompError, match="not supported"):
        seccomp.load({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"})


@needs_libseccomp
def test_compiled_programs_are_cached_by_what_shapes_them(tmp_path) -> None:
    spec = seccomp.default_oci(DEFAULT_CAPABILITIES)
    first = seccomp.prepare(spec, str(tmp_path))
    [cached] = list(tmp_path.iterdir())
    assert cached.read_bytes().endswith(b"\n" + first.program)  # after the key it was made for
    again = seccomp.prepare(spec, str(tmp_path))  # read back, libseccomp not asked
    assert again.program == first.program
    wider = seccomp.prepare(seccomp.default_oci([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]),
                            str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 2 and wider.program != first.program

    def load_cached() -> dict:
        capabilities.set_no_new_privileges()
        again.load()
        return _probe()
    assert run_in_child(load_cached).unwrap()["unshare"] == "EPERM"
