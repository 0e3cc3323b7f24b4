"""Where the container life cycle meets ``runtime.network``: run/start, stop, rm.

``none`` and ``host`` need nothing from the network library and never import
it (nor pyroute2): their start-up time is budgeted.  Every other
``--network`` (``bridge``, a user-defined network) goes through
``runtime.network.Networks`` at three points:

- the supervisor's ``_create``, after it pinned the container's namespace:
  ``attach`` (veth, address, routes, port rules, hosts/resolv.conf/hostname
  in the container's directory, where the bundle bind-mounts them from), in
  a child process (``NetworkChild``) while the supervisor writes the bundle
  and creates the container, because importing the library takes about as
  long as the rest of a start: on two cores the two overlap, and the
  container's process is released only once its network is ready.  ``run``
  forks that child first thing, so its imports overlap the container's
  creation too, and ``start`` as soon as it has claimed the container;
- ``supervisor.release``, after it unpinned the namespace: ``release`` (the
  kernel takes the veth with the namespace; addresses, host ports and rules
  are given back);
- ``ContainerStore.remove``: ``forget``, so a removed container no longer
  holds its networks (``network rm`` refuses while it does).

The child that attached stays for the run and does ``release`` and
``forget`` too when this process asks: it has the library loaded, and
importing it again here would cost a ``--rm`` run as much as the attach
did.  It ends when asked to forget or when this process goes away; whoever
finds a container whose supervisor died releases it in process, as before.
"""

from __future__ import annotations

import os
import sys

from client.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    import argparse

    from .records import ContainerStore

WITHOUT_LIBRARY = ("none", "host")
JOIN = "container:"
JOINED = "netns-joined"  # in a container's directory: another joined its network (this run)


def add_arguments(add) -> None:
    """The networking flags of ``create``/``run`` (``add`` is the parser's add_argument)."""
    add("-p", "--publish", action="append", default=[], metavar="[IP:][HOST:]CTR[/PROTO]",
        help="Publish a container's port(s) to the host")
    add("-P", "--publish-all", action="store_true",
        help="Publish all exposed ports to random ports")
    add("--network-alias", action="append", default=[], metavar="ALIAS",
        help="Add network-scoped alias for the container")
    add("--ip", metavar="ADDRESS", help="IPv4 address (e.g., 172.30.100.104)")
    add("--mac-address", metavar="MAC", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    add("--dns", action="append", default=[], metavar="ADDRESS", help="Set custom DNS servers")
    add("--dns-search", action="append", default=[], metavar="DOMAIN",
        help="Set custom DNS search domains")
    add("--dns-option", action="append", default=[], metavar="OPTION", help="Set DNS options")
    add("--add-host", action="append", default=[], metavar="HOST:IP",
        help="Add a custom host-to-IP mapping (host:ip)")


def host_config(args: argparse.Namespace) -> dict:
    """The HostConfig fields of the networking flags (Docker's shapes), checked as far as
    they can be before the container starts."""
    mode = args.network
    if mode.startswith(JOIN):
        _check_joining(args)
    needs_library = args.publish or args.publish_all or args.network_alias or args.ip \
        or args.mac_address or args.dns or args.dns_search or args.dns_option or args.add_host
    if mode in WITHOUT_LIBRARY and needs_library:
        raise DockyardError(f"--network {mode} takes none of -p, -P, --network-alias, --ip, "
                            "--mac-address, --dns*, --add-host")
    bindings: dict[str, list[dict]] = {}
    if args.publish:
        from runtime.network.ports import parse_publish  # a NetworkError is one line for the user
        for binding in (b for spec in args.publish for b in parse_publish(spec)):
            bindings.setdefault(f"{binding.container_port}/{binding.proto}", []).append(
                {"HostIp": binding.host_ip, "HostPort": str(binding.host_port or "")})
    return {"PortBindings": bindings, "PublishAllPorts": args.publish_all, "Dns": args.dns,
            "DnsSearch": args.dns_search, "DnsOptions": args.dns_option,
            "ExtraHosts": args.add_host or None}


def _check_joining(args: argparse.Namespace) -> None:
    """Docker's refusals for ``--network container:NAME``: the joined container's network
    settings, hostname and /etc files are the container's own."""
    if args.network == "container:":
        raise DockyardError("--network container: needs a container name or ID")
    for given, what in ((args.publish or args.publish_all, "port publishing"),
                        (args.hostname, "hostname"), (args.dns or args.dns_search or args.dns_option, "dns"),
                        (args.add_host, "custom host-to-IP mapping"), (args.mac_address, "mac-address"),
                        (args.ip or args.network_alias, "networking options")):
        if given:
            raise DockyardError(f"conflicting options: {what} and the container type network mode")


def endpoint_settings(args: argparse.Namespace) -> dict:
    """Docker's EndpointSettings for the network given with --network."""
    return {"Aliases": args.network_alias or None,
            "IPAMConfig": {"IPv4Address": args.ip} if args.ip else None,
            "MacAddress": args.mac_address or ""}


def namespace(store: ContainerStore, record: dict) -> str | None:
    """The network namespace the container's process joins: None for the host's, the
    joined container's for ``container:NAME``, otherwise a new one, pinned for this run
    in the container's directory (a pin an earlier, killed run left is replaced)."""
    mode = record["HostConfig"]["NetworkMode"]
    if mode == "host":
        return None
    if mode.startswith(JOIN):
        return _join(store, record, mode[len(JOIN):])
    from . import netns

    path = store.path(record["Id"], "netns")
    netns.remove(path)
    netns.create(path)
    return path


def _join(store: ContainerStore, record: dict, ref: str) -> str:
    """``container:NAME``: the running container's namespace, and its hostname and /etc
    files (hard links, so what Dockyard writes into the peer's files later shows in both)."""
    from .bundle import ETC_FILES
    from .lifecycle import find

    peer = find(store, ref)
    if peer["Id"] == record["Id"]:
        raise DockyardError("cannot join own network namespace")
    if not peer["State"]["Running"]:
        raise DockyardError(f"cannot join network of a non running container: {peer['Id']}")
    for name in ETC_FILES:
        link = store.path(record["Id"], f".{name}.link")
        if os.path.lexists(link):  # left by a start that was killed here
            os.unlink(link)
        os.link(store.path(peer["Id"], name), link)
        os.replace(link, store.path(record["Id"], name))
    with store.lock(record["Id"]):
        saved = store.load(record["Id"])
        saved["Config"]["Hostname"] = peer["Config"]["Hostname"]  # as Docker records it
        store.save(saved)
    record["Config"]["Hostname"] = peer["Config"]["Hostname"]
    _touch(store.path(peer["Id"], JOINED))  # its release takes its veths out of the namespace
    pinned = store.path(peer["Id"], "netns")
    return pinned if os.path.exists(pinned) else f"/proc/{peer['State']['Pid']}/ns/net"


def attach(store: ContainerStore, record: dict, namespace: str) -> list[str]:
    """Put the container on its network, in its pinned namespace (run, start); the
    warnings for the user."""
    from runtime.network import Networks, Request

    config, host = record["Config"], record["HostConfig"]
    mode = host["NetworkMode"]
    endpoint = record["NetworkSettings"]["Networks"].get(mode) or {}
    publish = [f"{b['HostIp']}:{b['HostPort']}:{port}" for port, hosts in
               (host.get("PortBindings") or {}).items() for b in hosts]
    request = Request(
        record["Id"], record["Name"].lstrip("/"), store.path(record["Id"]), network=mode,
        aliases=endpoint.get("Aliases") or (), ip=(endpoint.get("IPAMConfig") or {}).get("IPv4Address"),
        mac=endpoint.get("MacAddress") or None, hostname=config.get("Hostname"), publish=publish,
        publish_all=bool(host.get("PublishAllPorts")), exposed=sorted(config.get("ExposedPorts") or {}),
        dns=host.get("Dns") or (), dns_search=host.get("DnsSearch") or (),
        dns_options=host.get("DnsOptions") or (), extra_hosts=host.get("ExtraHosts") or (),
        netns=namespace)
    return Networks(library_root(store)).setup(request).warnings


class NetworkChild:
    """A forked child that loads the network library, then runs ``attach`` for one
    container when sent it, and then, on request, ``release`` and ``forget``.

    It is forked as soon as a command knows its container will need the
    library (``run`` before it resolves the image and creates the container),
    so that importing the library, pyroute2 above all, overlaps with all the
    work before the container's namespace exists, not only with what follows.
    It is in a session of its own with /dev/null for stdio from the start:
    no terminal signal reaches it, and no caller reading our output to its
    end waits for it; what it has to say comes back over its pipe.
    """

    _REPLY = 4096  # one reply is one write of at most PIPE_BUF bytes: read whole at once

    def __init__(self) -> None:
        import gc

        # What exists now is never collected in either process: a collection walking it
        # would copy every page it touches (copy-on-write), in the child all the more.
        gc.freeze()
        sys.stdout.flush()
        sys.stderr.flush()
        replies_r, replies_w = os.pipe()
        requests_r, requests_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child
            os.close(replies_r)
            os.close(requests_w)
            self._serve(requests_r, replies_w)
        os.close(replies_w)
        os.close(requests_r)
        self.replies, self.requests = replies_r, requests_w
        self.id: str | None = None  # the container's, once attach is asked
        self.attached = False

    @classmethod
    def _serve(cls, requests: int, replies: int) -> None:  # pragma: no cover - runs in the child
        try:
            import gc

            gc.disable()  # no collections while it imports (~3 ms of CPU): back after the attach
            os.setsid()
            _detach_stdio(keep=(requests, replies))
            # everything the attach needs, while the parent prepares the container
            import json

            import runtime.network.manager  # noqa: F401
            import runtime.network.netlink  # noqa: F401
            import runtime.network.nft  # noqa: F401

            from .records import ContainerStore
            request = _read_message(requests)
            if request is not None:
                order = json.loads(request)
                store, record = ContainerStore(order["root"]), order["record"]
                cls._reply(replies, attach, store, record, order["namespace"])
                gc.enable()
                actions = {b"r": _release_in_library, b"f": _forget_in_library}
                while (action := os.read(requests, 1)) in actions:
                    cls._reply(replies, actions[action], store, record)
        finally:
            os._exit(0)

    @classmethod
    def _reply(cls, replies: int, action, *args) -> None:  # pragma: no cover - runs in the child
        """"0" and the warnings, one a line, or "1" and the error."""
        try:
            message = b"0" + "\n".join(action(*args) or ()).encode()
        except BaseException as err:
            message = b"1" + (str(err) or type(err).__name__).encode()
        os.write(replies, message[:cls._REPLY])

    def attach(self, store: ContainerStore, record: dict, namespace: str) -> None:
        """Have the child attach the container (``wait`` for it before the container starts)."""
        import json

        order = json.dumps({"root": library_root(store), "record": record, "namespace": namespace})
        self.id = record["Id"]
        _children[self.id] = self
        _write_message(self.requests, order.encode())

    def wait(self, check: bool = True) -> None:
        """Until the attach is done, its warnings printed; with check, DockyardError with its
        message if it failed.  Nothing to wait for when no attach was asked."""
        if self.attached or self.id is None:
            return
        self.attached = True
        error = self._read_reply()
        if error is None:
            error = "the network set-up ended without an answer"
        if error and check:
            raise DockyardError(error)

    def ask(self, request: bytes) -> str | None:
        """Have the child release (``r``) or forget (``f``): its error, "" when done, None
        when the child is gone (the caller then does it in process)."""
        self.wait(check=False)
        try:
            os.write(self.requests, request)
        except BrokenPipeError:
            return None
        return self._read_reply()

    def close(self) -> None:
        """Let the child end; closed already is fine.  Once asked to attach it ends when it
        reads end-of-file; before, it has done nothing but import, and is killed rather than
        waited for (a failed ``run`` leaves no process behind).  It is reaped when this
        process exits, not here: unmapping a process's memory takes a few milliseconds,
        which the rest of a ``--rm`` run's clean-up overlaps."""
        if self.requests < 0:
            return
        if self.id is None:
            os.kill(self.pid, 9)  # SIGKILL, without importing signal's enums
        _children.pop(self.id, None)
        os.close(self.requests)
        os.close(self.replies)
        self.requests = self.replies = -1
        import atexit

        atexit.register(_reap, self.pid)

    def _read_reply(self) -> str | None:
        """The error ("" for none; warnings printed), None if the child is gone."""
        data = os.read(self.replies, self._REPLY)
        if not data:
            return None
        if data[:1] == b"1":
            return data[1:].decode(errors="replace")
        for warning in filter(None, data[1:].decode(errors="replace").split("\n")):
            print(f"WARNING: {warning}", file=sys.stderr)
        return ""


def _reap(pid: int) -> None:
    """Wait for a network child to end (unless it is not ours: under ``run -d`` the client
    forked it, and the supervisor talks to it)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_message(fd: int, data: bytes) -> None:
    """A length-prefixed message (a record is more than a pipe takes in one write)."""
    data = len(data).to_bytes(4, "big") + data
    while data:
        data = data[os.write(fd, data):]


def _read_message(fd: int) -> bytes | None:
    """What _write_message wrote; None at end-of-file (the parent gave up or is gone)."""
    header = _read_exactly(fd, 4)
    return None if header is None else _read_exactly(fd, int.from_bytes(header, "big"))


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _detach_stdio(keep: tuple[int, ...]) -> None:  # pragma: no cover - runs in the child
    """/dev/null for fds 0-2, and every other descriptor closed but ``keep``."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


_children: dict[str, NetworkChild] = {}
"""This process's network children, by container id."""


def release(store: ContainerStore, record: dict) -> None:
    """Give back addresses, host ports and rules (the container has stopped); a container
    that joined another's network lets go of that one's /etc files, which its next start
    would otherwise write through."""
    if _mode(record).startswith(JOIN):
        from .bundle import ETC_FILES
        for name in ETC_FILES:
            try:
                os.unlink(store.path(record["Id"], name))
            except FileNotFoundError:
                pass
    elif uses_library(record):
        _through_child(store, record, b"r", _release_in_library)


def forget(store: ContainerStore, record: dict) -> None:
    """Drop the container's network record (it is being removed)."""
    if uses_library(record):
        _through_child(store, record, b"f", _forget_in_library)
        child = _children.get(record["Id"])
        if child is not None:
            child.close()


def _through_child(store: ContainerStore, record: dict, request: bytes, action) -> None:
    """``action`` in this process's network child for the container, else here."""
    child = _children.get(record["Id"])
    error = child.ask(request) if child is not None else None
    if error is None:
        action(store, record)
    elif error:
        raise DockyardError(error)


def _release_in_library(store: ContainerStore, record: dict) -> None:
    from runtime.network import Networks
    joined = store.path(record["Id"], JOINED)
    Networks(library_root(store)).cleanup(record["Id"], shared=os.path.exists(joined))
    if os.path.exists(joined):
        os.unlink(joined)


def _forget_in_library(store: ContainerStore, record: dict) -> None:
    from runtime.network import Networks
    Networks(library_root(store)).forget(record["Id"])


def uses_library(record: dict) -> bool:
    """Whether the container has a place on Dockyard's networks (bridge or a user-defined one)."""
    return mode_uses_library(_mode(record))


def mode_uses_library(mode: str) -> bool:
    """Whether a --network mode is bridge or a user-defined network."""
    return mode not in WITHOUT_LIBRARY and not mode.startswith(JOIN)


def _mode(record: dict) -> str:
    return (record.get("HostConfig") or {}).get("NetworkMode", "none")


def _touch(path: str) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def library_root(store: ContainerStore) -> str:
    """The root the network library keeps its records under (the containers' store's parent)."""
    return os.path.dirname(store.root)
