"""`cmd_<command>` for each `dockyard-runtime` command: (state root, flags, arguments) -> exit code.

Turns runc's flags into engine calls and prints what runc prints (state
as one line of JSON, which is what its readers parse); imported
only once the command line has been read, so `--help` costs no engine import.
"""

from __future__ import annotations

import os
import sys

from runtime import engine, jsonio, spec


def cmd_create(root: str, opts: dict, args: list[str]) -> int:
    _refuse_no_pivot(opts)
    engine.create(_id(args), opts.get("bundle") or ".", root,
                  opts.get("console_socket"), opts.get("pid_file"), _preserve_fds(opts))
    return 0


def cmd_run(root: str, opts: dict, args: list[str]) -> int:
    _refuse_no_pivot(opts)
    return engine.run(_id(args), opts.get("bundle") or ".", root, opts.get("console_socket"),
                      opts.get("pid_file"), detach=opts.get("detach", False), keep=opts.get("keep", False),
                      preserve_fds=_preserve_fds(opts))


def cmd_start(root: str, opts: dict, args: list[str]) -> int:
    engine.start(_id(args), root)
    return 0


def cmd_pause(root: str, opts: dict, args: list[str]) -> int:
    engine.pause(_id(args), root)
    return 0


def cmd_resume(root: str, opts: dict, args: list[str]) -> int:
    engine.resume(_id(args), root)
    return 0


def cmd_update(root: str, opts: dict, args: list[str]) -> int:
    """runc's update: a linux.resources document (-r FILE, or - for stdin) and/or flags."""
    resources: dict = {}
    if opts.get("resources"):
        if opts["resources"] == "-":
            resources = jsonio.loads(sys.stdin.buffer.read())
        else:
            resources = jsonio.load_file(opts["resources"])
        if not isinstance(resources, dict):
            raise ValueError("--resources: expected a JSON object (linux.resources)")
    for flag, (section, key, parse) in _UPDATE_FLAGS.items():
        if opts.get(flag) is not None:
            resources.setdefault(section, {})[key] = parse(opts[flag])
    engine.update(_id(args), resources, root)
    return 0


def _bytes(text: str) -> int:
    """A size as runc's flags take it: bytes, or with a k, m, g or t suffix (binary); -1 is unlimited."""
    number = text.strip().lower().removesuffix("b")
    scale = 1
    if number[-1:] in _UNITS:
        scale, number = _UNITS[number[-1]], number[:-1]
    try:
        value = int(number)
    except ValueError:
        raise ValueError(f"invalid size {text!r}") from None
    return -1 if value < 0 else value * scale


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"invalid number {text!r}") from None


_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# update's flags -> (linux.resources section, key, parser)
_UPDATE_FLAGS = {
    "memory": ("memory", "limit", _bytes), "memory_swap": ("memory", "swap", _bytes),
    "memory_reservation": ("memory", "reservation", _bytes),
    "cpu_period": ("cpu", "period", _number), "cpu_quota": ("cpu", "quota", _number),
    "cpu_share": ("cpu", "shares", _number), "cpuset_cpus": ("cpu", "cpus", str),
    "cpuset_mems": ("cpu", "mems", str), "pids_limit": ("pids", "limit", _number),
}


def cmd_state(root: str, opts: dict, args: list[str]) -> int:
    print(jsonio.dumps(engine.container_state(_id(args), root)))
    return 0


def cmd_kill(root: str, opts: dict, args: list[str]) -> int:
    if not 1 <= len(args) <= 2:
        raise ValueError("kill needs a container id and optionally a signal")
    engine.kill(args[0], parse_signal(args[1] if len(args) == 2 else "TERM"), root,
                all_processes=opts.get("all", False))
    return 0


def cmd_delete(root: str, opts: dict, args: list[str]) -> int:
    engine.delete(_id(args), root, force=opts.get("force", False))
    return 0


def cmd_list(root: str, opts: dict, args: list[str]) -> int:
    containers = engine.list_containers(root)
    if opts.get("quiet"):
        for c in containers:
            print(c["id"])
    elif opts.get("format") == "json":
        print(jsonio.dumps(containers))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(c["id"], str(c["pid"]), c["status"], c["bundle"], c["created"], c["owner"] or "root")
                 for c in containers]
        _print_table(rows)
    return 0


def cmd_ps(root: str, opts: dict, args: list[str]) -> int:
    if not args:
        raise ValueError("ps needs a container id")
    pids = engine.pids(args[0], root)
    if opts.get("format") == "json":
        print(jsonio.dumps(pids))
        return 0
    import subprocess
    lines = subprocess.run(["ps", *(args[1:] or ["-ef"])], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    header = lines[0].split()
    column = header.index("PID")
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            print(line)
    return 0


def cmd_exec(root: str, opts: dict, args: list[str]) -> int:
    if not args:
        raise ValueError("exec needs a container id")
    container_id, command = args[0], args[1:]
    if opts.get("process"):
        process = jsonio.load_file(opts["process"])
    else:
        config = engine.load_config(container_id, root)
        process = exec_process(config["process"], command, opts)
    return engine.exec_process(container_id, process, root, opts.get("console_socket"),
                               opts.get("pid_file"), detach=opts.get("detach", False),
                               preserve_fds=_preserve_fds(opts))


def cmd_spec(root: str, opts: dict, args: list[str]) -> int:
    path = os.path.join(opts.get("bundle") or ".", "config.json")
    import json

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump(spec.default_config(), f, indent=2)
    return 0



def exec_process(base: dict, command: list[str], opts: dict) -> dict:
    """runc exec's process: the container's own, with the flags' changes."""
    if not command:
        raise ValueError("exec needs a command (or --process)")
    process = jsonio.loads(jsonio.dumps(base))
    process["args"] = command
    process["env"] = (process.get("env") or []) + opts.get("env", [])
    process["terminal"] = opts.get("tty", False)
    if opts.get("cwd"):
        process["cwd"] = opts["cwd"]
    if opts.get("user"):
        uid, _, gid = opts["user"].partition(":")
        process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if opts.get("additional_gids"):
        process.setdefault("user", {})["additionalGids"] = [int(g) for g in opts["additional_gids"]]
    if opts.get("cap"):
        caps = process.setdefault("capabilities", {})
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = sorted(set(caps.get(kind) or []) | set(opts["cap"]))
        # ambient as runc: only where inheritable already has it (the kernel's rule)
        inheritable = set(caps.get("inheritable") or [])
        caps["ambient"] = sorted(set(caps.get("ambient") or []) | (set(opts["cap"]) & inheritable))
    if opts.get("no_new_privs"):
        process["noNewPrivileges"] = True
    return process


def parse_signal(text: str) -> int:
    """'9', 'KILL' or 'SIGKILL' -> 9."""
    if text.isdigit():
        return int(text)
    import signal

    name = text.upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise ValueError(f"unknown signal {text!r}") from None


def _id(args: list[str]) -> str:
    if len(args) != 1:
        raise ValueError("expected exactly one container id")
    return args[0]


def _preserve_fds(opts: dict) -> int:
    text = opts.get("preserve_fds") or "0"
    if not text.isdigit():
        raise ValueError(f"--preserve-fds: expected a number of descriptors, got {text!r}")
    return int(text)


def _refuse_no_pivot(opts: dict) -> None:
    if opts.get("no_pivot"):
        raise ValueError("--no-pivot is not supported: the root is always changed with pivot_root")


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
