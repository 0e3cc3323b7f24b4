"""The C library's functions and the few C types the runtime passes them, without ctypes.

The runtime calls libc for what Python 3.11's os module lacks (unshare,
setns, mount, pivot_root, prctl, capset, seccomp, bpf).  `import ctypes`
defines some forty types and a callback at import, about 3 ms of CPU on
every container start; everything needed here is in the `_ctypes` module
ctypes is built on, and costs a quarter of that.  Calls behave as through
`ctypes.CDLL(None, use_errno=True)`: int return, C's default argument
conversions (int, bytes as char *, None as NULL), errno saved for
`get_errno`.
"""

from __future__ import annotations

import _ctypes

Structure = _ctypes.Structure
addressof = _ctypes.addressof
byref = _ctypes.byref
get_errno = _ctypes.get_errno


def _simple_type(name: str, code: str) -> type:
    """A C scalar type as ctypes defines it: a _SimpleCData subclass with a struct code."""
    return type(name, (_ctypes._SimpleCData,), {"_type_": code})


c_int = _simple_type("c_int", "i")
c_uint = c_uint32 = _simple_type("c_uint", "I")
c_long = _simple_type("c_long", "l")
c_ulong = _simple_type("c_ulong", "L")
c_ushort = _simple_type("c_ushort", "H")
c_void_p = _simple_type("c_void_p", "P")
c_char = _simple_type("c_char", "c")


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Library:
    """A shared library's functions by attribute; by default the process's own symbols
    (dlopen(NULL): libc is loaded already, no file is opened).  A function's
    `restype` may be changed as with ctypes."""

    def __init__(self, name: str | None = None) -> None:
        self._handle = _ctypes.dlopen(name, 0)

    def __getattr__(self, name: str) -> _Function:
        function = _Function((name, self))
        setattr(self, name, function)
        return function


libc = Library()


def buffer(data: bytes):
    """A C char array holding `data` (ctypes.create_string_buffer(data, len(data)))."""
    array = (c_char * len(data))()
    array.raw = data
    return array
