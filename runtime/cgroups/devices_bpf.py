"""Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup.

v2 has no devices controller; the kernel instead asks a BPF program attached
to the cgroup whether an open or mknod of a device may go ahead.  Without one
a container holding CAP_MKNOD (in Docker's default set) could create and
open any host device node, so the OCI device list is compiled here into such
a program, as runc and crun do.

The rules keep v1's meaning: they are read in order, the last one that
matches decides, and a device no rule matches is allowed (a fresh v1 cgroup
allows everything; Docker's list starts with "deny all").  An allow rule
matches when it grants every access asked for; a deny rule when it forbids
any of them.  The program checks the rules last to first and returns at the
first match.  It is attached without BPF_F_ALLOW_MULTI, so attaching again
(a later update) replaces the program instead of adding to it.
"""

from __future__ import annotations

import os
import struct

from .base import CgroupError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .resources import DeviceRule

_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6

_DEVICE_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# The eBPF opcodes the program uses.
_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND_K, _RSH_K, _MOV_X = 0x54, 0x74, 0xBC  # 32-bit ALU
_MOV64_K = 0xB7
_JNE_K, _JEQ_K = 0x55, 0x15
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def _mask(access: str) -> int:
    return sum(_ACCESS[c] for c in set(access))


def _rule_block(rule: DeviceRule) -> list[tuple[int, int, int, int]]:
    """One rule as (code, dst, src, imm) instructions; jumps skip the rest of the block.

    Registers: r2 device type, r3 requested access, r4 major, r5 minor.
    """
    checks: list[tuple[int, int, int, int]] = []
    if rule.type != "a":
        checks.append((_JNE_K, 2, 0, _DEVICE_TYPE[rule.type]))
    granted = _mask(rule.access)
    if granted != 7:  # "rwm" matches any request, so needs no check
        if rule.allow:  # all of the requested access must be granted
            checks += [(_MOV_X, 1, 3, 0), (_AND_K, 1, 0, ~granted & 7), (_JNE_K, 1, 0, 0)]
        else:  # any forbidden access denies
            checks += [(_MOV_X, 1, 3, 0), (_AND_K, 1, 0, granted), (_JEQ_K, 1, 0, 0)]
    if rule.major is not None:
        checks.append((_JNE_K, 4, 0, rule.major))
    if rule.minor is not None:
        checks.append((_JNE_K, 5, 0, rule.minor))
    return checks + [(_MOV64_K, 0, 0, int(rule.allow)), (_EXIT, 0, 0, 0)]


def compile_rules(rules: list[DeviceRule]) -> bytes:
    """The program for `rules`: prologue, one block per rule from the last, default allow."""
    program = [_insn(_LDX_W, 2, 1, 0), _insn(_AND_K, 2, imm=0xFFFF),
               _insn(_LDX_W, 3, 1, 0), _insn(_RSH_K, 3, imm=16),
               _insn(_LDX_W, 4, 1, 4), _insn(_LDX_W, 5, 1, 8)]
    for rule in reversed(rules):
        block = _rule_block(rule)
        for index, (code, dst, src, imm) in enumerate(block):
            jump = code in (_JNE_K, _JEQ_K)
            program.append(_insn(code, dst, src, len(block) - index - 1 if jump else 0, imm))
        if rule.type == "a" and rule.major is None and rule.minor is None and _mask(rule.access) == 7:
            return b"".join(program)  # matches everything: earlier rules can never decide
    return b"".join(program + [_insn(_MOV64_K, 0, imm=1), _insn(_EXIT)])


def _bpf(command: int, attr: bytes) -> int:
    from runtime.libc import buffer, c_int, c_long, c_uint, get_errno, libc

    number = _BPF_SYSCALL.get(os.uname().machine)
    if number is None:
        raise CgroupError(f"device rules on cgroup v2 are not supported on {os.uname().machine}")
    ret = libc.syscall(c_long(number), c_int(command), buffer(attr), c_uint(len(attr)))
    if ret < 0:
        raise OSError(get_errno(), os.strerror(get_errno()))
    return ret


def attach(cgroup_dir: str, rules: list[DeviceRule]) -> None:
    """Load the program for `rules` and attach it to the v2 cgroup at `cgroup_dir`."""
    from runtime.libc import addressof, buffer

    code = compile_rules(rules)
    program = buffer(code)
    license = buffer(b"Apache-2.0\0")
    load = struct.pack("<IIQQIIQII", _BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                       addressof(program), addressof(license), 0, 0, 0, 0, 0)
    try:
        prog_fd = _bpf(_BPF_PROG_LOAD, load)
    except OSError as e:
        raise CgroupError(f"cannot load the device filter for {cgroup_dir}: {e.strerror}") from None
    try:
        cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            attr = struct.pack("<IIIII", cgroup_fd, prog_fd, _BPF_CGROUP_DEVICE, 0, 0)
            _bpf(_BPF_PROG_ATTACH, attr)
        except OSError as e:
            raise CgroupError(f"cannot attach the device filter to {cgroup_dir}: "
                              f"{e.strerror}") from None
        finally:
            os.close(cgroup_fd)
    finally:
        os.close(prog_fd)
