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


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint(_ctypes._SimpleCData):
    _type_ = "I"


class c_long(_ctypes._SimpleCData):
    _type_ = "l"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_ushort(_ctypes._SimpleCData):
    _type_ = "H"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


c_uint32 = c_uint


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class _Library:
    """The process's own symbols (dlopen(NULL)): libc is loaded already, no file is opened."""

    def __init__(self) -> None:
        self._handle = _ctypes.dlopen(None, 0)

    def __getattr__(self, name: str) -> _Function:
        function = _Function((name, self))
        setattr(self, name, function)
        return function


libc = _Library()


def buffer(data: bytes):
    """A C char array holding `data` (ctypes.create_string_buffer(data, len(data)))."""
    array = (c_char * len(data))()
    array.raw = data
    return array
