"""The filesystem driver: the shared driver suite, plus what only a local directory tree has."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from registry.storage.driver import PathNotFound
from registry.storage.filesystem import INTERNAL_MARK, STALE_AFTER, FileSystemDriver

from .driver_suite import DriverHarness, DriverSuite


def leftovers(root: Path) -> list[str]:
    """The driver's internal files still present, and directories left empty by a missed prune."""
    found = []
    for directory, subdirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        found += [f"{relative}/{name}" for name in files if INTERNAL_MARK in f"{relative}/{name}"]
        is_empty = not subdirs and not files
        if is_empty and relative != "." and INTERNAL_MARK not in os.path.basename(relative):
            found.append(f"{relative}/")
    return found


class TestFileSystemDriver(DriverSuite):
    @pytest.fixture
    async def harness(self, tmp_path: Path) -> AsyncIterator[DriverHarness]:
        root = tmp_path / "storage"
        driver = FileSystemDriver(str(root))

        async def check() -> list[str]:
            return leftovers(root)

        yield DriverHarness(driver, check)
        await driver.close()


@pytest.fixture
async def root_and_driver(tmp_path: Path) -> AsyncIterator[tuple[Path, FileSystemDriver]]:
    driver = FileSystemDriver(str(tmp_path))
    yield tmp_path, driver
    await driver.close()


async def test_objects_live_where_distribution_keeps_them(root_and_driver) -> None:
    """So that a distribution registry's storage directory can be served as it is."""
    root, driver = root_and_driver
    await driver.put_content("/docker/registry/v2/repositories/a/_layers/link", b"sha256:x")
    on_disk = root / "docker/registry/v2/repositories/a/_layers/link"
    assert on_disk.read_bytes() == b"sha256:x"
    assert driver.local_file("/docker/registry/v2/repositories/a/_layers/link") == str(on_disk)


async def test_unfinished_write_survives_a_restart(root_and_driver) -> None:
    root, driver = root_and_driver
    writer = await driver.writer("/upload")
    await writer.write(b"before ")
    await writer.close()
    await driver.close()
    restarted = FileSystemDriver(str(root))
    try:
        writer = await restarted.writer("/upload", append=True)
        assert writer.size == 7
        await writer.write(b"after")
        await writer.commit()
        assert await restarted.get_content("/upload") == b"before after"
    finally:
        await restarted.close()


async def test_start_sweeps_stale_staging_entries(root_and_driver) -> None:
    """What a killed process left half-written or half-deleted goes; what a live one uses stays."""
    root, driver = root_and_driver
    staging = Path(driver._staging)
    stale_file, stale_tree, fresh = staging / "stale", staging / "tree", staging / "fresh"
    stale_file.write_bytes(b"half written")
    (stale_tree / "half").mkdir(parents=True)
    (stale_tree / "half" / "deleted").write_bytes(b"x")
    fresh.write_bytes(b"in use")
    old = time.time() - STALE_AFTER - 60
    for entry in (stale_file, stale_tree):
        os.utime(entry, (old, old))
    await FileSystemDriver(str(root)).close()
    assert sorted(p.name for p in staging.iterdir()) == ["fresh"]
    fresh.unlink()




async def test_small_files_are_cached_until_they_change(root_and_driver, monkeypatch) -> None:
    """A cached small file is served from memory while unchanged, and never once it changed."""
    root, driver = root_and_driver
    monkeypatch.setattr("registry.storage.contentcache.SETTLE", 0.0)
    await driver.put_content("/tag/link", b"sha256:aaaa")
    assert await driver.get_content("/tag/link") == b"sha256:aaaa"
    reads = []
    monkeypatch.setattr(driver, "_run", lambda func, *args: reads.append(func) or
                        FileSystemDriver._run(driver, func, *args))
    assert await driver.get_content("/tag/link") == b"sha256:aaaa"
    assert reads == []  # from the cache
    await driver.put_content("/tag/link", b"sha256:bbbb")  # same size, new file
    assert await driver.get_content("/tag/link") == b"sha256:bbbb"
    await driver.delete("/tag/link")
    with pytest.raises(PathNotFound):
        await driver.get_content("/tag/link")


async def test_a_file_changed_just_now_is_not_cached(root_and_driver) -> None:
    """Two changes in one tick of the file system's clock must not pass for none."""
    root, driver = root_and_driver
    await driver.put_content("/tag/link", b"sha256:aaaa")
    assert await driver.get_content("/tag/link") == b"sha256:aaaa"
    assert driver._contents.get(str(root / "tag/link"), os.stat(root / "tag/link")) is None
