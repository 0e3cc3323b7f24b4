"""Worker processes sharing one port: started, restarted when they crash, stopped together.

The parent binds every worker's socket itself (SO_REUSEPORT, so the kernel
spreads connections over them), which turns a port in use into one clear
error before any worker exists.  It then only waits for signals:

- SIGTERM or SIGINT: pass SIGTERM on, let the workers drain, kill whatever
  outlives the grace period, exit 0 if every worker stopped cleanly;
- SIGCHLD: a worker that dies while serving is replaced with a fresh
  socket; one that dies before it said it was ready (bad storage, say)
  would only do so again, so then everything stops and the exit status is 1.

Signals are blocked and taken with ``sigwaitinfo``, so none is lost between
checks.  Workers ask the kernel for SIGKILL when the parent dies: a killed
supervisor is a crashed server, and an orphan left draining would go on
serving the port and holding upload locks that a restarted server waits for.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from functools import partial

log = logging.getLogger(__name__)

WATCHED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
KILL_MARGIN = 5.0
"""Seconds beyond the drain timeout before workers that still run are killed."""

_PR_SET_PDEATHSIG = 1

Work = Callable[[int, socket.socket, Callable[[], None]], int]
"""A worker's body: its index, its listening socket and a ``ready()`` to call once it
serves; its exit status out."""


def _die_with_parent(parent: int) -> None:
    """Be killed with the supervisor (``parent``), even if it died before this call."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG): %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


class Supervisor:
    def __init__(self, sockets: list[socket.socket], work: Work,
                 reopen: Callable[[], socket.socket], drain_timeout: float) -> None:
        self.sockets = sockets
        self.work = work
        self.reopen = reopen
        self.drain_timeout = drain_timeout
        self.running: dict[int, int] = {}  # pid -> worker index
        self.ready = mmap.mmap(-1, len(sockets))  # a byte per worker, shared across fork
        self.deadline: float | None = None  # set once stopping
        self.failed = False

    def run(self) -> int:
        """Serve with one worker per socket until told to stop; the exit status."""
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        try:
            for index, sock in enumerate(self.sockets):
                self._spawn(index, sock)
            while self.running:
                self._handle(self._next_signal())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
        return 1 if self.failed else 0

    def _spawn(self, index: int, sock: socket.socket) -> None:
        sys.stdout.flush()  # or buffered output would be written by every child too
        sys.stderr.flush()
        parent = os.getpid()
        self.ready[index] = 0
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                _die_with_parent(parent)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
                status = self.work(index, sock, partial(self.ready.__setitem__, index, 1))
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                logging.shutdown()
                os._exit(status)
        sock.close()  # the worker's now; a copy here would keep queueing connections nobody takes
        self.running[pid] = index

    def _next_signal(self) -> int | None:
        """The next watched signal, or None once the stop deadline has passed."""
        if self.deadline is None:
            return signal.sigwaitinfo(WATCHED).si_signo
        info = signal.sigtimedwait(WATCHED, max(0.0, self.deadline - time.monotonic()))
        return info.si_signo if info else None

    def _handle(self, signo: int | None) -> None:
        if signo is None:
            log.error("workers still running %.0fs after SIGTERM: killing them",
                      self.drain_timeout + KILL_MARGIN)
            self._signal_all(signal.SIGKILL)
            self.failed = True
            self.deadline = None
        elif signo == signal.SIGCHLD:
            self._reap()
        elif self.deadline is None:
            self._stop()

    def _stop(self) -> None:
        self.deadline = time.monotonic() + self.drain_timeout + KILL_MARGIN
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signo: int) -> None:
        for pid in self.running:
            os.kill(pid, signo)

    def _reap(self) -> None:
        while self.running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            index = self.running.pop(pid, None)
            if index is not None:
                self._exited(pid, index, os.waitstatus_to_exitcode(status))

    def _exited(self, pid: int, index: int, code: int) -> None:
        if self.deadline is not None:
            self.failed |= code != 0
            return
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if not self.ready[index]:
            log.error("worker %d (pid %d) %s while starting: stopping", index, pid, how)
            self.failed = True
            self._stop()
            return
        log.error("worker %d (pid %d) %s: starting a new one", index, pid, how)
        try:
            sock = self.reopen()
        except OSError as err:
            log.error("cannot listen for a new worker %d: %s: stopping", index, err)
            self.failed = True
            self._stop()
            return
        self._spawn(index, sock)
