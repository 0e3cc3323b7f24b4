"""A terminal for `dockyard-runtime run` without --console-socket, as runc gives one.

With process.terminal set, the init opens a pty in the container's devpts
and sends the master end over the console socket.  A caller that names no
socket (a person typing `dockyard-runtime run` in a shell) gets runc's
behaviour instead: the runtime takes the master itself, over a socket pair,
puts its own terminal into raw mode, copies bytes both ways and the window
size on every SIGWINCH, until the container's side of the pty is closed.
The terminal helpers are shared with the client's `-t`.
"""

from __future__ import annotations

import _signal as signal  # the signal module's ints, without its enum import (start-up time)
import os

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable


def console_size(fd: int = 0) -> dict | None:
    """Terminal `fd`'s size as an OCI process.consoleSize (None if it is no terminal)."""
    try:
        columns, lines = os.get_terminal_size(fd)
    except OSError:
        return None
    return {"height": lines, "width": columns}


def copy_size(source: int, target: int) -> None:
    """Give terminal `target` the window size of terminal `source` (if it is one)."""
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def raw_mode(fd: int) -> Callable[[], None]:
    """Put terminal `fd` into raw mode; returns what restores it (a no-op if not a terminal)."""
    import termios
    import tty

    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        return lambda: None
    tty.setraw(fd, termios.TCSANOW)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def socket_pair() -> tuple[int, int]:
    """(our end, the init's end) of a console socket that needs no path."""
    import socket

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ours.detach(), theirs.detach()


def receive_master(sock: int) -> int:
    """The pty master the init sent over our end of the socket pair (which is closed)."""
    import socket

    with socket.socket(fileno=sock) as s:
        _, fds, _, _ = socket.recv_fds(s, 4096, 1)
    if not fds:
        raise OSError("the container's init sent no terminal")
    os.set_inheritable(fds[0], False)
    return fds[0]


def relay(master: int, stdin: int = 0, stdout: int = 1) -> None:
    """Copy stdin to the pty and the pty to stdout until the container closes its side."""
    import select

    restore = raw_mode(stdin)
    copy_size(stdin, master)
    previous = signal.signal(signal.SIGWINCH, lambda *_: copy_size(stdin, master))
    watched = [master, stdin]
    try:
        while True:
            try:
                ready, _, _ = select.select(watched, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the pty's other side has closed it
                    data = b""
                if not data:
                    return
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(master, data)
                else:  # our input ended; the container's output still comes
                    watched.remove(stdin)
    finally:
        signal.signal(signal.SIGWINCH, previous)
        restore()
        os.close(master)
