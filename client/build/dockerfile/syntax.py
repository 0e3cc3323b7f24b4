"""The small grammars inside one instruction line: flags, words, JSON, heredoc markers.

Docker splits an instruction's arguments differently per instruction
(whitespace, quote-aware words, JSON arrays, one string); these are the
splitters, each with Docker's exact rules, so that a Dockerfile that builds
with Docker means the same here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .errors import DockerfileError
from .lexer import ShellLexer

WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")


def split_instruction(text: str) -> tuple[str, str]:
    """The instruction keyword and the rest of the line."""
    parts = WHITESPACE.split(text.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def split_whitespace(rest: str) -> list[str]:
    return [word for word in WHITESPACE.split(rest.strip()) if word] if rest.strip() else []


def extract_flags(rest: str) -> tuple[list[str], str]:
    """Leading ``--flag[=value]`` words and what follows them.

    Flags end at the first word not starting with ``--`` or at a lone
    ``--``; quotes and backslashes inside a flag are resolved here, as
    Docker does, so ``--chown="a b"`` is the value ``a b``.
    """
    flags: list[str] = []
    pos = 0
    while True:
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if not rest.startswith("--", pos):
            return flags, rest[pos:]
        word, pos = _flag_word(rest, pos)
        if word == "--":
            return flags, rest[pos:].lstrip()
        flags.append(word)


def _flag_word(rest: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    quote = ""
    while pos < len(rest):
        ch = rest[pos]
        pos += 1
        if not quote and ch.isspace():
            break
        if ch == quote:
            quote = ""
            continue
        if not quote and ch in "'\"":
            quote = ch
            continue
        if ch == "\\":
            if pos == len(rest):
                continue
            ch = rest[pos]
            pos += 1
        out.append(ch)
    return "".join(out), pos


def quoted_words(rest: str, escape: str) -> list[str]:
    """Words split on unquoted whitespace, quotes and escapes kept for later expansion.

    ENV, LABEL and ARG use this: ``a="x y" b=z`` is two words, and the quotes
    are removed only when the value is expanded.
    """
    words: list[str] = []
    word: list[str] = []
    quote = ""
    blank_ok = False  # a word that had quotes is kept even when empty: a=""
    i = 0
    while i < len(rest):
        ch = rest[i]
        if not quote and ch.isspace():
            if word or blank_ok:
                words.append("".join(word))
            word, blank_ok = [], False
            i += 1
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, blank_ok = ch, True
        if ch == escape and quote != "'":
            if i + 1 == len(rest):
                break  # an escape at the very end is dropped
            word.append(ch)
            i += 1
            ch = rest[i]
        word.append(ch)
        i += 1
    if word or blank_ok:
        words.append("".join(word))
    return words


class NotJSON(Exception):
    """The text is not a JSON array, so it is shell form."""


def json_array(rest: str) -> list[str]:
    """Exec form: a JSON array of strings. Raises NotJSON for anything that is not an array."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        raise NotJSON
    try:
        value = json.loads(rest)
    except ValueError:
        raise NotJSON from None
    if not isinstance(value, list):
        raise NotJSON
    if not all(isinstance(item, str) for item in value):
        raise DockerfileError("when using JSON array syntax, arrays must be comprised of "
                              "strings only")
    return value


@dataclass(frozen=True)
class HeredocMarker:
    name: str
    expand: bool
    chomp: bool
    fd: int | None


def heredoc_marker(word: str) -> HeredocMarker | None:
    """The heredoc a word such as ``<<EOF``, ``<<-'EOF'`` or ``3<<EOF`` opens, if any."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    plain = ShellLexer(skip_unset=True).words(rest, {})
    if len(plain) != 1:
        return None
    raw = ShellLexer(skip_unset=True, raw_quotes=True).words(rest, {})
    quotes = sum(plain[0].count(q) for q in "'\"")
    raw_quotes = sum(raw[0].count(q) for q in "'\"")
    return HeredocMarker(name=plain[0], expand=quotes == raw_quotes, chomp=match.group(2) == "-",
                         fd=int(match.group(1)) if match.group(1) else None)


def heredoc_markers(line: str) -> list[HeredocMarker]:
    """Every heredoc opened on a line, in order (``<<A cat >a && <<B cat >b``)."""
    lexer = ShellLexer(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lexer.words(line, {})
    except DockerfileError:
        return []
    return [marker for word in words if (marker := heredoc_marker(word)) is not None]


class Flags:
    """An instruction's declared ``--flags``, checked and parsed as BuildKit does."""

    def __init__(self, words: list[str], keyword: str, *, strings: tuple[str, ...] = (),
                 bools: tuple[str, ...] = (), lists: tuple[str, ...] = ()) -> None:
        self.values: dict[str, str | bool | list[str]] = {}
        kinds = {**{n: str for n in strings}, **{n: bool for n in bools},
                 **{n: list for n in lists}}
        for word in words:
            name, has_value, value = word[2:].partition("=")
            kind = kinds.get(name)
            if kind is None:
                raise DockerfileError(f"unknown flag: --{name} (not a flag of {keyword})")
            if name in self.values and kind is not list:
                raise DockerfileError(f"duplicate flag specified: --{name}")
            if kind is bool:
                lowered = value.lower()
                if has_value and lowered not in ("true", "false"):
                    raise DockerfileError(
                        f"expecting boolean value for flag --{name}, not: {value}")
                self.values[name] = not has_value or lowered == "true"
                continue
            if not has_value:
                raise DockerfileError(f"missing a value on flag: --{name}")
            if kind is list:
                self.values.setdefault(name, [])
                self.values[name].append(value)  # type: ignore[union-attr]
            else:
                self.values[name] = value

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def bool(self, name: str) -> bool:
        return self.values.get(name) is True

    def list(self, name: str) -> list[str]:
        value = self.values.get(name)
        return value if isinstance(value, list) else []
