"""Docker Hub on loopback, for pull-through cache tests: Dockyard itself with Hub's habits.

- token auth whose realm is a server of its own (as auth.docker.io is to
  registry-1.docker.io), service ``registry.docker.io``: anonymous pulls of
  ``library/*``, ``private/*`` for the ``ACCOUNT`` only;
- official images under ``library/``;
- ``RateLimit-Limit``/``RateLimit-Remaining`` on manifest GETs and ``429
  TOOMANYREQUESTS`` once ``pull_limit`` of them were answered (HEAD is free,
  as on Hub);
- every request recorded with its status (``count``), so tests can tell what
  reached upstream;
- faults on demand: ``truncate`` (send half a blob and hang up), ``gate`` (send
  half of every blob, the rest once the event is set), ``stop`` and ``start``
  (the same port again).

    hub = FakeHub(tmp_path)
    await hub.start()
    digest = await hub.add_image("library/busybox", "latest", seed="a")
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bench.common import LOOPBACK, free_port
from ocispec import mediatypes as mt
from ocispec.digest import Digest
from registry.app import create_app
from registry.auth import setup as auth_setup
from registry.auth.passwords import PasswordFile
from registry.auth.rules import Rule
from registry.config import AuthConfig, IssuerConfig, TokenAuthConfig
from registry.model import Registry
from registry.storage.filesystem import FileSystemDriver

SERVICE = "registry.docker.io"
ACCOUNT = ("mirror", "mirror-secret")
"""The one account; only it may pull ``private/*`` (everyone may pull ``library/*``)."""
RATE_WINDOW = 21600  # Hub's six hours, as its headers state it


@dataclass(frozen=True)
class Image:
    manifest: bytes
    digest: Digest
    blobs: dict[Digest, bytes]  # config and layers

    @property
    def layers(self) -> list[Digest]:
        return [Digest.parse(layer["digest"])
                for layer in json.loads(self.manifest)["layers"]]


def make_image(seed: str, layer_sizes: tuple[int, ...] = (2048, 4096)) -> Image:
    """A real image (gzip'd tar layers, a config with diff_ids) that skopeo and podman accept;
    the layers' content follows from ``seed``."""
    layers, diff_ids = [], []
    for index, size in enumerate(layer_sizes):
        content = hashlib.shake_256(f"{seed}/{index}".encode()).digest(size)
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
            info = tarfile.TarInfo(f"file-{seed}-{index}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        diff_ids.append(str(Digest.of(tar_bytes.getvalue())))
        layers.append(gzip.compress(tar_bytes.getvalue(), mtime=0))
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()

    def descriptor(media_type: str, data: bytes) -> dict:
        return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data)}

    manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                           "config": descriptor(mt.OCI_CONFIG, config),
                           "layers": [descriptor(mt.OCI_LAYER_GZIP, layer)
                                      for layer in layers]}).encode()
    return Image(manifest, Digest.of(manifest),
                 {Digest.of(blob): blob for blob in (config, *layers)})


def _kind(path: str) -> str:
    """``manifests``, ``blobs``, ``tags``, ``base`` or ``token``: what a request was for."""
    for kind in ("manifests", "blobs", "tags"):
        if f"/{kind}/" in path:
            return kind
    return "base" if path == "/v2/" else "token"


class FakeHub:
    def __init__(self, workdir: Path, *, pull_limit: int | None = None) -> None:
        self.workdir = workdir
        self.pull_limit = pull_limit
        self.port, self.realm_port = free_port(), free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.realm = f"http://{LOOPBACK}:{self.realm_port}/auth/token"
        self.requests: list[tuple[str, str, str, int]] = []  # (method, kind, path, status)
        self.pulls = 0
        self.truncate: set[str] = set()
        self.gate: asyncio.Event | None = None
        self._driver = FileSystemDriver(str(workdir / "hub-storage"))
        self.registry = Registry(self._driver, delete_enabled=True)
        self._runners: list[web.AppRunner] = []

    def count(self, method: str, kind: str) -> int:
        """Requests answered (not refused: a 401 asking for a token is no fetch)."""
        return sum(1 for m, k, _, status in self.requests
                   if (m, k) == (method, kind) and status < 400)

    async def add_image(self, name: str, tag: str, *, seed: str = "a",
                        layer_sizes: tuple[int, ...] = (2048, 4096)) -> Image:
        image = make_image(seed, layer_sizes)
        repository = self.registry.repository(name)
        for data in image.blobs.values():
            await repository.blobs.link(await self.registry.blob_store.put(data))
        await repository.manifests.put(tag, image.manifest, mt.OCI_MANIFEST)
        return image

    # --- serving ------------------------------------------------------------------------

    def _access(self):
        users = self.workdir / "hub-users"
        PasswordFile(str(users)).set(*ACCOUNT)
        return auth_setup.build(AuthConfig(
            token=TokenAuthConfig(self.realm, SERVICE, "auth.docker.io"),
            issuer=IssuerConfig(str(self.workdir / "hub-token.key")), users=str(users),
            rules=(Rule(("private/*",), frozenset({"pull"}), users=frozenset({ACCOUNT[0]})),
                   Rule(("library/*",), frozenset({"pull"}), anonymous=True))))

    async def start(self) -> None:
        access = self._access()
        realm = web.Application(middlewares=[self._record])
        realm.router.add_routes(access.routes)
        for app, port in ((create_app(self.registry, middlewares=(self._record, self._hub),
                                      access=access), self.port),
                          (realm, self.realm_port)):
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, LOOPBACK, port).start()
            self._runners.append(runner)

    async def stop(self) -> None:
        """Stop answering (connections are refused), storage kept for ``start``."""
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def close(self) -> None:
        await self.stop()
        await self._driver.close()

    @web.middleware
    async def _record(self, request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        self.requests.append((request.method, _kind(request.path), request.path, response.status))
        return response

    @web.middleware
    async def _hub(self, request: web.Request, handler) -> web.StreamResponse:
        kind = _kind(request.path)
        pull = kind == "manifests" and request.method == "GET"
        if pull and self.pull_limit is not None and self.pulls >= self.pull_limit:
            return web.json_response(
                {"errors": [{"code": "TOOMANYREQUESTS",
                             "message": "You have reached your pull rate limit."}]},
                status=429, headers={**self._rate_headers(), "Retry-After": "3600"})
        blob = request.path.rsplit("/", 1)[1]
        if kind == "blobs" and (blob in self.truncate or self.gate is not None):
            return await self._in_halves(request, Digest.parse(blob))
        response = await handler(request)
        if pull and response.status == 200:
            self.pulls += 1
            response.headers.update(self._rate_headers())
        return response

    def _rate_headers(self) -> dict[str, str]:
        if self.pull_limit is None:
            return {}
        remaining = max(self.pull_limit - self.pulls, 0)
        return {"RateLimit-Limit": f"{self.pull_limit};w={RATE_WINDOW}",
                "RateLimit-Remaining": f"{remaining};w={RATE_WINDOW}"}

    async def _in_halves(self, request: web.Request, digest: Digest) -> web.StreamResponse:
        """Announce the whole blob and send half of it; then hang up (``truncate``) or wait
        for ``gate`` and send the rest."""
        data = await self.registry.blob_store.get(digest)
        response = web.StreamResponse(headers={"Docker-Content-Digest": str(digest)})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[:len(data) // 2])
        if str(digest) in self.truncate:
            assert request.transport is not None
            request.transport.close()
            return response
        assert self.gate is not None
        await self.gate.wait()
        await response.write(data[len(data) // 2:])
        await response.write_eof()
        return response
