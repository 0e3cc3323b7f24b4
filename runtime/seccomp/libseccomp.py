"""Compile an OCI linux.seccomp section to a BPF program with libseccomp.

libseccomp (Debian's libseccomp2) does the hard parts: syscall names to
numbers per architecture, multi-architecture filters (x86_64 with its x86
and x32 ABIs), argument comparisons and the BPF program itself.  This module
is a thin ctypes binding of the few calls needed, so there is no Python
dependency to install and nothing to import until a filter is loaded.

Semantics follow runc: syscalls libseccomp does not know are skipped (a
profile names syscalls of newer kernels and other architectures); rules
whose action is the default action are skipped (libseccomp refuses them);
several comparisons on the same argument become separate rules (libseccomp
ANDs a rule's comparisons, and cannot compare one argument twice); and
no_new_privs is set only when the OCI config asks for it (the program is
loaded with seccomp(2), not by libseccomp, which would set it).  Without it,
loading needs CAP_SYS_ADMIN.

libseccomp turns its rules into BPF when a filter is loaded or exported, and
for Docker's profile that takes longer than the rest of a container's start;
.cache keeps the exported program, so this module is imported only on a
cache miss.
"""

from __future__ import annotations

import ctypes
import errno
import os

from .profile import SeccompError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
_OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
              "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# enum scmp_filter_attr
_ATTR_API_SYSRAWRC = 9  # report the kernel's errno rather than ECANCELED (libseccomp >= 2.5)
_NR_SCMP_ERROR = -1


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib: Any = None


def _library() -> Any:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError as e:
            raise SeccompError(f"libseccomp is not installed (libseccomp.so.2: {e})") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_version.restype = ctypes.POINTER(_Version)
        lib.seccomp_api_get.restype = ctypes.c_uint
        _lib = lib
    return _lib


def _check(ret: int, what: str) -> None:
    """libseccomp returns -errno rather than setting errno."""
    if ret < 0:
        raise SeccompError(f"{what}: {os.strerror(-ret)}")


def action(name: str, errno_ret: int | None = None) -> int:
    """An OCI action name (with errnoRet for ERRNO and TRACE) as libseccomp's action value."""
    if name not in _ACTIONS:
        raise SeccompError(f"unsupported seccomp action {name!r}")
    value = _ACTIONS[name]
    if name in _WITH_ERRNO:
        value |= (errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def _comparisons(args: list[Mapping[str, Any]]) -> list[list[_ArgCmp]]:
    """One rule's argument checks, split into several rules where an argument repeats."""
    cmps = []
    for arg in args:
        op = arg.get("op")
        if op not in _OPERATORS:
            raise SeccompError(f"unsupported seccomp comparison {op!r}")
        cmps.append(_ArgCmp(int(arg["index"]), _OPERATORS[op], int(arg.get("value", 0)),
                            int(arg.get("valueTwo", 0))))
    if len({c.arg for c in cmps}) < len(cmps):
        return [[c] for c in cmps]
    return [cmps]


def _build(lib: Any, ctx: int, spec: Mapping[str, Any]) -> None:
    default = action(spec["defaultAction"], spec.get("defaultErrnoRet"))
    lib.seccomp_attr_set(ctx, _ATTR_API_SYSRAWRC, 1)  # older libseccomp: errors stay vaguer
    for arch in spec.get("architectures") or []:
        token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
        if not token:
            raise SeccompError(f"unknown seccomp architecture {arch!r}")
        ret = lib.seccomp_arch_add(ctx, token)
        if ret != -errno.EEXIST:  # the native architecture is in every new filter already
            _check(ret, f"seccomp_arch_add({arch})")
    for rule in spec.get("syscalls") or []:
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue
        for cmps in _comparisons(rule.get("args") or []):
            array = (_ArgCmp * len(cmps))(*cmps) if cmps else None
            for name in rule.get("names") or []:
                number = lib.seccomp_syscall_resolve_name(name.encode())
                if number == _NR_SCMP_ERROR:
                    continue
                _check(lib.seccomp_rule_add_array(ctx, act, number, len(cmps), array),
                       f"seccomp rule for {name}")


def compile_program(spec: Mapping[str, Any]) -> bytes:
    """The BPF program libseccomp makes of `spec`."""
    lib = _library()
    ctx = lib.seccomp_init(action(spec.get("defaultAction") or "", spec.get("defaultErrnoRet")))
    if not ctx:
        raise SeccompError("seccomp_init failed: invalid default action")
    out = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        _build(lib, ctx, spec)
        _check(lib.seccomp_export_bpf(ctx, out), "seccomp_export_bpf")
        return os.pread(out, os.fstat(out).st_size, 0)
    finally:
        os.close(out)
        lib.seccomp_release(ctx)
