"""Who may do what where: the access rules of ``dockyard.auth.rules``.

A rule maps repository globs to actions for some callers::

    - repositories: ["team-a/*"]      # fnmatch globs; * also crosses "/"
      actions: [pull, push]           # pull, push, delete
      users: [carol]                  # "*" is every user (robots are not users)
      groups: [team-a]                # dockyard.auth.groups
      robots: [ci]                    # robot accounts, by name
    - repositories: ["public/*"]
      anonymous: true                 # everyone, signed in or not; pull only
      actions: [pull]

What a caller may do on a repository is the union over the rules that name
them.  Without any rules every user may do everything (distribution's
htpasswd behaviour); robots only ever get what rules name them for, which is
what makes them safe to hand to CI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .scopes import CATALOG, CATALOG_ACTION, REPOSITORY_ACTIONS, Scope

ROBOT_PREFIX = "robot+"
"""Robots sign in as ``robot+<name>`` (Quay's ``+`` convention), so no user can pose as one."""

EVERY_USER = "*"


@dataclass(frozen=True)
class Identity:
    """A caller: a user, a robot, or nobody (``name`` empty)."""

    name: str

    @property
    def anonymous(self) -> bool:
        return not self.name

    @property
    def robot(self) -> str | None:
        """The robot's name (without the prefix), or None for a user or nobody."""
        return self.name[len(ROBOT_PREFIX):] if self.name.startswith(ROBOT_PREFIX) else None


ANONYMOUS = Identity("")


@dataclass(frozen=True)
class Rule:
    repositories: tuple[str, ...]
    actions: frozenset[str]
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    robots: frozenset[str] = frozenset()
    anonymous: bool = False

    def covers(self, repository: str) -> bool:
        return any(fnmatchcase(repository, pattern) for pattern in self.repositories)


EVERYTHING_FOR_USERS = (Rule(("*",), frozenset(REPOSITORY_ACTIONS),
                             users=frozenset({EVERY_USER})),)


@dataclass(frozen=True)
class Policy:
    """The rules and groups of the config, answering for one caller at a time."""

    rules: Sequence[Rule] = EVERYTHING_FOR_USERS
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def _names(self, rule: Rule, identity: Identity) -> bool:
        if rule.anonymous:
            return True
        if identity.anonymous:
            return False
        robot = identity.robot
        if robot is not None:
            return robot in rule.robots
        return (EVERY_USER in rule.users or identity.name in rule.users
                or any(identity.name in self.groups.get(group, ()) for group in rule.groups))

    def actions(self, identity: Identity, repository: str) -> set[str]:
        """Every action ``identity`` may take on ``repository``."""
        allowed: set[str] = set()
        for rule in self.rules:
            if self._names(rule, identity) and rule.covers(repository):
                allowed |= rule.actions
        return allowed

    def may(self, identity: Identity, repository: str, action: str) -> bool:
        return action in self.actions(identity, repository)

    def grant(self, identity: Identity, requested: Iterable[Scope]) -> list[Scope]:
        """What of ``requested`` the rules allow ``identity``: the token endpoint's answer.

        The catalog is granted to every caller: what it lists is filtered by
        these rules when it is read.  Unknown resource types get nothing.
        """
        granted: list[Scope] = []
        for scope in requested:
            if scope.type == "repository":
                allowed = self.actions(identity, scope.name)
                actions = tuple(a for a in scope.actions if a in allowed)
            elif (scope.type, scope.name) == CATALOG:
                actions = tuple(a for a in scope.actions if a == CATALOG_ACTION)
            else:
                actions = ()
            if actions:
                granted.append(Scope(scope.type, scope.name, actions))
        return granted
