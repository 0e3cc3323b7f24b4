"""Serving the registry: the listening sockets, TLS, the worker processes, graceful shutdown.

One worker (the default) serves in this process.  With ``dockyard.workers``
above one, a supervisor forks that many, each with its own SO_REUSEPORT
socket on the same port; storage is the only state they share, which the
model is built for.  Worker 0 also purges stale upload sessions, so that
runs once however many workers there are.

SIGTERM or SIGINT stops a worker gracefully: it stops accepting, gives the
requests in flight ``http.draintimeout`` to finish, then closes the storage
driver and exits 0.  The storage layer makes content visible only when it is
complete, so a request cut off at the deadline leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from .app import create_app
from .auth import setup as auth_setup
from .auth.middleware import AccessControl
from .config import Config, ConfigError, HTTPConfig, TLSConfig, UploadPurgingConfig
from .logging_setup import ACCESS_LOGGER, STARTUP_LOGGER, AccessLogger, configure
from .model import Registry
from .model.uploads import purge_stale
from .proxy import ProxyRegistry
from .proxy import install as install_proxy
from .storage import create_driver
from .storage.driver import StorageDriver
from .supervisor import Supervisor, Work

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

try:
    import uvloop
except ImportError:  # optional: not built for every platform
    uvloop = None

log = logging.getLogger(__name__)
startup = logging.getLogger(STARTUP_LOGGER)

BACKLOG = 1024
"""Connections the kernel queues per worker while it is busy; benchmarks open dozens at once."""

READ_BUFFER = 1 << 20
"""Request body bytes buffered per connection before aiohttp stops reading the socket (it
stops at twice this).  aiohttp's 64 KiB stalled uploads while a batch was being written."""

STRAGGLER_TIMEOUT = 1.0
"""Seconds for requests that arrived on open connections after the drain, before they are cut."""

_TLS_VERSIONS = {"tls1.0": ssl.TLSVersion.TLSv1, "tls1.1": ssl.TLSVersion.TLSv1_1,
                 "tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class Listener:
    """A resolved address, so that every worker, restarted ones too, binds the very same one."""

    family: socket.AddressFamily
    host: str
    port: int

    @classmethod
    def resolve(cls, http: HTTPConfig) -> "Listener":
        """``http.addr`` made concrete: no host is every interface (IPv6 and IPv4 where possible)."""
        if http.host is None:
            if socket.has_dualstack_ipv6():
                return cls(socket.AF_INET6, "::", http.port)
            return cls(socket.AF_INET, "0.0.0.0", http.port)
        try:
            found = socket.getaddrinfo(http.host, http.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except socket.gaierror as err:
            raise ConfigError(f"http.addr: cannot resolve {http.host}: {err.strerror}") from None
        # Like Go's listener (and so distribution), take IPv4 when a name has both.
        family, *_, sockaddr = min(found, key=lambda info: info[0] != socket.AF_INET)
        return cls(family, sockaddr[0], http.port)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if self.family == socket.AF_INET6 else self.host
        return f"{host}:{self.port}"

    def _bind(self, reuse_port: bool) -> socket.socket:
        return socket.create_server((self.host, self.port), family=self.family, backlog=BACKLOG,
                                    reuse_port=reuse_port, dualstack_ipv6=self.host == "::")

    def open(self) -> socket.socket:
        """A listening socket that shares the port with the other workers'."""
        return self._bind(reuse_port=True)


def bind(http: HTTPConfig, count: int) -> tuple[Listener, list[socket.socket]]:
    """``count`` sockets sharing the port ``http.addr`` names; ConfigError if it cannot be had.

    A probe without SO_REUSEPORT goes first: it fails if anything listens there
    already (SO_REUSEPORT alone would let the workers join a server of the same
    user without a word) and pins port 0 to the port the kernel chose.
    """
    listener = Listener.resolve(http)
    try:
        with listener._bind(reuse_port=False) as probe:
            listener = replace(listener, port=probe.getsockname()[1])
        return listener, [listener.open() for _ in range(count)]
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)  # not Python's elaboration
        raise ConfigError(f"http.addr: cannot listen on {listener.display}: {reason}") from None


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """The server's TLS context; ConfigError naming the key when a file is missing or unusable."""
    for key, path in (("certificate", tls.certificate), ("key", tls.key), *(
            ("clientcas", ca) for ca in tls.client_cas)):
        if not os.path.isfile(path):
            raise ConfigError(f"http.tls.{key}: no such file: {path}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _TLS_VERSIONS[tls.minimum_version]
    try:
        context.load_cert_chain(tls.certificate, tls.key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"http.tls.certificate: cannot use {tls.certificate} with key "
                          f"{tls.key}: {getattr(err, 'reason', None) or err}") from None
    for ca in tls.client_cas:
        try:
            context.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"http.tls.clientcas: cannot use {ca}: "
                              f"{getattr(err, 'reason', None) or err}") from None
    if tls.client_cas:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def run(config: Config) -> int:
    """Serve until SIGTERM or SIGINT; the exit status (0 after a clean shutdown)."""
    configure(config.log)
    for warning in config.warnings:
        startup.warning("config: %s", warning)
    context = ssl_context(config.http.tls) if config.http.tls else None
    access = auth_setup.build(config.auth)  # before forking: every worker holds the same keys
    if access and not context:
        startup.warning("authentication without TLS: passwords and tokens cross the network "
                        "in clear; set http.tls.certificate and key (dockyard-registry certs)")
    workers = config.dockyard.workers
    listener, sockets = bind(config.http, workers)
    scheme = "https" if context else "http"
    startup.info("dockyard-registry listening on %s://%s (%d worker%s, storage %s)", scheme,
                 listener.display, workers, "" if workers == 1 else "s",
                 config.storage.filesystem.root_directory)

    def work(index: int, sock: socket.socket, ready: Callable[[], None]) -> int:
        _run_loop(_serve(config, sock, context, access, ready, purge_uploads=index == 0))
        return 0

    if workers == 1:
        return work(0, sockets[0], lambda: None)
    return Supervisor(sockets, _reporting_config_errors(work), listener.open,
                      config.http.drain_timeout).run()


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    (uvloop.run if uvloop else asyncio.run)(main)


def _reporting_config_errors(work: Work) -> Work:
    """A worker that logs a ConfigError as one line, as the command does for a single process."""
    def guarded(index: int, sock: socket.socket, ready: Callable[[], None]) -> int:
        try:
            return work(index, sock, ready)
        except ConfigError as err:
            log.error("%s", err)
            return 1
    return guarded


class _InFlight:
    """The requests being served, so that a stopping worker can wait until each is answered.

    aiohttp's own graceful shutdown stops reading from every connection first,
    so an upload whose body is still arriving would hang until the timeout.
    Instead the worker stops listening, waits here, and only then lets aiohttp
    close the connections.  aiohttp runs each request in a task of its own
    that ends once the response is sent, so the tasks are what is tracked.
    """

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        response = await handler(request)
        if self.stopping:
            response.force_close()  # keep-alive clients reconnect, to whoever serves then
        return response

    async def drain(self, timeout: float) -> None:
        """Wait until no request is in flight, or ``timeout`` seconds have passed."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.tasks and loop.time() < deadline:
            await asyncio.wait(set(self.tasks), timeout=deadline - loop.time())


def _stop_event() -> asyncio.Event:
    """Set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signo in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signo, stop.set)
    return stop


async def _serve(config: Config, sock: socket.socket, context: ssl.SSLContext | None,
                 access: AccessControl | None, ready: Callable[[], None],
                 purge_uploads: bool) -> None:
    stop = _stop_event()
    driver = create_driver(config.storage)
    try:
        in_flight = _InFlight()
        delete_enabled = config.storage.delete_enabled
        registry = (ProxyRegistry(driver, config.proxy, delete_enabled=delete_enabled)
                    if config.proxy.enabled else Registry(driver, delete_enabled=delete_enabled))
        app = create_app(registry, middlewares=(in_flight.middleware,), access=access)
        if isinstance(registry, ProxyRegistry):
            install_proxy(app, registry, evict=purge_uploads)  # eviction in one worker only
        if config.http.headers:
            app.on_response_prepare.append(_header_adder(config.http.headers))
        access_log = logging.getLogger(ACCESS_LOGGER) if config.log.access_log else None
        runner = web.AppRunner(app, handle_signals=False, access_log=access_log,
                               access_log_class=AccessLogger,
                               shutdown_timeout=STRAGGLER_TIMEOUT, read_bufsize=READ_BUFFER)
        await runner.setup()
        try:
            site = web.SockSite(runner, sock, ssl_context=context, backlog=BACKLOG)
            await site.start()
            ready()
            purging = config.storage.upload_purging
            purger = (asyncio.create_task(_purge_uploads(driver, purging))
                      if purge_uploads and purging.enabled else None)
            await stop.wait()
            log.info("stopping: requests in flight get %gs to finish", config.http.drain_timeout)
            if purger:
                purger.cancel()
            await site.stop()
            await in_flight.drain(config.http.drain_timeout)
        finally:
            await runner.cleanup()
    finally:
        await driver.close()
    log.info("stopped")


def _header_adder(headers: Mapping[str, tuple[str, ...]]
                  ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """``http.headers`` on every response, unless the handler set that header itself."""
    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, values in headers.items():
            if name not in response.headers:
                for value in values:
                    response.headers.add(name, value)
    return add_headers


async def _purge_uploads(driver: StorageDriver, purging: UploadPurgingConfig) -> None:
    """Distribution's upload purging: every ``interval``, drop sessions older than ``age``
    (or, in a dry run, log what would be dropped)."""
    while True:
        try:
            purged = await purge_stale(driver, purging.age, dry_run=purging.dry_run)
            if purged:
                log.info("%s %d stale upload session%s",
                         "dry run: would purge" if purging.dry_run else "purged",
                         purged, "" if purged == 1 else "s")
        except Exception:
            log.exception("upload purging failed; next attempt in %gs", purging.interval)
        await asyncio.sleep(purging.interval)
