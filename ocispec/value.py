"""A base for small immutable value objects (digests, references, settings).

``dataclasses`` would write the same methods, but importing it (with
``inspect``, ``ast`` and ``dis`` behind it) costs 7-8 ms, and the client's
``run`` path, whose whole start-up is budgeted, uses these classes.  A
subclass names its fields in ``__slots__`` (in order) and its typed
``__init__`` hands the values, in that order, to ``Value.__init__``.
"""

from __future__ import annotations


class Value:
    """Fields set once; compared, hashed, printed, pickled and copied by their values."""

    __slots__ = ()

    def __init__(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple:
        return type(self), self._values()
