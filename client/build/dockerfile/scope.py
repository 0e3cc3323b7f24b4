"""Which variables an instruction sees, and the instruction after substitution.

Docker's scoping rules, which decide what ``$VAR`` means at each step:

* ARGs before the first FROM are global: they are visible in FROM lines only,
  and a stage sees one only after redeclaring it (``ARG NAME``, no value);
* an ARG's value is its ``--build-arg`` if given, else its default (expanded
  where it is declared), else the global ARG's value of the same name;
* inside a stage, an ARG is visible from its declaration to the end of the
  stage, and ENV (including the base image's) wins over an ARG of that name;
* within one ENV or ARG instruction, every value is expanded with the
  variables as they were *before* that instruction;
* Docker's predefined proxy ARGs may be given without a declaration and
  reach RUN's environment, but not the image or the cache key;
* the platform ARGs (TARGETPLATFORM, BUILDARCH, ...) are global.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from . import instructions as ins
from .errors import DockerfileError
from .lexer import ShellLexer

T = TypeVar("T")

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


def platform_args(target: str, build: str) -> dict[str, str]:
    """The automatic ``TARGET*``/``BUILD*`` args for ``os/arch[/variant]`` platforms."""
    values: dict[str, str] = {}
    for prefix, platform in (("TARGET", target), ("BUILD", build)):
        os_name, arch, variant = (platform.split("/") + ["", ""])[:3]
        values.update({f"{prefix}PLATFORM": platform, f"{prefix}OS": os_name,
                       f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant})
    return values


@dataclass
class Substitution:
    """``Substitute`` over one environment, remembering which names it used."""
    lexer: ShellLexer
    env: Mapping[str, str]
    used: set[str] = field(default_factory=set)

    def word(self, text: str) -> str:
        expansion = self.lexer.process(text, self.env)
        self.used |= expansion.matched
        return expansion.result

    def words(self, text: str) -> list[str]:
        expansion = self.lexer.process(text, self.env)
        self.used |= expansion.matched
        return expansion.words

    def body(self, text: str) -> str:
        lexer = dataclasses.replace(self.lexer, skip_quotes=True, raw_escapes=True)
        expansion = lexer.process(text, self.env)
        self.used |= expansion.matched
        return expansion.result


def global_args(dockerfile: ins.Dockerfile, build_args: Mapping[str, str],
                automatic: Mapping[str, str] = {}) -> dict[str, str]:
    """The values of the ARGs declared before the first FROM (plus the automatic ones)."""
    values = dict(automatic)
    lexer = ShellLexer(dockerfile.escape)
    for arg in dockerfile.meta_args:
        expanded = _located(lambda: arg.expand(Substitution(lexer, values)), arg, dockerfile)
        for name, default in expanded.args:
            if name in build_args:
                values[name] = build_args[name]
            elif default is not None:
                values[name] = default
    return values


def expand_from(stage: ins.Stage, globals_: Mapping[str, str],
                dockerfile: ins.Dockerfile) -> ins.From:
    """A stage's FROM with the global ARGs substituted (it sees nothing else)."""
    sub = Substitution(ShellLexer(dockerfile.escape), globals_)
    source = _located(lambda: stage.source.expand(sub), stage.source, dockerfile)
    if not source.image:
        raise DockerfileError("base name (" + stage.source.image + ") should not be blank",
                              stage.source.line, dockerfile.path)
    return source


@dataclass
class StageScope:
    """The variables at the current step of one stage; ``step`` moves it forward."""
    dockerfile: ins.Dockerfile
    build_args: Mapping[str, str]
    globals_: Mapping[str, str]
    env: dict[str, str] = field(default_factory=dict)   # ENV, starting from the base image's
    args: dict[str, str] = field(default_factory=dict)  # ARGs declared in this stage, with a value

    def variables(self) -> dict[str, str]:
        return {**self.args, **self.env}

    def step(self, instruction: ins.Instruction) -> tuple[ins.Instruction, dict[str, str]]:
        """``instruction`` expanded, and the ARGs (name: value) its result depends on.

        RUN depends on every ARG in scope, since they are in its environment;
        other instructions on the ARGs their substitutions read.
        """
        sub = Substitution(ShellLexer(self.dockerfile.escape), self.variables())
        expanded = _located(lambda: instruction.expand(sub), instruction, self.dockerfile)
        if isinstance(expanded, ins.Arg):
            self._declare(expanded)
        elif isinstance(expanded, ins.Env):
            self.env.update(expanded.pairs)
        names: Iterable[str] = self.args if isinstance(expanded, ins.Run) else sub.used
        used = {name: self.args[name] for name in sorted(names)
                if name in self.args and name not in self.env}
        return expanded, used

    def _declare(self, arg: ins.Arg) -> None:
        for name, default in arg.args:
            if name in self.build_args:
                self.args[name] = self.build_args[name]
            elif default is not None:
                self.args[name] = default
            elif name in self.globals_:
                self.args[name] = self.globals_[name]

    def run_environment(self) -> dict[str, str]:
        """RUN's environment: ENV, then in-scope ARGs, then undeclared proxy build args."""
        proxies = {name: self.build_args[name] for name in PROXY_ARGS
                   if name in self.build_args}
        return {**proxies, **self.args, **self.env}


def _located(expand: Callable[[], T], instruction: ins.Instruction,
             dockerfile: ins.Dockerfile) -> T:
    try:
        return expand()
    except DockerfileError as err:
        raise err.located(instruction.line, dockerfile.path) from None


def env_from_list(entries: Iterable[str]) -> dict[str, str]:
    """An image config's ``Env`` (``KEY=value`` strings) as a mapping."""
    env: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        env[key] = value
    return env


def unconsumed_build_args(dockerfile: ins.Dockerfile, build_args: Mapping[str, str]) -> list[str]:
    """``--build-arg`` names no ARG declares (Docker warns about them; proxies excepted)."""
    declared = {name for arg in dockerfile.meta_args for name, _ in arg.args}
    declared |= {name for stage in dockerfile.stages for instruction in stage.instructions
                 if isinstance(instruction, ins.Arg) for name, _ in instruction.args}
    return sorted(set(build_args) - declared - set(PROXY_ARGS))
