"""A RUN step's network: ``host``, ``none`` or ``bridge`` (what ``default`` means).

* ``bridge``: as in Docker, a network namespace of the step's own on
  dockyard's default bridge (``runtime.network``): outbound access through
  the bridge's NAT, no access to the host's loopback services; hosts,
  resolv.conf and hostname are the network's;
* ``none``: a namespace with only ``lo``, up (Docker's ``none``);
* ``host``: the host's namespace, its /etc/hosts and /etc/resolv.conf read-only.

Namespaces are made and pinned here (``client.containers.netns``) and given
to the runtime by path; everything is released when the step ends, however
it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ..containers import netns

MODES = ("bridge", "host", "none")
_HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")


@dataclass
class StepNetwork:
    """What the step's config.json gets: a namespace entry (None: the host's) and mounts."""
    namespace: dict | None
    mounts: list[dict] = field(default_factory=list)


@contextlib.asynccontextmanager
async def step_network(mode: str, root: Path, step_id: str, scratch: Path,
                       rootfs: Path) -> AsyncIterator[StepNetwork]:
    """The network of one step, for as long as the block runs.

    ``root`` is dockyard's root (where ``networks/`` lives), ``step_id`` a
    unique hex name for the step's network records, ``scratch`` the step's
    private directory and ``rootfs`` its mounted root file system.
    """
    if mode == "host":
        yield StepNetwork(None, [{"destination": path, "type": "bind", "source": path,
                                  "options": ["rbind", "ro"]} for path in _HOST_FILES
                                 if os.path.exists(path)
                                 and (rootfs / path.lstrip("/")).is_file()])
        return
    path = str(scratch / "netns")
    netns.create(path)
    try:
        if mode == "none":
            yield StepNetwork({"type": "network", "path": path})
            return
        async with _bridge(root, step_id, scratch, path) as network:
            yield network
    finally:
        netns.remove(path)


@contextlib.asynccontextmanager
async def _bridge(root: Path, step_id: str, scratch: Path,
                  path: str) -> AsyncIterator[StepNetwork]:
    from runtime.network import Networks, Request

    networks = Networks(root)
    files = scratch / "network"
    files.mkdir()
    request = Request(step_id, step_id, str(files), network="bridge",
                      hostname="buildkitsandbox", netns=path)
    attachment = await asyncio.to_thread(networks.setup, request)
    try:
        yield StepNetwork(attachment.namespace, attachment.mounts())
    finally:
        netns.remove(path)  # first: the kernel then takes the veth with the namespace
        await asyncio.to_thread(networks.forget, step_id)
