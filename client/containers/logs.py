"""Container output in Docker's json-file format: one JSON object per line of output.

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}

Output is split at newlines; a line still open when the stream ends (or
longer than 16 KiB, Docker's buffer) is written as it is, without the
newline, exactly as Docker's logger does, so ``logs`` gives the bytes back.
The supervisor appends; readers may read while it writes, because every
record is one ``write`` of a whole line to a file opened with O_APPEND.
"""

from __future__ import annotations

import json
import os

from .records import timestamp

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MAX_LINE = 16 * 1024


class JsonLogWriter:
    """Appends output chunks of named streams, split into lines."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.pending: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        buffer = self.pending.get(stream, b"") + data
        records = []
        while True:
            end = buffer.find(b"\n")
            if end < 0 or end >= MAX_LINE:
                if len(buffer) < MAX_LINE:
                    break
                end = MAX_LINE - 1  # a very long line goes out in pieces
            records.append(_record(stream, buffer[:end + 1]))
            buffer = buffer[end + 1:]
        self.pending[stream] = buffer
        if records:
            os.write(self.fd, b"".join(records))

    def close(self) -> None:
        """Write out what is left of unterminated lines, then close."""
        rest = [_record(stream, data) for stream, data in self.pending.items() if data]
        if rest:
            os.write(self.fd, b"".join(rest))
        os.close(self.fd)


def _record(stream: str, data: bytes) -> bytes:
    entry = {"log": data.decode("utf-8", "replace"), "stream": stream, "time": timestamp()}
    return json.dumps(entry, ensure_ascii=False).encode() + b"\n"


def read(path: str, tail: int | None = None) -> tuple[list[dict], int]:
    """The records of a log (the last ``tail`` if given) and the offset reached."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], 0
    complete = data[:data.rfind(b"\n") + 1]
    lines = complete.splitlines()
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return [json.loads(line) for line in lines], len(complete)


def follow(path: str, offset: int, running: Callable[[], bool],
           interval: float = 0.05) -> Iterator[dict]:
    """Records appended after ``offset``, until ``running()`` says the writer is done."""
    import time

    buffer = b""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            alive = running()  # checked before reading, so nothing written before the end is lost
            chunk = f.read()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line:
                    yield json.loads(line)
            if not chunk:
                if not alive:
                    return
                time.sleep(interval)
