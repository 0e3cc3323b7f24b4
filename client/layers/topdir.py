"""Asking ext4 to place each unpacked layer in block groups of its own (``chattr +T``).

ext4 places a new directory near its parent's block group, and a new file in
its directory's group.  Without a journal, it also skips, one by one, every
free inode of that group deleted in the last minutes (one to six, longer while
its inode-table block is dirty), so creating files where many were recently
deleted costs hundreds of microseconds each; a layer of a few thousand files
then takes seconds of kernel time to unpack.  A
directory marked as the top of directory hierarchies (``FS_TOPDIR_FL``, what
``chattr +T`` sets) has its subdirectories spread by the Orlov allocator to
groups with many free inodes and few directories instead, so each layer's
files are created in uncrowded groups: on a machine that deletes many trees,
15 to 25 times less kernel time per file.

Filesystems other than ext2/3/4 have no such flag; there this does nothing.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

# <linux/fs.h>: _IOR('f', 1, long) and _IOW('f', 2, long); the kernel reads and writes an int.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
FS_TOPDIR_FL = 0x00020000


def mark_top_directory(path: Path) -> bool:
    """Set ``FS_TOPDIR_FL`` on the directory ``path``; False where the filesystem has none."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        buffer = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buffer)
        flags = struct.unpack_from("=i", buffer)[0]
        if not flags & FS_TOPDIR_FL:
            struct.pack_into("=i", buffer, 0, flags | FS_TOPDIR_FL)
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, buffer)
        return True
    except OSError:  # ENOTTY, EOPNOTSUPP, EINVAL: no such flags here; EPERM: not ours
        return False
    finally:
        os.close(fd)
