"""One download's bytes, handed to every reader while they arrive, in bounded memory.

The download writes each chunk to storage and publishes it here; readers
follow from any offset.  Only the last ``window`` bytes are kept, so memory
stays flat however large the blob: a reader that falls further behind (or
joins late) gets ``FellBehind`` and continues from storage once the blob is
committed.  The final bytes are handed out only after the download has
verified the digest, so no client receives a complete body that the cache
refused.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator

WINDOW = 32 << 20


class FellBehind(Exception):
    """The reader's offset is no longer in memory: read it from storage after the commit."""


class Broadcast:
    def __init__(self, size: int | None, window: int = WINDOW) -> None:
        self.size = size
        self.window = window
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self._end = 0
        self._arrived = asyncio.Event()
        self.outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def first(self) -> int:
        """The lowest offset still held."""
        return self._starts[0] if self._starts else self._end

    def publish(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._starts.append(self._end)
        self._end += len(chunk)
        if self._end - self._starts[0] > 2 * self.window:  # trim in batches: amortised O(1)
            keep = bisect.bisect_right(self._starts, self._end - self.window) - 1
            del self._chunks[:keep], self._starts[:keep]
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        """The download ended: verified and committed, or failed with ``error``."""
        if not self.outcome.done():
            if error is None:
                self.outcome.set_result(None)
            else:
                self.outcome.set_exception(error)
                self.outcome.exception()  # retrieved: readers may all be gone
        self._chunks.clear()
        self._starts.clear()
        self._wake()

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def read(self, offset: int) -> AsyncIterator[bytes]:
        """The bytes from ``offset`` on; FellBehind, or the download's error, when it fails."""
        position = offset
        while True:
            arrived = self._arrived
            if self.outcome.done():
                self.outcome.result()  # the download's error, if it failed
                if position < self._end:
                    raise FellBehind(position)
                return
            if position < self.first:
                raise FellBehind(position)
            if position < self._end:
                index = bisect.bisect_right(self._starts, position) - 1
                piece = self._chunks[index][position - self._starts[index]:]
                if self.size is not None and position + len(piece) >= self.size:
                    await asyncio.shield(self.outcome)  # the last bytes wait for verification
                    if position < self.first:  # cleared on finish: take the rest from storage
                        raise FellBehind(position)
                position += len(piece)
                yield piece
            else:
                await arrived.wait()
