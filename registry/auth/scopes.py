"""Scopes: what a request needs, what a client asks the token endpoint for, what a token grants.

A scope is ``type:name:actions`` as Docker writes it (``repository:team-a/app:pull,push``,
``registry:catalog:*``).  The same triple is a token's ``access`` entry
(``{"type", "name", "actions"}``), so one class serves both.

Which scope a request needs follows distribution: reading is ``pull``,
writing is ``push`` with ``pull`` (clients check blobs before they upload),
deleting is ``delete``, the catalog is ``registry:catalog:*``.  Uploads are
writing whatever the method, so cancelling or polling one needs ``push``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PULL, PUSH, DELETE = "pull", "push", "delete"
REPOSITORY_ACTIONS = (PULL, PUSH, DELETE)
CATALOG = ("registry", "catalog")
CATALOG_ACTION = "*"


@dataclass(frozen=True)
class Scope:
    """Actions on one resource (``type`` ``repository`` or ``registry``)."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Scope | None":
        """``type[(class)]:name:actions``; None if malformed. Names may contain ``:`` (a port)."""
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            return None
        kind = kind.split("(", 1)[0]  # repository(plugin) is a repository
        return cls(kind, name, tuple(dict.fromkeys(a for a in actions.split(",") if a)))

    @classmethod
    def from_access(cls, entry: Any) -> "Scope | None":
        """A token's ``access`` entry; None if it is not one."""
        if not isinstance(entry, Mapping):
            return None
        kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not (isinstance(kind, str) and isinstance(name, str) and isinstance(actions, list)
                and all(isinstance(action, str) for action in actions)):
            return None
        return cls(kind, name, tuple(actions))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def to_access(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def parse_all(texts: Iterable[str]) -> list[Scope]:
    """Every well-formed scope of ``texts``, each of which may hold several separated by spaces."""
    return [scope for text in texts for part in text.split()
            if (scope := Scope.parse(part)) is not None]


def repository(name: str, *actions: str) -> Scope:
    return Scope("repository", name, actions)


def catalog() -> Scope:
    return Scope(*CATALOG, (CATALOG_ACTION,))


def actions_for(method: str, *, upload: bool) -> tuple[str, ...]:
    """The repository actions an HTTP ``method`` needs (distribution's mapping)."""
    if upload or method in ("POST", "PUT", "PATCH"):
        return (PULL, PUSH)
    if method == "DELETE":
        return (DELETE,)
    return (PULL,)


class Granted:
    """A token's ``access`` list, to ask whether it holds a scope."""

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self.actions: dict[tuple[str, str], set[str]] = {}
        for scope in scopes:
            self.actions.setdefault((scope.type, scope.name), set()).update(scope.actions)

    @classmethod
    def from_claim(cls, access: Any) -> "Granted":
        """From the ``access`` claim; ValueError if it is not a list of access entries."""
        if access is None:
            return cls(())
        if not isinstance(access, list):
            raise ValueError("access claim is not a list")
        scopes = [Scope.from_access(entry) for entry in access]
        if None in scopes:
            raise ValueError("malformed access entry")
        return cls(scope for scope in scopes if scope is not None)

    def allows(self, scope: Scope) -> bool:
        """Whether every action of ``scope`` was granted; ``*`` is a literal action, as in
        distribution, not a wildcard."""
        return set(scope.actions) <= self.actions.get((scope.type, scope.name), set())
