"""Dockyard served for real on 127.0.0.1 for tests that talk HTTP from outside the app.

The conformance port and the skopeo interoperability tests need a registry at a
base URL, shared by many tests and reachable by other processes (skopeo). The
app runs on its own event loop in a background thread: tests then need no
particular event-loop scope, and skopeo sees an ordinary HTTP server.

Prefer the ``python -m registry serve CONFIG`` subprocess fixture once it exists;
this is the stand-in until then (same app, same storage driver, no config file).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from registry.app import create_app
from registry.model import Registry
from registry.storage.filesystem import FileSystemDriver


class ThreadedRegistry:
    """Dockyard over filesystem storage in ``root``, on a free port, in a background thread."""

    def __init__(self, root: Path, *, delete_enabled: bool = True) -> None:
        self.root = root
        self.delete_enabled = delete_enabled
        self.url = ""
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="dockyard-test-server",
                                        daemon=True)

    def __enter__(self) -> "ThreadedRegistry":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("Dockyard test server did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError("Dockyard test server failed to start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported to the starting thread, not lost in this one
            self._failure = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        driver = FileSystemDriver(str(self.root))
        runner = web.AppRunner(create_app(Registry(driver, delete_enabled=self.delete_enabled)),
                               access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await driver.close()
