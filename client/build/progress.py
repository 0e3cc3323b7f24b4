"""Build progress as BuildKit shows it: plain lines in logs, a live view on a terminal.

``plain`` (``--progress=plain``, and ``auto`` when stderr is not a terminal)
prints ``#N`` step headers, each output line as ``#N <seconds> <line>``,
then ``#N CACHED``, ``#N DONE 1.2s`` or ``#N ERROR: ...``: every line is
final, so logs and CI keep all of it.

``tty`` (``auto`` on a terminal) redraws one block in place: a header with
the elapsed time and steps done, one line per step with its duration, and
below a running step the last lines of its output, which collapse away
when the step finishes. A failing step's output is printed in full when
the build stops, so the error is never lost with the view.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TextIO

_TAIL = 6          # output lines shown under a running step
_REFRESH = 0.1     # seconds between redraws while something runs


class PlainProgress:
    """Line-by-line progress (BuildKit's plain format)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self.started: dict[int, float] = {}

    def start(self, title: str) -> int:
        """A new step; returns its number."""
        self.count += 1
        self.started[self.count] = time.monotonic()
        self._print(f"#{self.count} {title}")
        return self.count

    def log(self, step: int, line: str) -> None:
        self._print(f"#{step} {time.monotonic() - self.started[step]:.3f} {line}")

    def cached(self, step: int) -> None:
        self._print(f"#{step} CACHED")

    def done(self, step: int) -> None:
        self._print(f"#{step} DONE {time.monotonic() - self.started[step]:.1f}s")

    def error(self, step: int, message: str) -> None:
        self._print(f"#{step} ERROR: {message}")

    def close(self) -> None:
        pass

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


@dataclass
class _Step:
    title: str
    started: float
    ended: float | None = None
    state: str = "running"           # running, cached, done, error
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL))
    lines: list[str] = field(default_factory=list)   # all output, for an error report


class TtyProgress:
    """The live view: redrawn in place with ANSI cursor movements."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.steps: list[_Step] = []
        self.began = time.monotonic()
        self.drawn = 0                  # lines of the last frame, to move back over
        self.timer: asyncio.TimerHandle | None = None

    def start(self, title: str) -> int:
        self.steps.append(_Step(title, time.monotonic()))
        self._draw()
        self._schedule()  # its time keeps counting while it prints nothing
        return len(self.steps)

    def log(self, step: int, line: str) -> None:
        self.steps[step - 1].tail.append(line)
        self.steps[step - 1].lines.append(line)
        self._schedule()

    def cached(self, step: int) -> None:
        self._end(step, "cached")

    def done(self, step: int) -> None:
        self._end(step, "done")

    def error(self, step: int, message: str) -> None:
        self._end(step, "error")
        self.steps[step - 1].lines.append(f"ERROR: {message}")

    def close(self) -> None:
        """The last frame, then the output of any step that failed."""
        if self.timer is not None:
            self.timer.cancel()
        self._draw(final=True)
        for number, step in enumerate(self.steps, 1):
            if step.state == "error":
                print(f"------\n > {step.title}:", file=self.out)
                for line in step.lines:
                    print(f"#{number} {line}", file=self.out)
                print("------", file=self.out, flush=True)

    def _end(self, step: int, state: str) -> None:
        entry = self.steps[step - 1]
        entry.state, entry.ended = state, time.monotonic()
        self._draw()

    def _schedule(self) -> None:
        """Redraw soon: output can come thousands of lines a second."""
        if self.timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._draw()
                return
            self.timer = loop.call_later(_REFRESH, self._tick)

    def _tick(self) -> None:
        self.timer = None
        self._draw()
        if any(step.state == "running" for step in self.steps):
            self._schedule()

    def _draw(self, final: bool = False) -> None:
        width = max(shutil.get_terminal_size((80, 24)).columns, 20)
        now = time.monotonic()
        finished = sum(step.state != "running" for step in self.steps)
        status = " FINISHED" if final and all(s.state in ("done", "cached") for s in self.steps) \
            else ""
        lines = [f"[+] Building {now - self.began:.1f}s ({finished}/{len(self.steps)}){status}"]
        for step in self.steps:
            seconds = (step.ended or now) - step.started
            label = {"cached": "CACHED", "error": "ERROR"}.get(step.state, f"{seconds:.1f}s")
            lines.append(_fit(f" => {step.title}", f" {label}", width))
            if step.state == "running":
                lines.extend(_fit(f" => => # {line}", "", width) for line in step.tail)
        frame = (f"\x1b[{self.drawn}A" if self.drawn else "") + "\x1b[J" + "\n".join(lines)
        print(frame, file=self.out, flush=True)
        self.drawn = len(lines)


def _fit(text: str, right: str, width: int) -> str:
    """``text`` and ``right`` on one terminal line: text cut, right aligned at the edge."""
    text = text.replace("\t", " ")
    room = width - len(right) - 1
    if len(text) > room:
        text = text[:max(room - 3, 0)] + "..."
    return text.ljust(room) + right


def progress_for(mode: str, out: TextIO) -> PlainProgress | TtyProgress:
    """``--progress`` auto, plain or tty; auto picks tty for a terminal."""
    if mode == "tty" or (mode == "auto" and out.isatty()):
        return TtyProgress(out)
    return PlainProgress(out)
