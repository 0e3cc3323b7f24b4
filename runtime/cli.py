"""`dockyard-runtime`: runc's command-line contract over runtime.engine.

    dockyard-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...

Flags are read as runc's CLI library reads them, because podman, conmon and
containerd call runtimes that way: one or two dashes, "--flag value" or
"--flag=value", and flag parsing stops at the first positional argument (so
`exec ID ls -l` passes -l to ls).  The parser is a table instead of argparse
on purpose: the interpreter's start is part of every container's start-up
time, and argparse alone costs more than the rest of this module.
Errors are one line on stderr (and in --log, as runc writes it), exit code 1.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: dockyard-runtime [global flags] COMMAND [flags] [args]

commands:
  create  [-b BUNDLE] [--console-socket S] [--pid-file F] ID
  start   ID
  pause   ID
  resume  ID
  update  [-r RESOURCES.json|-] [--memory N] [--memory-swap N] [--memory-reservation N]
          [--cpu-period N] [--cpu-quota N] [--cpu-share N] [--cpuset-cpus L]
          [--cpuset-mems L] [--pids-limit N] ID
  run     [-b BUNDLE] [--console-socket S] [--pid-file F] [-d] [--keep] ID
  state   ID
  kill    [-a] ID [SIGNAL]
  delete  [-f] ID
  list    [-f table|json] [-q]
  ps      [-f table|json] ID [ps options]
  exec    [-p process.json] [-t] [-d] [-e K=V] [--cwd DIR] [-u UID[:GID]] [-c CAP]
          [--console-socket S] [--pid-file F] ID [COMMAND ARGS...]
  spec    [-b BUNDLE]
global flags: --root DIR (default /run/dockyard-runtime), --log FILE, --log-format text|json, --debug
"""

# flag -> (canonical name, kind): kind is "str", "bool" or "list"
_COMMON = {"console-socket": ("console_socket", "str"), "pid-file": ("pid_file", "str"),
           "no-new-keyring": ("no_new_keyring", "bool"), "preserve-fds": ("preserve_fds", "str"),
           "no-pivot": ("no_pivot", "bool")}
_BUNDLE = {"bundle": ("bundle", "str"), "b": ("bundle", "str")}
_DETACH = {"detach": ("detach", "bool"), "d": ("detach", "bool")}
_FORMAT = {"format": ("format", "str"), "f": ("format", "str")}

COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "create": {**_COMMON, **_BUNDLE},
    "run": {**_COMMON, **_BUNDLE, **_DETACH, "keep": ("keep", "bool")},
    "start": {},
    "pause": {},
    "resume": {},
    "update": {"resources": ("resources", "str"), "r": ("resources", "str"),
               **{flag: (flag.replace("-", "_"), "str") for flag in (
                   "memory", "memory-swap", "memory-reservation", "cpu-period", "cpu-quota",
                   "cpu-share", "cpuset-cpus", "cpuset-mems", "pids-limit")}},
    "state": {},
    "kill": {"all": ("all", "bool"), "a": ("all", "bool")},
    "delete": {"force": ("force", "bool"), "f": ("force", "bool")},
    "list": {**_FORMAT, "quiet": ("quiet", "bool"), "q": ("quiet", "bool")},
    "ps": _FORMAT,
    "exec": {**_COMMON, **_DETACH,
             "process": ("process", "str"), "p": ("process", "str"),
             "tty": ("tty", "bool"), "t": ("tty", "bool"),
             "env": ("env", "list"), "e": ("env", "list"),
             "cwd": ("cwd", "str"), "user": ("user", "str"), "u": ("user", "str"),
             "additional-gids": ("additional_gids", "list"), "g": ("additional_gids", "list"),
             "cap": ("cap", "list"), "c": ("cap", "list"),
             "no-new-privs": ("no_new_privs", "bool"), "ignore-paused": ("ignore_paused", "bool"),
             "apparmor": ("apparmor", "str"), "process-label": ("process_label", "str")},
    "spec": {**_BUNDLE, "rootless": ("rootless", "bool")},
}

GLOBAL = {"root": ("root", "str"), "log": ("log", "str"), "log-format": ("log_format", "str"),
          "debug": ("debug", "bool"), "systemd-cgroup": ("systemd_cgroup", "bool"),
          "rootless": ("rootless", "str"), "criu": ("criu", "str"),
          "help": ("help", "bool"), "h": ("help", "bool"),
          "version": ("version", "bool"), "v": ("version", "bool")}


class UsageError(Exception):
    pass


def parse(argv: list[str], table: dict[str, tuple[str, str]]) -> tuple[dict, list[str]]:
    """(options, remaining arguments) of argv read against a flag table."""
    opts: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.lstrip("-").partition("=")
        if name not in table:
            raise UsageError(f"flag provided but not defined: {arg}")
        key, kind = table[name]
        if kind == "bool":
            opts[key] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i == len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                value = argv[i]
            if kind == "list":
                opts.setdefault(key, []).append(value)
            else:
                opts[key] = value
        i += 1
    return opts, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    glob: dict = {}
    try:
        glob, rest = parse(argv, GLOBAL)
        if glob.get("version"):
            print("dockyard-runtime version 0.1.0\nspec: 1.0.2")
            return 0
        if glob.get("help") or not rest:
            print(USAGE, end="")
            return 0 if glob.get("help") else 2
        if glob.get("systemd_cgroup"):
            raise UsageError("--systemd-cgroup is not supported: cgroups are managed through the "
                             "cgroup filesystem only")
        command, rest = rest[0], rest[1:]
        if command not in COMMANDS:
            raise UsageError(f"unknown command {command!r}")
        opts, args = parse(rest, COMMANDS[command])
        if command in ("create", "run", "exec"):
            from runtime.cgroups import warmup
            warmup.start()
        from runtime import commands
        return getattr(commands, "cmd_" + command)(glob.get("root") or _default_root(), opts, args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if glob.get("debug"):
            raise
        _report(glob, e)
        return 1


def entry() -> None:
    """The installed command (bin/dockyard-runtime): main(), then exit at once.

    Everything the command writes is written and flushed by then; the
    interpreter's own clean-up (tearing down every module) would only add
    milliseconds to each container's start-to-exit time.  The cyclic garbage
    collector is off: a command runs briefly or waits for its container, and
    what it allocates (most of it while importing, where collections cost
    0.2-0.8 ms of a `run`) is freed by reference counting or at exit.
    """
    import gc

    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = code or 1
    os._exit(code)


def _default_root() -> str:
    from runtime.state import DEFAULT_ROOT
    return DEFAULT_ROOT


def _report(glob: dict, error: Exception) -> None:
    """One line on stderr, and the same in --log (JSON lines with --log-format json, as conmon reads)."""
    message = str(error) or type(error).__name__
    print(f"dockyard-runtime: {message}", file=sys.stderr)
    if not glob.get("log"):
        return
    import time
    if glob.get("log_format") == "json":
        import json
        line = json.dumps({"level": "error", "msg": message,
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    else:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} error: {message}"
    try:
        with open(glob["log"], "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
