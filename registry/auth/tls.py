"""A local certificate authority and a server certificate, for a quick secure start.

``dockyard-registry certs`` writes them so that HTTPS (and so token auth,
which clients only use over TLS) works without buying a certificate.  An
existing CA in the directory is reused, so running the command again for a
new host name keeps every client's trust; the server certificate is always
made anew.  Clients check the subjectAltName only, so every name and address
clients will use goes there: localhost, 127.0.0.1, ::1, this machine's
names, and ``--host`` values.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .keys import PrivateKey, load_private_key, private_key_pem, write_private

CA_DAYS = 3650
SERVER_DAYS = 825
"""The longest validity Apple's clients accept for a server certificate; others accept it too."""


@dataclass(frozen=True)
class CertificateFiles:
    directory: Path
    hosts: tuple[str, ...]
    ca_certificate: Path
    ca_key: Path
    certificate: Path
    key: Path

    @classmethod
    def at(cls, directory: Path, hosts: Sequence[str]) -> "CertificateFiles":
        return cls(directory, tuple(hosts), directory / "ca.crt", directory / "ca.key",
                   directory / "server.crt", directory / "server.key")


def default_hosts(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """localhost, the loopback addresses, this machine's names, then ``extra``; no duplicates."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn(), *extra]
    return tuple(dict.fromkeys(name for name in names if name))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dockyard"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey,
             days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False))


def _ca(files: CertificateFiles) -> tuple[x509.Certificate, PrivateKey]:
    """The directory's CA, created if it has none."""
    if files.ca_certificate.exists() and files.ca_key.exists():
        certificate = x509.load_pem_x509_certificate(files.ca_certificate.read_bytes())
        return certificate, load_private_key(str(files.ca_key))
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"Dockyard local CA ({socket.gethostname()})")
    certificate = (_builder(name, name, key, CA_DAYS)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(key, hashes.SHA256()))
    write_private(str(files.ca_key), private_key_pem(key))
    files.ca_certificate.write_bytes(_pem(certificate))
    return certificate, key


def create_certificates(directory: Path, hosts: Sequence[str]) -> CertificateFiles:
    """Write ``ca.crt``/``ca.key`` (kept if present) and ``server.crt``/``server.key`` for
    ``hosts`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles.at(directory, hosts)
    ca_certificate, ca_key = _ca(files)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(_name(hosts[0]), ca_certificate.subject, key, SERVER_DAYS)
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    write_private(str(files.key), private_key_pem(key))
    files.certificate.write_bytes(_pem(certificate))
    return files


def instructions(files: CertificateFiles, where: str) -> str:
    """What to put in the config and how to make docker and podman trust the CA at ``where``
    (``host:port``)."""
    ca = os.path.abspath(files.ca_certificate)
    return f"""\
Wrote to {os.path.abspath(files.directory)}:
  ca.crt                  the certificate authority clients must trust
  ca.key                  its private key: keep it secret, it can vouch for any host
  server.crt, server.key  the registry's certificate for {', '.join(files.hosts)}

Serve HTTPS with these lines in the registry's config.yml:
  http:
    tls:
      certificate: {os.path.abspath(files.certificate)}
      key: {os.path.abspath(files.key)}

Make clients trust it, as root, for each host:port they use (here {where}):
  docker (and dockyard):
    mkdir -p /etc/docker/certs.d/{where} && cp {ca} /etc/docker/certs.d/{where}/ca.crt
  podman, skopeo, buildah:
    mkdir -p /etc/containers/certs.d/{where} && cp {ca} /etc/containers/certs.d/{where}/ca.crt
  or one-off: podman --cert-dir DIR / skopeo --dest-cert-dir DIR, DIR holding only ca.crt
"""
