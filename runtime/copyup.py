"""The "tmpcopyup" mount option (runc's extension, which podman passes for
--read-only and --tmpfs): a new tmpfs starts with a copy of the directory it
covers, so /run or /tmp in a read-only container still holds what the image
put there.

The copy reads the covered directory through descriptors opened beneath an
fd taken before the mount, never through paths: the image's tree is not
trusted, and a path through one of its symlinks could lead anywhere on the
host.  Symlinks are copied as symlinks, device nodes and fifos recreated;
owners, modes and times are kept (owners before modes: chown clears set-id
bits).
"""

from __future__ import annotations

import os
import stat

_OPEN_BENEATH = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def copy_tree(source_fd: int, dest: str) -> None:
    """Copy what directory `source_fd` holds into the existing directory `dest`."""
    with os.scandir(source_fd) as entries:
        for entry in entries:
            _copy_entry(source_fd, entry.name, entry.stat(follow_symlinks=False),
                        os.path.join(dest, entry.name))


def _copy_entry(parent_fd: int, name: str, st: os.stat_result, target: str) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(target, 0o700)
        fd = os.open(name, _OPEN_BENEATH | os.O_DIRECTORY, dir_fd=parent_fd)
        try:
            copy_tree(fd, target)
        finally:
            os.close(fd)
    elif stat.S_ISREG(mode):
        _copy_file(parent_fd, name, target)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=parent_fd), target)
    else:  # character or block device, fifo, socket
        os.mknod(target, mode, st.st_rdev)
    os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(mode):  # a symlink's own mode means nothing on Linux
        os.chmod(target, stat.S_IMODE(mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(parent_fd: int, name: str, target: str) -> None:
    source = os.open(name, _OPEN_BENEATH, dir_fd=parent_fd)
    try:
        dest = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            while os.sendfile(dest, source, None, 1 << 30):
                pass
        finally:
            os.close(dest)
    finally:
        os.close(source)
