"""What ``pull`` and ``push`` show while they work, one line per layer, as Docker does.

Pull and push report events (``item``: a layer's short ID, a status, and
bytes as they move); a display decides what to show:

- ``LiveDisplay`` when stdout is a terminal: one live line per layer with a
  bar, bytes and speed, redrawn in place (``rich``);
- ``LineDisplay`` otherwise: one line per change of status and no byte
  counts, which is what ``docker pull`` writes into a log;
- ``QuietDisplay`` for ``-q``: nothing but what the command prints at the end.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import ProgressColumn, Task, TaskID

# Statuses that only say bytes are moving: a log gets the outcome, not these.
BYTE_STATUSES = frozenset({"Downloading", "Extracting", "Pushing"})


class Display(Protocol):
    def message(self, text: str) -> None:
        """A line of its own: a header ("latest: Pulling from ...") or a result."""

    def status(self, item: str, text: str, total: int | None = None,
               completed: int | None = None) -> None:
        """``item`` is now at ``text``; ``total``/``completed`` start a byte count."""

    def advance(self, item: str, nbytes: int) -> None:
        """``nbytes`` more of ``item`` moved."""

    def __enter__(self) -> "Display": ...

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class QuietDisplay:
    def message(self, text: str) -> None:
        pass

    def status(self, item: str, text: str, total: int | None = None,
               completed: int | None = None) -> None:
        pass

    def advance(self, item: str, nbytes: int) -> None:
        pass

    def __enter__(self) -> "QuietDisplay":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LineDisplay(QuietDisplay):
    """``<item>: <status>`` each time an item's status changes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last: dict[str, str] = {}

    def message(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def status(self, item: str, text: str, total: int | None = None,
               completed: int | None = None) -> None:
        if text in BYTE_STATUSES or self._last.get(item) == text:
            return
        self._last[item] = text
        print(f"{item}: {text}", file=self._out, flush=True)


class LiveDisplay:
    """A live line per item: ``<item>: <status> [=====>    ] 12.3MB/50MB 20.1MB/s``."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._progress: RichProgress = Progress(
            _docker_column(), console=Console(file=out), refresh_per_second=8)
        self._tasks: dict[str, TaskID] = {}

    def message(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)

    def status(self, item: str, text: str, total: int | None = None,
               completed: int | None = None) -> None:
        task = self._tasks.get(item)
        if task is None:
            task = self._tasks[item] = self._progress.add_task(text, item=item, total=total)
        fields: dict[str, Any] = {"description": text}
        if total is not None:
            fields.update(total=total, completed=completed or 0)
            self._progress.reset(task, **fields)  # a new byte count: new speed estimate
        else:
            self._progress.update(task, **fields)

    def advance(self, item: str, nbytes: int) -> None:
        self._progress.advance(self._tasks[item], nbytes)

    def __enter__(self) -> "LiveDisplay":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _docker_column() -> "ProgressColumn":
    """The column that draws a whole line (rich is imported here, when a terminal wants it)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    from .formatting import human_size

    class DockerColumn(ProgressColumn):
        """The whole line in Docker's style; the bar only while bytes are counted."""

        def render(self, task: "Task") -> Text:
            line = f"{task.fields['item']}: {task.description}"
            if task.description in BYTE_STATUSES and task.total:
                done = int(40 * min(task.completed, task.total) / task.total)
                bar = "=" * done + (">" if done < 40 else "") + " " * (39 - done)
                line += f" [{bar}]  {human_size(task.completed)}/{human_size(task.total)}"
                if task.speed:
                    line += f"  {human_size(task.speed)}/s"
            return Text(line)

    return DockerColumn()


def display_for(quiet: bool, out: TextIO | None = None) -> Display:
    """The display that suits ``out`` (default stdout): quiet, live on a terminal, else lines."""
    out = out or sys.stdout
    if quiet:
        return QuietDisplay()
    return LiveDisplay(out) if out.isatty() else LineDisplay(out)

