"""Docker's ways of printing things: sizes, ages, tables and ``--format`` templates.

Scripts parse ``docker images`` output and people read it at a glance, so the
units (``1.24MB``: decimal, three significant digits), the ages
(``2 days ago``) and the table (columns padded by three spaces, at least ten
wide, as Docker's tabwriter lays them out) follow Docker's go-units and CLI.

``--format`` takes ``json`` (one object per line), ``table`` (the default
table) or a Go-template subset: ``{{.Field}}``, ``{{.A.B}}``, ``{{json .Field}}``
and ``{{json .}}``, with ``\\t`` and ``\\n`` escapes, optionally after
``table `` to get a header line; enough for the templates people use with
``images`` and ``inspect``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import DockyardError

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_MIN_WIDTH = 10
_PADDING = 3
_ACTION = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z_][\w.]*)?\s*\}\}")


def human_size(size: float) -> str:
    """``1.24MB``: go-units' HumanSizeWithPrecision(size, 3), as ``docker images`` prints."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.3g}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "About a minute", "3 weeks", ..."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time from an image config (nanoseconds allowed); None if absent or bad."""
    if not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text.strip())
    if match is None:
        return None
    fraction = (match[2] or ".0")[:7]  # Python keeps microseconds
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        return datetime.fromisoformat(f"{match[1]}{fraction}{zone}")
    except ValueError:
        return None


def since(text: str | None, now: datetime | None = None) -> str:
    """``2 days ago`` for an image's creation time; ``N/A`` when it has none."""
    created = parse_time(text)
    if created is None:
        return "N/A"
    now = now or datetime.now(timezone.utc)
    return f"{human_duration((now - created).total_seconds())} ago"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded as Docker's tabwriter(minwidth=10, padding=3) pads them."""
    widths = [max(_MIN_WIDTH, *(len(row[i]) + _PADDING for row in [header, *rows]))
              for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


@dataclass(frozen=True)
class Template:
    """A parsed ``--format`` value; render it against one mapping per item."""

    text: str
    is_table: bool

    @classmethod
    def parse(cls, text: str) -> "Template":
        text = text.replace("\\t", "\t").replace("\\n", "\n")
        is_table = text.startswith("table")
        if is_table:
            text = text[len("table"):].lstrip(" ")
        if text.strip() == "json":
            text = "{{json .}}"
        for opening in re.finditer(r"\{\{", text):
            if not _ACTION.match(text, opening.start()):
                end = text.find("}}", opening.start())
                snippet = text[opening.start(): end + 2 if end >= 0 else None]
                raise DockyardError(f"unsupported format template {snippet!r}: use "
                                    "{{.Field}}, {{.Field.Sub}}, {{json .Field}} or {{json .}}")
        return cls(text, is_table)

    def render(self, item: Mapping[str, Any]) -> str:
        return _ACTION.sub(lambda m: _value(item, m[2], bool(m[1])), self.text)

    def header(self, titles: Mapping[str, str]) -> str:
        """The table header: each ``{{.Field}}`` replaced by its column title."""
        return _ACTION.sub(lambda m: titles.get(m[2] or "", (m[2] or "").upper()), self.text)

    def render_all(self, items: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> str:
        """Every item, one per line; a ``table`` template gets a header and aligned columns."""
        lines = [self.render(item) for item in items]
        if not self.is_table:
            return "\n".join(lines)
        rows = [line.split("\t") for line in [self.header(titles), *lines]]
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        return table(rows[0], rows[1:])


def inspect_output(items: Sequence[Mapping[str, Any]], template: str | None) -> str:
    """What ``inspect`` commands print: a JSON array indented by 4, or one
    rendering of ``--format`` per item."""
    if template:
        parsed = Template.parse(template)
        return "\n".join(parsed.render(item) for item in items)
    return json.dumps(items, indent=4)


def _value(item: Mapping[str, Any], path: str | None, as_json: bool) -> str:
    value: Any = item
    for key in (path.split(".") if path else []):
        if not isinstance(value, Mapping) or key not in value:
            raise DockyardError(f"template: can't evaluate field {key}")
        value = value[key]
    if as_json:
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + " ".join(map(str, value)) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(value.items())) + "]"
    return str(value)
