"""Pseudo-terminals for ``-t``: the runtime's console socket, raw mode, window size.

The runtime opens the pty inside the container (in its devpts) and sends the
master end over a Unix socket we listen on (runc's ``--console-socket``
contract).  The client's own terminal goes into raw mode while attached, so
keys like Ctrl-C reach the container's terminal as bytes and the container's
line discipline turns them into signals; the window size is copied to the
container's terminal at start and on every SIGWINCH.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable


class ConsoleSocket:
    """A listening socket in a private temporary directory (short enough for sun_path)."""

    def __init__(self) -> None:
        import socket
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="dockyard-console-")
        self.path = os.path.join(self.directory, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)

    def receive_master(self, timeout: float = 10.0) -> int:
        """The pty master fd the runtime sent (it has already connected and sent it by now)."""
        import socket

        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise OSError("the runtime sent no terminal over the console socket")
        os.set_inheritable(fds[0], False)
        return fds[0]

    def close(self) -> None:
        self.sock.close()
        for path in (self.path, self.directory):
            try:
                (os.rmdir if path == self.directory else os.unlink)(path)
            except OSError:
                pass


def console_size() -> dict | None:
    """Our terminal's size as an OCI process.consoleSize (None without a terminal)."""
    try:
        columns, lines = os.get_terminal_size(0)
    except OSError:
        return None
    return {"height": lines, "width": columns}


def copy_size(source: int, target: int) -> None:
    """Give terminal ``target`` the window size of terminal ``source`` (if it is one)."""
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def raw_mode(fd: int) -> Callable[[], None]:
    """Put terminal ``fd`` into raw mode; returns what restores it (a no-op if not a terminal)."""
    import termios
    import tty

    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        return lambda: None
    tty.setraw(fd, termios.TCSANOW)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
