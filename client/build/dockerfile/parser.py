"""Parse a Dockerfile into stages of typed instructions, or say precisely what is wrong.

This is the syntax half of the Dockerfile reference: which words each
instruction takes, its flags, exec versus shell form, heredocs. Variable
substitution is not done here; it depends on build arguments and on the
stage's state at each step (see ``scope``).
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Callable

from . import instructions as ins
from .errors import DockerfileError
from .source import LogicalLine, Source
from .syntax import (
    Flags, NotJSON, extract_flags, heredoc_marker, heredoc_markers, json_array, quoted_words,
    split_instruction, split_whitespace)

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_NS_PER_SECOND = 1_000_000_000
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": _NS_PER_SECOND,
                   "m": 60 * _NS_PER_SECOND, "h": 3600 * _NS_PER_SECOND}


def parse(text: str, path: str = "Dockerfile") -> ins.Dockerfile:
    """Parse Dockerfile ``text``; errors name ``path`` and the line."""
    source = Source(text, path)
    meta_args: list[ins.Arg] = []
    stages: list[ins.Stage] = []
    while (line := source.next_line()) is not None:
        try:
            instruction = _Line(line, source).instruction()
        except DockerfileError as err:
            raise err.located(line.start, path) from None
        if isinstance(instruction, ins.From):
            stages.append(ins.Stage(len(stages), instruction))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif isinstance(instruction, ins.Arg):
            meta_args.append(instruction)
        else:
            raise DockerfileError(
                f"{instruction.keyword} before the first FROM: only ARG may come before it "
                "(no build stage in current context)", line.start, path)
    if not stages:
        what = "no FROM instruction" if meta_args else "file with no instructions"
        raise DockerfileError(what, None if meta_args else source.index or None, path)
    _check_stage_names(stages, path)
    directives = dict(source.directives.values)
    warnings = list(source.warnings)
    if "syntax" in directives:
        warnings.insert(0, f"{path}: '# syntax={directives['syntax']}' noted and ignored: "
                           "dockyard always uses its built-in Dockerfile frontend")
    return ins.Dockerfile(meta_args, stages, source.escape, directives, warnings, path)


def _check_stage_names(stages: list[ins.Stage], path: str) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.name is None:
            continue
        if stage.name in seen:
            raise DockerfileError(f"duplicate stage name {stage.name!r}", stage.source.line, path)
        seen.add(stage.name)


class _Line:
    """One logical line being turned into an instruction."""

    def __init__(self, line: LogicalLine, source: Source, text: str | None = None) -> None:
        self.line = line
        self.source = source
        self.text = line.text if text is None else text
        word, rest = split_instruction(self.text)
        self.keyword = word.upper()
        self.flag_words, self.rest = extract_flags(rest)

    def instruction(self) -> ins.Instruction:
        parse_fn = _PARSERS.get(self.keyword)
        if parse_fn is None:
            raise DockerfileError(self._unknown())
        return parse_fn(self)

    def _unknown(self) -> str:
        keyword = split_instruction(self.text)[0]
        close = difflib.get_close_matches(self.keyword, list(_PARSERS), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown instruction: {keyword}{hint}"

    def common(self) -> dict[str, object]:
        return {"line": self.line.start, "text": self.text.strip()}

    def flags(self, **declared: tuple[str, ...]) -> Flags:
        return Flags(self.flag_words, self.keyword, **declared)

    def no_flags(self) -> None:
        self.flags()

    def one_argument(self) -> str:
        self.no_flags()
        if not self.rest.strip():
            raise DockerfileError(f"{self.keyword} requires exactly one argument")
        return self.rest.strip()

    def at_least_one(self, args: list[str]) -> list[str]:
        if not args:
            raise DockerfileError(f"{self.keyword} requires at least one argument")
        return args

    def json_or_words(self) -> tuple[list[str], bool]:
        """COPY/ADD/VOLUME arguments: a JSON array, or words split on whitespace."""
        try:
            return json_array(self.rest), True
        except NotJSON:
            return split_whitespace(self.rest), False

    def command_line(self) -> ins.CommandLine:
        """RUN/CMD/ENTRYPOINT arguments: JSON exec form, else the text for the shell."""
        try:
            return ins.CommandLine(tuple(json_array(self.rest)), shell=False)
        except NotJSON:
            text = self.rest.strip()
            if not text:
                raise DockerfileError(f"{self.keyword} requires at least one argument") from None
            return ins.CommandLine((text,), shell=True)

    def heredocs(self, is_json: bool) -> tuple[ins.Heredoc, ...]:
        """Read the bodies of the heredocs this line opens (none in exec form)."""
        if is_json:
            return ()
        docs = []
        for marker in heredoc_markers(self.rest):
            content = self.source.heredoc_body(marker.name, marker.chomp, self.line.start)
            if marker.chomp:
                content = re.sub(r"(?m)^\t+", "", content)
            docs.append(ins.Heredoc(marker.name, content, marker.expand, marker.chomp, marker.fd))
        return tuple(docs)


def _from(p: _Line) -> ins.From:
    flags = p.flags(strings=("platform",))
    args = split_whitespace(p.rest)
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(f"invalid name for build stage: {args[2]!r}, name can't start "
                                  "with a number or contain symbols")
    elif len(args) != 1:
        raise DockerfileError("FROM requires either one argument (FROM image) or three "
                              "(FROM image AS name)")
    return ins.From(**p.common(), image=args[0], name=name, platform=flags.string("platform"))


def _arg(p: _Line) -> ins.Arg:
    p.no_flags()
    pairs = []
    for word in p.at_least_one(quoted_words(p.rest, p.source.escape)):
        name, has_value, value = word.partition("=")
        if not name:
            raise DockerfileError("ARG names can not be blank")
        pairs.append((name, value if has_value else None))
    return ins.Arg(**p.common(), args=tuple(pairs))


def _key_values(p: _Line) -> tuple[tuple[str, str], ...]:
    """ENV/LABEL: ``key=value ...``, or the legacy ``key value with spaces``."""
    p.no_flags()
    words = p.at_least_one(quoted_words(p.rest, p.source.escape))
    if "=" not in words[0]:
        parts = split_whitespace(p.rest)
        if len(parts) < 2:
            raise DockerfileError(f"{p.keyword} must have two arguments: {p.keyword} key value, "
                                  f"or {p.keyword} key=value ...")
        key, value = re.split(r"[\t\v\f\r ]+", p.rest.strip(), maxsplit=1)
        return ((key, value),)
    pairs = []
    for word in words:
        key, has_value, value = word.partition("=")
        if not has_value:
            raise DockerfileError(f"Syntax error - can't find = in {word!r}. Must be of the form: "
                                  "name=value")
        if not key:
            raise DockerfileError(f"{p.keyword} names can not be blank")
        pairs.append((key, value))
    return tuple(pairs)


def _env(p: _Line) -> ins.Env:
    return ins.Env(**p.common(), pairs=_key_values(p))


def _label(p: _Line) -> ins.Label:
    return ins.Label(**p.common(), pairs=_key_values(p))


def _mount(spec: str) -> ins.Mount:
    """``--mount=type=cache,target=/root/.cache,sharing=locked`` as a Mount."""
    fields: dict[str, str] = {}
    readonly = False
    for item in _csv(spec):
        key, has_value, value = item.partition("=")
        key = key.strip().lower()
        if key in ("ro", "readonly", "rw", "readwrite") and (not has_value or value in
                                                                ("true", "false")):
            readonly = (key in ("ro", "readonly")) == (value != "false")
            continue
        if key == "required" and not has_value:
            value = "true"
        elif not has_value:
            raise DockerfileError(f"invalid --mount option {item!r}: expected key=value")
        if key in ("dst", "destination"):
            key = "target"
        elif key == "src":
            key = "source"
        fields[key] = value
    kind = fields.pop("type", "bind")
    if kind not in ("bind", "cache", "tmpfs", "secret", "ssh"):
        raise DockerfileError(f"unsupported mount type {kind!r}: expected bind, cache, tmpfs, "
                              "secret or ssh")
    target = fields.pop("target", None)
    if target is None and kind in ("bind", "cache", "tmpfs"):
        raise DockerfileError(f"--mount=type={kind} needs a target: "
                              f"--mount=type={kind},target=/path")
    return ins.Mount(kind, target, fields.pop("source", None), fields.pop("from", None),
                     fields.pop("id", None), readonly, tuple(sorted(fields.items())))


def _csv(spec: str) -> list[str]:
    """Comma-separated fields where a field may be double-quoted (``"a,b"``)."""
    return next(csv.reader([spec]), [])


def _run(p: _Line) -> ins.Run:
    flags = p.flags(strings=("network", "security"), lists=("mount",))
    network = flags.string("network")
    if network is not None and network not in ("default", "none", "host"):
        raise DockerfileError(f"unsupported --network={network}: expected default, none or host")
    command = p.command_line()
    return ins.Run(**p.common(), command=command, heredocs=p.heredocs(not command.shell),
                   mounts=tuple(_mount(spec) for spec in flags.list("mount")),
                   network=network, security=flags.string("security"))


def _cmd(p: _Line) -> ins.Cmd:
    p.no_flags()
    return ins.Cmd(**p.common(), command=p.command_line())


def _entrypoint(p: _Line) -> ins.Entrypoint:
    p.no_flags()
    return ins.Entrypoint(**p.common(), command=p.command_line())


def _shell(p: _Line) -> ins.Shell:
    p.no_flags()
    try:
        argv = json_array(p.rest)
    except NotJSON:
        raise DockerfileError('SHELL requires the arguments to be in JSON form: '
                              'SHELL ["executable", "parameters"]') from None
    return ins.Shell(**p.common(), argv=tuple(p.at_least_one(argv)))


def _transfer_args(p: _Line) -> tuple[dict[str, object], Flags]:
    """Sources, destination and heredocs of COPY/ADD, and their shared flags."""
    if p.keyword == "COPY":
        declared = {"strings": ("chown", "chmod", "from"), "bools": ("link", "parents"),
                    "lists": ("exclude",)}
    else:
        declared = {"strings": ("chown", "chmod", "checksum"), "bools": ("link", "keep-git-dir"),
                    "lists": ("exclude",)}
    flags = p.flags(**declared)
    args, is_json = p.json_or_words()
    if len(args) < 2:
        raise DockerfileError(f"{p.keyword} requires at least two arguments, but only "
                              f"{len(args) or 'none'} {'was' if len(args) == 1 else 'were'} "
                              "provided: sources then a destination")
    *sources, dest = args
    if heredoc_marker(dest) is not None:
        raise DockerfileError(f"{p.keyword} cannot take a heredoc as its destination")
    docs = {doc.name: doc for doc in p.heredocs(is_json)}
    inline = tuple(docs[m.name] for src in sources if (m := heredoc_marker(src)) and not is_json)
    paths = tuple(src for src in sources if is_json or heredoc_marker(src) is None)
    fields = {**p.common(), "sources": paths, "dest": dest, "heredocs": inline,
              "chown": flags.string("chown"), "chmod": flags.string("chmod"),
              "link": flags.bool("link"), "exclude": tuple(flags.list("exclude"))}
    return fields, flags


def _copy(p: _Line) -> ins.Copy:
    fields, flags = _transfer_args(p)
    return ins.Copy(**fields, from_=flags.string("from"), parents=flags.bool("parents"))


def _add(p: _Line) -> ins.Add:
    fields, flags = _transfer_args(p)
    return ins.Add(**fields, checksum=flags.string("checksum"),
                   keep_git_dir=flags.bool("keep-git-dir"))


def _workdir(p: _Line) -> ins.Workdir:
    return ins.Workdir(**p.common(), path=p.one_argument())


def _user(p: _Line) -> ins.User:
    return ins.User(**p.common(), user=p.one_argument())


def _stopsignal(p: _Line) -> ins.StopSignal:
    return ins.StopSignal(**p.common(), signal=p.one_argument())


def _maintainer(p: _Line) -> ins.Maintainer:
    return ins.Maintainer(**p.common(), name=p.one_argument())


def _expose(p: _Line) -> ins.Expose:
    p.no_flags()
    return ins.Expose(**p.common(), ports=tuple(p.at_least_one(split_whitespace(p.rest))))


def _volume(p: _Line) -> ins.Volume:
    p.no_flags()
    paths, _ = p.json_or_words()
    p.at_least_one(paths)
    if any(not path.strip() for path in paths):
        raise DockerfileError("VOLUME specified can not be an empty string")
    return ins.Volume(**p.common(), paths=tuple(paths))


def _healthcheck(p: _Line) -> ins.Healthcheck:
    kind, rest = split_instruction(p.rest)
    kind = kind.upper()
    if not kind:
        raise DockerfileError("HEALTHCHECK requires at least one argument: NONE or CMD ...")
    if kind == "NONE":
        p.no_flags()
        if rest.strip():
            raise DockerfileError("HEALTHCHECK NONE takes no arguments")
        return ins.Healthcheck(**p.common(), test=("NONE",))
    if kind != "CMD":
        raise DockerfileError(f"unknown type {kind!r} in HEALTHCHECK (try CMD)")
    flags = p.flags(strings=("interval", "timeout", "start-period", "start-interval", "retries"))
    p.rest = rest
    try:
        command = p.command_line()
    except DockerfileError:
        raise DockerfileError("missing command after HEALTHCHECK CMD") from None
    test = ("CMD-SHELL", *command.args) if command.shell else ("CMD", *command.args)
    durations = {name.replace("-", "_"): _duration(flags, name)
                 for name in ("interval", "timeout", "start-period", "start-interval")}
    return ins.Healthcheck(**p.common(), test=test, retries=_retries(flags), **durations)


def _duration(flags: Flags, name: str) -> int:
    """A Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds; at least 1ms if set."""
    text = flags.string(name)
    if not text:
        return 0
    matches = list(_DURATION.finditer(text))
    if not matches or "".join(m.group(0) for m in matches) != text:
        raise DockerfileError(f"invalid duration for --{name}: {text!r} (expected e.g. 30s, "
                              "1m30s, 500ms)")
    total = sum(round(float(m.group(1)) * _DURATION_UNITS[m.group(2)]) for m in matches)
    if total < 1_000_000:
        raise DockerfileError(f"--{name} cannot be less than 1ms")
    return total


def _retries(flags: Flags) -> int:
    text = flags.string("retries")
    if text is None:
        return 0
    try:
        retries = int(text)
    except ValueError:
        raise DockerfileError(f"invalid --retries value {text!r}: expected a number") from None
    if retries < 1:
        raise DockerfileError(f"--retries must be at least 1 (not {retries})")
    return retries


def _onbuild(p: _Line) -> ins.Onbuild:
    p.no_flags()
    expression = p.rest.strip()
    if not expression:
        raise DockerfileError("ONBUILD requires at least one argument")
    trigger_word = split_instruction(expression)[0].upper()
    if trigger_word == "ONBUILD":
        raise DockerfileError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger_word in ("FROM", "MAINTAINER"):
        raise DockerfileError(f"{trigger_word} isn't allowed as an ONBUILD trigger")
    trigger = _Line(p.line, p.source, expression).instruction()
    docs = getattr(trigger, "heredocs", ())
    expression += "".join(f"\n{doc.content}{doc.name}" for doc in docs)
    return ins.Onbuild(**p.common(), expression=expression, trigger=trigger)


_PARSERS: dict[str, Callable[[_Line], ins.Instruction]] = {
    "FROM": _from, "ARG": _arg, "ENV": _env, "LABEL": _label, "RUN": _run, "CMD": _cmd,
    "ENTRYPOINT": _entrypoint, "SHELL": _shell, "COPY": _copy, "ADD": _add,
    "WORKDIR": _workdir, "USER": _user, "STOPSIGNAL": _stopsignal, "EXPOSE": _expose,
    "VOLUME": _volume, "HEALTHCHECK": _healthcheck, "ONBUILD": _onbuild,
    "MAINTAINER": _maintainer,
}
