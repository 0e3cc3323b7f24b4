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

# shared with the runtime's own run -t, and re-exported for the client's modules
from runtime.console import console_size, copy_size, raw_mode  # noqa: F401


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
        from runtime.console import receive_master

        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        return receive_master(conn.detach())

    def close(self) -> None:
        self.sock.close()
        for path in (self.path, self.directory):
            try:
                (os.rmdir if path == self.directory else os.unlink)(path)
            except OSError:
                pass
