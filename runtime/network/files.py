"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname.

Name resolution between containers works through /etc/hosts: every container
on a user-defined network lists the others (name and aliases) and Dockyard
rewrites the lists when one joins or leaves.  That needs no process alive
beside the containers (Dockyard has no daemon to host Docker's embedded DNS
server at 127.0.0.11, and a resolver per container would cost a process and
its start time for each), works for every libc including static binaries,
and ``getent hosts`` shows what a container sees.  The price: programs that
cache lookups keep an old answer until they look again, as with any hosts
file.

The files are bind-mounted into the container, so they are rewritten in place
(a rename would leave the container's mount on the old inode); the new text
goes over the old in one write and the file is then cut to length, so a
reader sees at worst a mix for the microseconds between two system calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

LOCALHOST = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
# Docker's fallback when the host names only loopback resolvers, which a
# container in its own network namespace cannot reach.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
HOST_RESOLV_CONF = "/etc/resolv.conf"
HOST_HOSTS = "/etc/hosts"


def hosts(own: Sequence[tuple[str, str]], extra_hosts: Iterable[str],
          peers: Iterable[tuple[str, Sequence[str]]], base: str = LOCALHOST) -> str:
    """The hosts file: base (localhost; the host's own file for --network
    host), --add-host entries, the container's own addresses (``own``:
    address, hostname) and its peers' (address, names)."""
    lines = [base if base.endswith("\n") or not base else base + "\n"]
    for entry in extra_hosts:
        name, _, address = entry.partition(":")
        lines.append(f"{address}\t{name}\n")
    lines += [f"{address}\t{name}\n" for address, name in own]
    lines += [f"{address}\t{' '.join(names)}\n" for address, names in peers]
    return "".join(lines)


def resolv_conf(host_text: str, dns: Sequence[str] = (), search: Sequence[str] = (),
                options: Sequence[str] = (), keep_loopback: bool = False) -> tuple[str, str | None]:
    """The container's resolv.conf from the host's, and a warning or None.

    ``--dns``/``--dns-search``/``--dns-option`` replace the host's lines of the
    same kind.  Loopback resolvers (a local systemd-resolved or dnsmasq) are
    dropped unless the container shares the host's network (keep_loopback);
    when none is left, Docker's public fallback is used and said so.
    """
    servers, domains, opts = [], [], []
    for line in host_text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            domains = words[1:]
        elif words[0] == "options":
            opts += words[1:]
    warning = None
    if dns:
        servers = list(dns)
    elif not keep_loopback:
        reachable = [s for s in servers if not _is_loopback(s)]
        if not reachable:
            warning = ("the host's resolv.conf names only loopback resolvers, which the container "
                       f"cannot reach: using {' and '.join(FALLBACK_NAMESERVERS)} instead (set --dns)")
            reachable = list(FALLBACK_NAMESERVERS)
        servers = reachable
    domains = list(search) or domains
    opts = list(options) or opts
    text = "".join(f"nameserver {s}\n" for s in servers)
    text += f"search {' '.join(domains)}\n" if domains else ""
    text += f"options {' '.join(opts)}\n" if opts else ""
    return text, warning


def read_host_file(path: str) -> str:
    """The host's /etc/resolv.conf or /etc/hosts; empty if it has none."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def write_in_place(path: str, text: str) -> None:
    """Replace path's content keeping its inode (bind mounts point at the inode)."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _is_loopback(server: str) -> bool:
    return server.startswith("127.") or server == "::1"
