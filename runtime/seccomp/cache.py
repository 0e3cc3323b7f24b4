"""Compiled seccomp programs: prepared before fork, kept between containers, loaded last.

libseccomp turns a profile into BPF slowly (about 12 ms for Docker's, besides
4 ms to add the rules), so the program is compiled once, in the runtime, and
kept in a cache directory under the runtime's root; later containers with
the same profile load the cached program straight into the kernel with
seccomp(2).  This module is that fast path, and it stays lean: the cache key
holds everything that shapes the program (the OCI section, the machine,
libseccomp's version and kernel API level, read through runtime.libc rather
than ctypes), a file is named by the key's CRC and holds the key itself
before the program, so a hit is confirmed by comparing keys, with no
cryptographic hash (hashlib's import costs more than the rest).  Only a miss
imports .libseccomp to compile.
"""

from __future__ import annotations

import errno
import os

from runtime import jsonio
from runtime import syscalls as sc

from .profile import SeccompError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# OCI linux.seccomp.flags as seccomp(2) takes them
_KERNEL_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
                 "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}


class Filter:
    """A filter compiled to its BPF program, not yet loaded.

    Built in the runtime before fork: the child, after pivot_root, can no
    longer open libseccomp.so or import Python modules from the host, but it
    inherits the program and only has to hand it to the kernel.
    """

    def __init__(self, program: bytes, flags: int) -> None:
        self.program = program
        self.flags = flags

    def load(self) -> None:
        """Install the filter on the calling process; the last step before exec.

        Needs no_new_privileges or CAP_SYS_ADMIN; without either the error says so.
        """
        try:
            sc.seccomp_set_mode_filter(self.program, self.flags)
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EPERM):
                raise SeccompError("loading the seccomp filter needs no_new_privileges or "
                                   "CAP_SYS_ADMIN") from None
            raise SeccompError(f"seccomp: {err.strerror}") from None


def prepare(spec: Mapping[str, Any] | None, cache_dir: str | None = None) -> Filter | None:
    """Compile the OCI linux.seccomp `spec` (None: no filter), checking it fully;
    ``cache_dir`` keeps compiled programs for the next container with the same spec."""
    if not spec:
        return None
    actions = {rule.get("action") for rule in spec.get("syscalls") or []}
    if spec.get("listenerPath") or "SCMP_ACT_NOTIFY" in actions:
        raise SeccompError("seccomp user notification (SCMP_ACT_NOTIFY, listenerPath) "
                           "is not supported")
    flags = 0
    for flag in spec.get("flags") or []:
        if flag not in _KERNEL_FLAGS:
            raise SeccompError(f"unsupported seccomp flag {flag!r}")
        flags |= _KERNEL_FLAGS[flag]
    if not cache_dir:
        return Filter(_compile(spec), flags)
    key = cache_key(spec)
    path = os.path.join(cache_dir, f"{_crc(key):08x}.bpf")
    program = _read(path, key)
    if program is None:
        program = _compile(spec)
        _store(path, key, program)
    return Filter(program, flags)


def cache_key(spec: Mapping[str, Any]) -> bytes:
    """Everything that shapes the program, as one line of canonical JSON."""
    return jsonio.dumps([spec, os.uname().machine, *_library_version()],
                        sort_keys=True).encode()


def _library_version() -> tuple[int, int, int, int]:
    """libseccomp's (major, minor, micro) and the kernel API level it found."""
    from runtime.libc import Library, c_uint, c_void_p

    try:
        lib = Library("libseccomp.so.2")
    except OSError as e:
        raise SeccompError(f"libseccomp is not installed (libseccomp.so.2: {e})") from None
    lib.seccomp_version.restype = c_void_p  # const struct scmp_version * (three unsigned)
    major, minor, micro = (c_uint * 3).from_address(lib.seccomp_version())
    return major, minor, micro, lib.seccomp_api_get()


def _crc(data: bytes) -> int:
    from zlib import crc32

    return crc32(data)


def _compile(spec: Mapping[str, Any]) -> bytes:
    from .libseccomp import compile_program

    return compile_program(spec)


def _read(path: str, key: bytes) -> bytes | None:
    """The cached program for `key`, or None (absent, or another key with the same CRC)."""
    try:
        with open(path, "rb") as f:
            stored = f.read()
    except FileNotFoundError:
        return None
    head, _, program = stored.partition(b"\n")
    return program if head == key else None


def _store(path: str, key: bytes, program: bytes) -> None:
    """Publish a compiled program atomically; a cache that cannot be written is only slower."""
    directory = os.path.dirname(path)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600),
                  "wb") as f:
            f.write(key + b"\n" + program)
        os.rename(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
