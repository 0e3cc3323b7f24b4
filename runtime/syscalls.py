"""Bindings for the Linux calls Python 3.11's os module lacks (through runtime.libc).

The runtime needs unshare, setns, mount, umount2, pivot_root, sethostname and
prctl; os gains some of them only in 3.12.  Each wrapper raises OSError with the
errno and the call's arguments, so a failure inside the container's set-up
reads as "mount('proc', '/proc'): Operation not permitted" rather than a bare
errno.
"""

from __future__ import annotations

import os

from runtime.libc import Structure, addressof, buffer, byref, c_uint, c_ulong, c_ushort, c_void_p
from runtime.libc import get_errno
from runtime.libc import libc as _libc


CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000

MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "ppc64le": 358, "s390x": 348}
_SECCOMP_SET_MODE_FILTER = 1


class _SockFprog(Structure):
    _fields_ = [("len", c_ushort), ("filter", c_void_p)]


def _check(ret: int, call: str) -> None:
    if ret < 0:
        err = get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")


def _enc(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags)."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace that fd (an open /proc/<pid>/ns/* file) refers to."""
    _check(_libc.setns(fd, nstype), f"setns({nstype:#x})")


def mount(source: str | None, target: str, fstype: str | None = None,
          flags: int = 0, data: str | None = None) -> None:
    """mount(2); data is the filesystem's option string."""
    _check(_libc.mount(_enc(source), _enc(target), _enc(fstype), c_ulong(flags), _enc(data)),
           f"mount({source!r}, {target!r}, {fstype!r})")


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_enc(target), flags), f"umount({target!r})")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2): glibc has no wrapper, so it goes through syscall(2)."""
    number = _SYS_PIVOT_ROOT[os.uname().machine]
    _check(_libc.syscall(number, _enc(new_root), _enc(put_old)), f"pivot_root({new_root!r})")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)), f"setdomainname({name!r})")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    ret = _libc.prctl(option, c_ulong(arg2), c_ulong(arg3), c_ulong(arg4), c_ulong(arg5))
    _check(ret, f"prctl({option})")
    return ret


def seccomp_set_mode_filter(program: bytes, flags: int = 0) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER): install a BPF program (8-byte sock_filter entries)."""
    code = buffer(program)
    fprog = _SockFprog(len(program) // 8, addressof(code))
    number = _SYS_SECCOMP[os.uname().machine]
    _check(_libc.syscall(number, _SECCOMP_SET_MODE_FILTER, c_uint(flags), byref(fprog)),
           "seccomp(SECCOMP_SET_MODE_FILTER)")
