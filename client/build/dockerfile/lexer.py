"""Docker's shell-like word lexer: quotes, the escape character and ``$`` substitution.

Docker does not hand ADD/COPY/ENV/... arguments to a shell; it runs its own
small lexer over them, and a Dockerfile means what *that* lexer makes of it.
So this follows its rules rather than POSIX sh where the two differ:

* single quotes keep everything literal; double quotes keep everything but
  ``$`` and the escape character, which escapes only ``"``, ``$`` and itself;
* outside quotes the escape character makes the next character literal (and
  is dropped at the very end of the text);
* ``$NAME``, ``${NAME}``, ``${NAME:-word}``, ``${NAME-word}``, ``${NAME:+word}``,
  ``${NAME+word}``, ``${NAME:?msg}``, ``${NAME?msg}``, ``${NAME#pat}``,
  ``${NAME##pat}``, ``${NAME%pat}``, ``${NAME%%pat}``, ``${NAME/pat/rep}`` and
  ``${NAME//pat/rep}``; an unset variable is the empty string;
* words are split on whitespace *after* substitution, and a variable's value
  may split into several words unless it is quoted.

The lexer also reports which variables a text used, since the build cache
must be keyed on exactly the build arguments a step depends on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import SubstitutionError

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


@dataclass
class Expansion:
    """What one pass over a text produced."""
    result: str                      # the text with quotes removed and variables substituted
    words: list[str]                 # the same, split into words as Docker splits them
    matched: set[str] = field(default_factory=set)    # variables that were set
    unmatched: set[str] = field(default_factory=set)  # variables referenced but unset


@dataclass(frozen=True)
class ShellLexer:
    """Substitutes variables and removes quotes in one Dockerfile text.

    ``raw_quotes``/``raw_escapes`` keep quote and escape characters in the
    result (used to find heredoc markers without changing the line);
    ``skip_unset`` leaves references to unset variables as written;
    ``skip_quotes`` treats quotes as ordinary characters (heredoc bodies).
    """
    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset: bool = False
    skip_quotes: bool = False

    def process(self, text: str, env: Mapping[str, str]) -> Expansion:
        walk = _Walk(self, text, env)
        try:
            result, words = walk.until(_EOF, self.raw_escapes)
        except SubstitutionError as err:
            quoted = json.dumps(text, ensure_ascii=False)
            raise SubstitutionError(f"failed to process {quoted}: {err.message}") from None
        return Expansion(result, words, walk.matched, walk.unmatched)

    def word(self, text: str, env: Mapping[str, str]) -> str:
        """``text`` as one word: quotes removed, variables substituted, spaces kept."""
        return self.process(text, env).result

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """``text`` split into words after substitution (EXPOSE, VOLUME lists)."""
        return self.process(text, env).words


class _Words:
    """Splits the lexer's output into words while it is being produced."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word, self.in_word = "", False
        else:
            self.add_raw(ch)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def done(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


class _Walk:
    """One left-to-right scan of a text; ``pos`` is the next unread character."""

    def __init__(self, lexer: ShellLexer, text: str, env: Mapping[str, str]) -> None:
        self.lex = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        self.pos += len(ch)
        return ch

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Read up to ``stop`` (consumed) or the end of the text, whichever is asked."""
        out: list[str] = []
        words = _Words()
        while (ch := self.peek()) != _EOF:
            if stop and ch == stop:
                self.next()
                return "".join(out), words.done()
            if ch == "$":
                value = self.dollar()
                out.append(value)
                words.add_string(value)
            elif ch in "'\"" and not self.lex.skip_quotes:
                value = self.single_quoted() if ch == "'" else self.double_quoted(raw_escapes)
                out.append(value)
                words.add_raw(value)
            else:
                self.next()
                if ch == self.lex.escape:
                    if raw_escapes:
                        out.append(ch)
                        words.add_raw(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop:
            raise SubstitutionError(
                f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.done()

    def single_quoted(self) -> str:
        quote = self.next()
        out = [quote] if self.lex.raw_quotes else []
        while (ch := self.next()) != "'":
            if ch == _EOF:
                raise SubstitutionError(
                    "unexpected end of statement while looking for matching single-quote")
            out.append(ch)
        if self.lex.raw_quotes:
            out.append(ch)
        return "".join(out)

    def double_quoted(self, raw_escapes: bool) -> str:
        quote = self.next()
        out = [quote] if self.lex.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise SubstitutionError(
                    "unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == self.lex.escape:
                if raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.lex.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.pos
        first = self.peek()
        if first.isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start:self.pos]
        if first in _SPECIAL_PARAMS:
            return self.next()
        while (ch := self.peek()) != _EOF and (ch.isalnum() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def lookup(self, name: str) -> str | None:
        if name in self.env:
            self.matched.add(name)
            return self.env[name]
        self.unmatched.add(name)
        return None

    def dollar(self) -> str:
        self.next()  # the "$"
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return f"${name}" if self.lex.skip_unset else ""
            return value
        self.next()  # the "{"
        if self.peek() == _EOF:
            raise SubstitutionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise SubstitutionError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            value = self.lookup(name)
            if value is None:
                return f"${{{name}}}" if self.lex.skip_unset else ""
            return value
        if op == "/":
            return self.replace(name)
        if op == _EOF:
            raise SubstitutionError("syntax error: missing '}'")
        return self.modifier(name, op)

    def modifier(self, name: str, op: str) -> str:
        """``${NAME<op>word}``: defaults, alternatives, required values, trimming."""
        null_is_unset = op == ":"
        if null_is_unset:
            op += self.next()
        kind = op[-1]
        word = self.closing_word("}", raw_escapes=kind in "#%")
        value = self.lookup(name)
        if value is None and self.lex.skip_unset:
            return f"${{{name}{op}{word}}}"
        empty = value is None or (null_is_unset and value == "")
        if kind == "-":
            return word if empty else value or ""
        if kind == "+":
            return "" if empty else word
        if kind == "?":
            if value is None:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if kind in "#%":
            greedy = word.startswith(kind)
            pattern = word[1:] if greedy else word
            return _trim(value or "", pattern, greedy, suffix=kind == "%")
        raise SubstitutionError(f"unsupported modifier ({op}) in substitution")

    def replace(self, name: str) -> str:
        """``${NAME/pattern/replacement}`` and ``${NAME//pattern/replacement}``."""
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.closing_word("/", raw_escapes=True, missing="syntax error: missing '/' in ${}")
        replacement = self.closing_word("}", raw_escapes=True)
        value = self.lookup(name)
        if value is None and self.lex.skip_unset:
            return f"${{{name}/{pattern}/{replacement}}}"
        regex = _pattern_regex(pattern, greedy=True)
        return regex.sub(lambda _: replacement, value or "", count=0 if every else 1)

    def closing_word(self, stop: str, raw_escapes: bool,
                     missing: str = "syntax error: missing '}'") -> str:
        try:
            word, _ = self.until(stop, raw_escapes)
        except SubstitutionError:
            if self.peek() == _EOF:
                raise SubstitutionError(missing) from None
            raise
        return word


def _pattern_regex(pattern: str, greedy: bool) -> re.Pattern[str]:
    """A shell pattern (``*``, ``?``, backslash escapes; no brackets) as a regex."""
    out: list[str] = []
    chars = iter(range(len(pattern)))
    for i in chars:
        ch = pattern[i]
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i + 1] if i + 1 < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise SubstitutionError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append(re.escape(following))
            next(chars)
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim(value: str, pattern: str, greedy: bool, suffix: bool) -> str:
    """Remove the shortest (or longest, ``greedy``) prefix/suffix matching ``pattern``."""
    regex = _pattern_regex(pattern, greedy=True)
    cuts = range(len(value) + 1)
    order = reversed(cuts) if greedy != suffix else cuts
    for cut in order:
        part = value[cut:] if suffix else value[:cut]
        if regex.fullmatch(part):
            return value[:cut] if suffix else value[cut:]
    return value
