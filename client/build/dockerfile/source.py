"""From the bytes of a Dockerfile to logical lines: directives, comments, continuations.

A Dockerfile instruction may span many physical lines (continuations ending
in the escape character, comment lines and empty lines inside them) and may
be followed by heredoc bodies, which only the instruction's parser can ask
for, since only it knows whether the line carries ``<<EOF`` markers. So this
is a reader the parser drives, not a one-shot splitter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import DockerfileError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_BOM = "\ufeff"


@dataclass(frozen=True)
class LogicalLine:
    start: int   # line number of its first physical line (1-based)
    end: int     # line number of its last physical line
    text: str    # continuations joined, comment lines dropped, no trailing newline


@dataclass
class Directives:
    """Parser directives found at the top of the file."""
    values: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    done: bool = False

    def consider(self, line: str, number: int) -> None:
        """Record ``line`` if it is a directive; the first line that is not ends the search."""
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        key = match.group(1).lower() if match else None
        if key not in _KNOWN_DIRECTIVES:
            self.done = True  # an unknown directive is a comment, and ends the header
            return
        if key in self.values:
            raise DockerfileError(f"only one {key} parser directive can be used", number)
        value = match.group(2)
        if key == "escape" and value not in ("\\", "`"):
            raise DockerfileError(f"invalid escape token '{value}' does not match ` or \\", number)
        self.values[key] = value
        if key == "escape":
            self.escape = value


def _strip_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return _strip_newline(line).lstrip().startswith("#")


class Source:
    """Reads a Dockerfile's text one logical line (or heredoc body) at a time."""

    def __init__(self, text: str, path: str = "Dockerfile") -> None:
        self.path = path
        self.lines = text.removeprefix(_BOM).splitlines(keepends=True)
        self.index = 0  # physical lines consumed so far
        self.directives = Directives()
        self.warnings: list[str] = []
        self._continuation: re.Pattern[str] | None = None

    @property
    def escape(self) -> str:
        return self.directives.escape

    def _continues(self, line: str) -> tuple[str, bool]:
        """``line`` without its continuation marker, and whether it had one.

        The marker is the escape character, then only spaces or tabs, unless
        it is itself escaped (``foo \\\\`` ends the instruction).
        """
        if self._continuation is None:
            esc = re.escape(self.escape)
            self._continuation = re.compile(rf"(^|[^{esc}]){esc}[ \t]*$")
        match = self._continuation.search(line)
        if not match:
            return line, False
        return line[:match.start()] + match.group(1), True

    def _take(self) -> str | None:
        if self.index >= len(self.lines):
            return None
        line = self.lines[self.index]
        self.index += 1
        return line

    def next_line(self) -> LogicalLine | None:
        """The next instruction's text, or None at the end of the file."""
        while (raw := self._take()) is not None:
            number = self.index
            line = _strip_newline(raw).lstrip()
            self.directives.consider(line, number)
            if line.startswith("#"):
                continue
            text, continued = self._continues(line)
            if not continued and not text:
                continue
            empty_continuation = False
            while continued and (raw := self._take()) is not None:
                self.directives.consider(_strip_newline(raw), self.index)
                if _is_comment(raw):
                    continue
                part = _strip_newline(raw)
                if not part.strip():
                    empty_continuation = True
                    continue
                part, continued = self._continues(part)
                text += part
            if empty_continuation:
                self.warnings.append(
                    f"{self.path}:{number}: empty continuation line (deprecated; "
                    "a future Docker release will reject it)")
            return LogicalLine(number, self.index, text)
        return None

    def heredoc_body(self, name: str, chomp: bool, start: int) -> str:
        """The lines after the current one up to the line that is exactly ``name``."""
        body: list[str] = []
        while (raw := self._take()) is not None:
            candidate = _strip_newline(raw)
            if chomp:
                candidate = candidate.lstrip("\t")
            if candidate == name:
                return "".join(body)
            body.append(raw)
        raise DockerfileError(f"unterminated heredoc: no line '{name}' after it", start, self.path)
