"""Which URL and which TLS settings reach a registry.

HTTPS always, verified against the system trust store plus any CA found in
a ``certs.d/<host[:port]>/`` folder (Docker's layout: ``*.crt`` are CAs,
``*.cert`` with the matching ``*.key`` are client certificates). Plain HTTP,
and TLS without verification, only for loopback registries and the ones the
user listed as insecure - there HTTPS is still tried first, as Docker does -
and for mirrors configured with an ``http://`` URL, which say what they speak.
Docker Hub's API is not served at ``docker.io`` but at ``registry-1.docker.io``.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path

from ocispec.reference import DEFAULT_REGISTRY

from ..errors import DockyardError

HUB_API_HOST = "registry-1.docker.io"


def api_host(registry: str) -> str:
    """The host[:port] serving ``/v2/`` for ``registry``."""
    return HUB_API_HOST if registry == DEFAULT_REGISTRY else registry


def hostname(host: str) -> str:
    """``host[:port]`` without the port (and without IPv6 brackets)."""
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Endpoints:
    def __init__(self, insecure_registries: Iterable[str] = (),
                 certs_dirs: Iterable[Path] = (), plain_http: Iterable[str] = ()) -> None:
        """``plain_http``: ``host[:port]`` names reached over HTTP only (``http://`` mirrors)."""
        self._insecure = tuple(insecure_registries)
        self._certs_dirs = tuple(certs_dirs)
        self._plain_http = frozenset(plain_http)
        self._contexts: dict[str, ssl.SSLContext] = {}

    def candidates(self, registry: str) -> list[str]:
        """Base URLs to try, in order, for ``registry``."""
        host = api_host(registry)
        if host in self._plain_http:
            return [f"http://{host}"]
        if self.is_insecure(host):
            return [f"https://{host}", f"http://{host}"]
        return [f"https://{host}"]

    def is_insecure(self, host: str) -> bool:
        """True when ``host[:port]`` may be reached over plain HTTP or unverified TLS."""
        name = hostname(host)
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            address = None
        if name == "localhost" or (address is not None and address.is_loopback):
            return True
        for entry in self._insecure:
            if entry in (host, name):
                return True
            if address is not None and "/" in entry:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def ssl_context(self, host: str) -> ssl.SSLContext:
        """The TLS settings for connections to ``host[:port]`` (built once per host)."""
        context = self._contexts.get(host)
        if context is None:
            context = self._contexts[host] = self._build_context(host)
        return context

    def _build_context(self, host: str) -> ssl.SSLContext:
        if self.is_insecure(host):  # nothing verified: the system's CAs (20 ms to load) unused
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context()
        for directory in self._certs_dirs:
            folder = directory / host
            if not folder.is_dir():
                continue
            try:
                for ca in sorted(folder.glob("*.crt")):
                    context.load_verify_locations(cafile=str(ca))
                for cert in sorted(folder.glob("*.cert")):
                    key = cert.with_suffix(".key")
                    if not key.exists():
                        raise DockyardError(f"client certificate {cert} has no {key.name}")
                    context.load_cert_chain(str(cert), str(key))
            except (OSError, ssl.SSLError) as err:
                raise DockyardError(f"cannot load certificates from {folder}: {err}") from None
        return context
