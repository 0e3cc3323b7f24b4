"""``dockyard login``, ``push`` and ``pull`` against a Dockyard registry with token auth.

The registry is the real app with its own token endpoint and access rules
(tests/registry/auth/kit): alice may push and pull ``team-a/*``, anyone may
pull ``public/*``.  The client takes its credentials from ``config.json`` as
``dockyard login`` stored them, asks the realm for tokens scoped to each
repository, and says in one line what is refused.
"""

from __future__ import annotations

import asyncio
import json

from client.store import ImageStore
from ocispec.reference import Reference

from ..layerkit import entry, put_image, tar_bytes
from .conftest import Dockyard


async def test_push_and_pull_with_tokens(cli, secure_dockyard, tmp_path, capsys):
    store = await ImageStore.open(cli.root)
    image = await asyncio.to_thread(put_image, store, [
        tar_bytes(entry("etc/app.conf", data=b"x=1")), tar_bytes(entry("bin/app", data=b"#!"))])
    app = f"{secure_dockyard}/team-a/app:1"
    await store.tag(Reference.parse(app), image)

    refused = await cli("push", app)
    assert refused.code == 1 and len(refused.err.splitlines()) == 1, refused.err
    assert "log in with 'dockyard login" in refused.err

    await cli.ok("login", secure_dockyard, "-u", "alice", "-p", "alice-pw")
    pushed = await cli.ok("push", app)
    assert pushed.lines[-1].startswith(f"1: digest: {image.digest} ")
    await cli.ok("tag", app, f"{secure_dockyard}/public/app:1")
    not_allowed = await cli("push", f"{secure_dockyard}/public/app:1")
    assert not_allowed.code == 1 and len(not_allowed.err.splitlines()) == 1

    fresh = Dockyard(tmp_path / "fresh-root", capsys)
    await fresh.ok("pull", app)
    inspected = json.loads((await fresh.ok("inspect", app)).out)
    assert inspected[0]["Descriptor"]["digest"] == str(image.digest)
    assert len(list((tmp_path / "fresh-root" / "layers").glob("[0-9a-f]*"))) == 2

    await cli.ok("logout", secure_dockyard)
    anonymous = await Dockyard(tmp_path / "anonymous-root", capsys)("pull", app)
    assert anonymous.code == 1 and len(anonymous.err.splitlines()) == 1, anonymous.err
