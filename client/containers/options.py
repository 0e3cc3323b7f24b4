"""``create``/``run`` flags, and what they become: Docker's ``Config`` and ``HostConfig``.

The record keeps Docker's own two objects (so ``inspect`` shows what Docker
shows), merged with the image config once, at create time, by Docker's
rules:

- ``--entrypoint`` replaces the image's ENTRYPOINT and drops its CMD
  (``--entrypoint ""`` clears both); arguments after the image replace CMD;
- ``-e``/``--env-file`` override the image's variables by name, in order,
  ``-e NAME`` copying NAME from the client's environment when it is set;
- ``-w`` must be absolute; ``-u`` is resolved later, in the container's root.

Values are checked here, so a bad flag fails before anything is created.
"""

from __future__ import annotations

import os
import re

from client.errors import DockyardError

from . import networking

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    import argparse

    from .image import Image

CPU_PERIOD = 100_000  # microseconds: Docker's --cpus period
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses smaller --memory limits
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp])?i?b?", re.IGNORECASE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags ``create`` and ``run`` share, then IMAGE [COMMAND [ARG...]].

    The parser is made with add_help=False: ``-h`` is ``--hostname``, as in Docker.
    """
    add = parser.add_argument
    add("--help", action="help", help="Show this help message and exit")
    add("--name", help="Assign a name to the container")
    add("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    add("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    add("-e", "--env", action="append", default=[], metavar="LIST",
        help="Set environment variables")
    add("--env-file", action="append", default=[], metavar="FILE",
        help="Read in a file of environment variables")
    add("-w", "--workdir", metavar="DIR", help="Working directory inside the container")
    add("-u", "--user", metavar="USER", help="Username or UID (format: <name|uid>[:<group|gid>])")
    add("--entrypoint", metavar="CMD", help="Overwrite the default ENTRYPOINT of the image")
    add("-h", "--hostname", help="Container host name")
    add("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]",
        help="Bind mount a host directory or file")
    add("--tmpfs", action="append", default=[], metavar="PATH[:OPTIONS]",
        help="Mount a tmpfs directory")
    add("-m", "--memory", metavar="BYTES", help="Memory limit (e.g. 64m)")
    add("--memory-swap", metavar="BYTES",
        help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    add("--cpus", metavar="DECIMAL", help="Number of CPUs")
    add("--cpuset-cpus", metavar="LIST", help="CPUs in which to allow execution (0-3, 0,1)")
    add("--pids-limit", type=int, metavar="N", help="Tune container pids limit (-1 for unlimited)")
    add("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    add("--cap-add", action="append", default=[], metavar="CAP", help="Add Linux capabilities")
    add("--cap-drop", action="append", default=[], metavar="CAP", help="Drop Linux capabilities")
    add("--privileged", action="store_true", help="Give extended privileges to this container")
    add("--security-opt", action="append", default=[], metavar="OPT",
        help="Security options (no-new-privileges, seccomp=unconfined)")
    add("--init", action="store_true",
        help="Run an init inside the container that forwards signals and reaps processes")
    add("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]", help="Ulimit options")
    add("--rm", action="store_true", help="Automatically remove the container when it exits")
    add("--network", "--net", default="bridge", metavar="MODE",
        help="Connect a container to a network: bridge (default), none, host, container:NAME "
             "or a network's name")
    networking.add_arguments(add)
    add("--runtime", default="dockyard", metavar="RUNTIME",
        help="Runtime to use: dockyard (built in), crun, runc or a path to an OCI runtime")
    add("--stop-signal", metavar="SIGNAL", help="Signal to stop the container")
    add("--stop-timeout", type=int, metavar="SECONDS", help="Timeout to stop the container")
    add("image", metavar="IMAGE")
    add("command", nargs="...", metavar="COMMAND")


def parse_bytes(text: str, what: str) -> int:
    """Docker's RAMInBytes: ``64m``, ``1.5g``, ``512k``, ``1024`` (binary multiples)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise DockyardError(f"invalid {what} {text!r}: expected a size such as 64m or 1g")
    power = " kmgtp".index((match[2] or " ").lower())
    return int(float(match[1]) * 1024 ** power)


def host_config(args: argparse.Namespace) -> dict:
    """HostConfig from the flags, every value checked."""
    from runtime.capabilities import CapabilityError, normalize
    from runtime.rlimits import RlimitError, parse_ulimit

    memory = parse_bytes(args.memory, "memory") if args.memory else 0
    if memory and memory < MIN_MEMORY:
        raise DockyardError("Minimum memory limit allowed is 6MB")
    swap = 0
    if args.memory_swap:
        swap = -1 if args.memory_swap.strip() == "-1" else parse_bytes(args.memory_swap, "memory-swap")
        if not memory:
            raise DockyardError("You should always set the Memory limit when using Memoryswap limit")
        if 0 < swap < memory:
            raise DockyardError("Minimum memoryswap limit should be larger than memory limit, "
                                "see usage")
    nano_cpus = 0
    if args.cpus:
        try:
            nano_cpus = round(float(args.cpus) * 1e9)
        except ValueError:
            raise DockyardError(f"invalid argument {args.cpus!r} for --cpus") from None
        if nano_cpus <= 0 or nano_cpus > (os.cpu_count() or 1) * 10**9:
            raise DockyardError(f"range of CPUs is from 0.01 to {os.cpu_count()}.00, as there are "
                                f"only {os.cpu_count()} CPUs available")
    try:
        cap_add = [normalize(c) for c in args.cap_add]
        cap_drop = [normalize(c) for c in args.cap_drop]
        ulimits = [parse_ulimit(u) for u in args.ulimit]
    except (CapabilityError, RlimitError) as err:
        raise DockyardError(str(err)) from None
    for opt in args.security_opt:
        if opt not in ("no-new-privileges", "no-new-privileges:true", "seccomp=unconfined",
                       "seccomp:unconfined"):
            raise DockyardError(f"unsupported --security-opt {opt!r}")
    return {
        "Binds": [check_bind(v) for v in args.volume],
        "Tmpfs": dict(parse_tmpfs(t) for t in args.tmpfs),
        "NetworkMode": args.network,
        "AutoRemove": args.rm,
        "Privileged": args.privileged,
        "ReadonlyRootfs": args.read_only,
        "CapAdd": cap_add or None,
        "CapDrop": cap_drop or None,
        "SecurityOpt": args.security_opt or None,
        "Init": args.init or None,
        "Memory": memory,
        "MemorySwap": swap,
        "NanoCpus": nano_cpus,
        "CpusetCpus": args.cpuset_cpus or "",
        "PidsLimit": args.pids_limit,
        "Ulimits": [{"Name": u["type"][len("RLIMIT_"):].lower(), "Soft": _signed(u["soft"]),
                     "Hard": _signed(u["hard"])} for u in ulimits] or None,
        "Runtime": args.runtime,
        "LogConfig": {"Type": "json-file", "Config": {}},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "ShmSize": 64 * 1024 * 1024,
        **networking.host_config(args),
    }


def _signed(value: int) -> int:
    """OCI's uint64 "unlimited" back to Docker's -1."""
    return -1 if value >= 1 << 63 else value


def check_bind(text: str) -> str:
    """``-v HOST:CTR[:ro|rw]`` with absolute paths (named and anonymous volumes are not supported)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise DockyardError(f"invalid volume specification {text!r}: expected HOST:CONTAINER[:ro]")
    if not parts[0].startswith("/"):
        raise DockyardError(f"invalid volume specification {text!r}: named volumes are not "
                            "supported, give an absolute host path")
    if not parts[1].startswith("/"):
        raise DockyardError(f"invalid volume specification {text!r}: the container path must be "
                            "absolute")
    if len(parts) == 3 and not set(parts[2].split(",")) <= {"ro", "rw"}:
        raise DockyardError(f"invalid volume specification {text!r}: mode must be ro or rw")
    return text


def parse_tmpfs(text: str) -> tuple[str, str]:
    path, _, options = text.partition(":")
    if not path.startswith("/"):
        raise DockyardError(f"invalid tmpfs {text!r}: the path must be absolute")
    return path, options


def container_config(args: argparse.Namespace, image: Image, container_id: str) -> dict:
    """Config: the image's, overridden by the flags, by Docker's merge rules."""
    base = image.run_config
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else []
        cmd = list(args.command)
    else:
        entrypoint = list(base.get("Entrypoint") or [])
        cmd = list(args.command) or list(base.get("Cmd") or [])
    if args.workdir is not None and not args.workdir.startswith("/"):
        raise DockyardError(f"the working directory {args.workdir!r} is invalid, it needs to be an "
                            "absolute path")
    hostname = args.hostname or (os.uname().nodename if args.network == "host"
                                 else container_id[:12])
    return {
        "Hostname": hostname,
        "Domainname": "",
        "User": args.user if args.user is not None else base.get("User") or "",
        "AttachStdin": args.interactive,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": args.interactive,
        "Env": merge_env(base.get("Env") or [], user_env(args.env, args.env_file)),
        "Cmd": cmd,
        "Image": image.name,
        "WorkingDir": args.workdir or base.get("WorkingDir") or "",
        "Entrypoint": entrypoint or None,
        "Labels": dict(base.get("Labels") or {}),
        "ExposedPorts": base.get("ExposedPorts") or None,
        "StopSignal": args.stop_signal or base.get("StopSignal") or "SIGTERM",
        **({"StopTimeout": args.stop_timeout} if args.stop_timeout is not None else {}),
    }


def user_env(pairs: list[str], files: list[str]) -> list[str]:
    """--env-file lines first, then -e, as Docker reads them; ``NAME`` alone copies the client's."""
    entries: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as err:
            raise DockyardError(f"cannot read env file {path}: {err.strerror}") from None
        entries += [line.lstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    entries += pairs
    result = []
    for entry in entries:
        name, eq, _ = entry.partition("=")
        if not name or any(c.isspace() for c in name):
            raise DockyardError(f"invalid environment variable {entry!r}")
        if eq:
            result.append(entry)
        elif name in os.environ:
            result.append(f"{name}={os.environ[name]}")
    return result


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """``base`` with each of ``overrides`` replacing the variable of its name, or appended."""
    merged = list(base)
    index = {entry.partition("=")[0]: i for i, entry in enumerate(merged)}
    for entry in overrides:
        name = entry.partition("=")[0]
        if name in index:
            merged[index[name]] = entry
        else:
            index[name] = len(merged)
            merged.append(entry)
    return merged


def command_line(config: dict) -> list[str]:
    """Entrypoint + Cmd: the container's argv; refused when empty, as Docker does."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        raise DockyardError("No command specified")
    return argv
