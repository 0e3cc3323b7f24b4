"""Dockerfile instructions as typed values, and the substitution each one allows.

Every instruction keeps its source line and text (the history's
``created_by`` and error messages need them) and knows which of its fields
Docker expands variables in: ``expand`` returns a copy with those fields
substituted. Instructions whose arguments go to a shell (RUN, CMD,
ENTRYPOINT, SHELL, HEALTHCHECK) and ONBUILD are never expanded by Docker, so
they keep the base class's identity ``expand``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self


class Substitute(Protocol):
    """Variable substitution bound to the environment at one point of a stage."""

    def word(self, text: str) -> str: ...

    def words(self, text: str) -> list[str]: ...

    def body(self, text: str) -> str:
        """A heredoc body: variables substituted, quotes and escapes left as written."""


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to a RUN, COPY or ADD line (``<<EOF`` ... ``EOF``)."""
    name: str            # the delimiter word, quotes removed
    content: str         # the body, line endings included, tabs already stripped for ``<<-``
    expand: bool = True  # False when the delimiter was quoted: ``<<'EOF'`` or ``<<"EOF"``
    chomp: bool = False  # ``<<-EOF``: leading tabs removed from the body
    fd: int | None = None  # ``3<<EOF`` redirects that descriptor in RUN


@dataclass(frozen=True)
class CommandLine:
    """RUN/CMD/ENTRYPOINT arguments: exec form (JSON) or shell form (one string)."""
    args: tuple[str, ...]
    shell: bool  # True for shell form: ``args`` is the one text to give ``SHELL``

    def argv(self, shell: tuple[str, ...]) -> list[str]:
        """The process arguments, with the stage's SHELL prepended for shell form."""
        return [*shell, *self.args] if self.shell else list(self.args)


@dataclass(frozen=True)
class Instruction:
    line: int   # first line of the instruction in the Dockerfile (1-based)
    text: str   # the logical line as written (continuations joined), for history

    # The fields Docker substitutes variables in, each as one word (None stays None).
    substituted: ClassVar[tuple[str, ...]] = ()

    @property
    def keyword(self) -> str:
        return type(self).__name__.upper()

    def expand(self, sub: Substitute) -> Self:
        if not self.substituted:
            return self
        return dataclasses.replace(self, **{
            name: _maybe(sub, getattr(self, name)) for name in self.substituted})


@dataclass(frozen=True)
class From(Instruction):
    image: str
    name: str | None = None
    platform: str | None = None
    substituted = ("image", "platform")


@dataclass(frozen=True)
class Arg(Instruction):
    args: tuple[tuple[str, str | None], ...]  # (name, default or None)

    def expand(self, sub: Substitute) -> Self:
        return dataclasses.replace(self, args=tuple(
            (name, None if value is None else sub.word(value)) for name, value in self.args))


@dataclass(frozen=True)
class _KeyValues(Instruction):
    pairs: tuple[tuple[str, str], ...]

    def expand(self, sub: Substitute) -> Self:
        return dataclasses.replace(self, pairs=tuple(
            (sub.word(key), sub.word(value)) for key, value in self.pairs))


@dataclass(frozen=True)
class Env(_KeyValues):
    pass


@dataclass(frozen=True)
class Label(_KeyValues):
    pass


@dataclass(frozen=True)
class Mount:
    """One ``RUN --mount=...``: what is mounted where while the step runs."""
    type: str                     # bind, cache, tmpfs, secret or ssh
    target: str | None = None
    source: str | None = None
    from_: str | None = None      # stage or image for bind and cache mounts
    id: str | None = None
    readonly: bool = False
    options: tuple[tuple[str, str], ...] = ()  # the rest: sharing, mode, uid, gid, size, ...

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class Run(Instruction):
    command: CommandLine
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str | None = None    # default, none or host
    security: str | None = None   # sandbox or insecure

    def expand(self, sub: Substitute) -> Self:
        # The command goes to the shell as written, but mount options are expanded
        # (``--mount=type=cache,id=$PKG,target=...``), as BuildKit does.
        return dataclasses.replace(self, mounts=tuple(
            dataclasses.replace(
                mount, target=_maybe(sub, mount.target), source=_maybe(sub, mount.source),
                from_=_maybe(sub, mount.from_), id=_maybe(sub, mount.id),
                options=tuple((key, sub.word(value)) for key, value in mount.options))
            for mount in self.mounts))


def _maybe(sub: Substitute, text: str | None) -> str | None:
    return None if text is None else sub.word(text)


@dataclass(frozen=True)
class Cmd(Instruction):
    command: CommandLine


@dataclass(frozen=True)
class Entrypoint(Instruction):
    command: CommandLine


@dataclass(frozen=True)
class Shell(Instruction):
    argv: tuple[str, ...]


@dataclass(frozen=True)
class _Transfer(Instruction):
    """What COPY and ADD share: sources (paths or heredocs), a destination, ownership."""
    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...] = ()  # inline sources, in the order they were written
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    substituted: ClassVar[tuple[str, ...]] = ("dest", "chown", "chmod")

    def expand(self, sub: Substitute) -> Self:
        return dataclasses.replace(
            super().expand(sub), sources=tuple(sub.word(src) for src in self.sources),
            heredocs=tuple(dataclasses.replace(doc, content=_expand_body(sub, doc))
                           for doc in self.heredocs),
            exclude=tuple(sub.word(pattern) for pattern in self.exclude))


def _expand_body(sub: Substitute, doc: Heredoc) -> str:
    return sub.body(doc.content) if doc.expand else doc.content


@dataclass(frozen=True)
class Copy(_Transfer):
    from_: str | None = None
    parents: bool = False
    substituted = ("dest", "chown", "chmod", "from_")


@dataclass(frozen=True)
class Add(_Transfer):
    checksum: str | None = None
    keep_git_dir: bool = False
    substituted = ("dest", "chown", "chmod", "checksum")


@dataclass(frozen=True)
class Workdir(Instruction):
    path: str
    substituted = ("path",)


@dataclass(frozen=True)
class User(Instruction):
    user: str
    substituted = ("user",)


@dataclass(frozen=True)
class Expose(Instruction):
    ports: tuple[str, ...]

    def expand(self, sub: Substitute) -> Self:
        return dataclasses.replace(self, ports=tuple(
            port for text in self.ports for port in sub.words(text)))


@dataclass(frozen=True)
class Volume(Instruction):
    paths: tuple[str, ...]

    def expand(self, sub: Substitute) -> Self:
        return dataclasses.replace(self, paths=tuple(sub.word(path) for path in self.paths))


@dataclass(frozen=True)
class StopSignal(Instruction):
    signal: str
    substituted = ("signal",)


@dataclass(frozen=True)
class Healthcheck(Instruction):
    """``HEALTHCHECK NONE`` (``test == ("NONE",)``) or ``HEALTHCHECK [opts] CMD ...``.

    ``test`` is Docker's form: ``CMD`` + argv for exec form, ``CMD-SHELL`` +
    text for shell form. Durations are nanoseconds, as in the image config.
    """
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Maintainer(Instruction):
    name: str


@dataclass(frozen=True)
class Onbuild(Instruction):
    """A trigger stored in the image for builds that use it as their base."""
    expression: str           # the trigger as written, without ONBUILD (heredocs appended)
    trigger: Instruction      # the same, parsed (to validate it now, not in a child build)


@dataclass
class Stage:
    """One ``FROM`` and the instructions up to the next one."""
    index: int
    source: From
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.source.name


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ARGs, stages, and what the parser noticed on the way."""
    meta_args: list[Arg]
    stages: list[Stage]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    path: str = "Dockerfile"

    def stage(self, name_or_index: str) -> Stage | None:
        """The stage a ``--target``, ``--from`` or ``FROM`` names, by name or number."""
        wanted = name_or_index.lower()
        for stage in self.stages:
            if stage.name == wanted:
                return stage
        if name_or_index.isdigit() and int(name_or_index) < len(self.stages):
            return self.stages[int(name_or_index)]
        return None
