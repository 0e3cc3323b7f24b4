"""JSON for the runtime's start path, without importing the json package.

`import json` pulls in `re` (json.decoder compiles its patterns at import),
and with it enum, functools and collections: about 8 ms, a quarter of runc's
whole container start.  The parsing and encoding themselves are C code in
the built-in `_json` module, which json only wraps; this module wraps it the
same way, minus the regular expressions.  On a parse error it hands the text
to the json package after all, for its precise message.
"""

from __future__ import annotations

import _json

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """The attributes _json.make_scanner reads from a json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_Context())
_encoders = {sort_keys: _json.make_encoder(None, None, _json.encode_basestring_ascii, None,
                                          ": ", ", ", sort_keys, False, True)
             for sort_keys in (False, True)}


def loads(text: str | bytes) -> object:
    """json.loads(text), the same values and the same ValueError on bad input."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig" if text.startswith(b"\xef\xbb\xbf") else "utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        end = -1
    if end < 0 or text[end:].strip(_WHITESPACE):
        import json

        return json.loads(text)  # raises the json package's JSONDecodeError (a ValueError)
    return value


def load_file(path: str) -> object:
    """The JSON document in file `path`."""
    with open(path, "rb") as f:
        return loads(f.read())


def dumps(value: object, sort_keys: bool = False) -> str:
    """json.dumps(value, sort_keys=sort_keys) with the default separators: ASCII, one line."""
    return "".join(_encoders[sort_keys](value, 0))
