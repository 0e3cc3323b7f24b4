"""Network namespaces made ahead of the container: ``--network none`` (and, later, bridges).

A runtime asked for a new network namespace leaves its loopback down, and
Docker's ``none`` has ``lo`` up.  So the client makes the namespace itself,
brings ``lo`` up, and pins it with a bind mount of its nsfs file; the bundle
names that path, which crun and runc join like dockyard's runtime does, and
networking code can configure the same namespace before the container starts.
The bind mount keeps the namespace alive until ``remove``, whatever happens to
the processes in it.
"""

from __future__ import annotations

import os


def create(path: str) -> None:
    """A new network namespace with ``lo`` up, pinned at ``path`` (a file it creates)."""
    from runtime import syscalls as sc

    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.unshare(sc.CLONE_NEWNET)  # this thread only: namespaces are per task
        try:
            loopback_up()
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
            sc.mount("/proc/thread-self/ns/net", path, None, sc.MS_BIND)
        finally:
            sc.setns(own, sc.CLONE_NEWNET)
    finally:
        os.close(own)


def remove(path: str) -> None:
    """Unpin and delete; the kernel frees the namespace once nothing else uses it."""
    from .rootfs import unmount

    unmount(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def loopback_up() -> None:
    """SIOCSIFFLAGS IFF_UP on ``lo`` in the calling thread's network namespace."""
    import _socket  # the C module: the socket module's enums cost milliseconds at import
    import fcntl
    import sys

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    name = b"lo".ljust(16, b"\0")  # struct ifreq: the name, then short flags (no struct module)
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        reply = fcntl.ioctl(sock, siocgifflags, name + bytes(16))
        flags = int.from_bytes(reply[16:18], sys.byteorder) | iff_up
        fcntl.ioctl(sock, siocsifflags, name + flags.to_bytes(2, sys.byteorder) + bytes(14))
    finally:
        sock.close()
