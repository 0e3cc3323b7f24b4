"""Signing keys, the keys a registry trusts, and how a token's header picks one.

A token names its key in the JWT header, the way distribution reads it:

- ``x5c``: a certificate chain whose leaf holds the key; the chain must lead
  to a certificate of ``auth.token.rootcertbundle``;
- ``kid``: the id of a trusted key.  Keys come from the bundle's
  certificates, from a JWKS file (``auth.token.jwks``, with their own
  ``kid`` where the file gives one) and from Dockyard's own issuer.  Ids are
  libtrust fingerprints, as distribution computes them, so a Dockyard token
  is accepted by distribution given Dockyard's certificate, and the other
  way round.

Several keys may be trusted at once: that is how keys are rotated.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

RSA_KEY_BITS = 3072


class UntrustedKey(Exception):
    """A token's header names no key the registry trusts; the message says why."""


@dataclass(frozen=True)
class Algorithm:
    """A JWS algorithm: which hash, and which key type (and curve) it must be used with."""

    name: str
    hash: type[hashes.HashAlgorithm]
    curve: type[ec.EllipticCurve] | None  # None: RSA

    def fits(self, key: PublicKey) -> bool:
        """Whether ``key`` is of this algorithm's kind: no RSA key verifies an ES256 token."""
        if self.curve is None:
            return isinstance(key, rsa.RSAPublicKey)
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, self.curve)


ALGORITHMS = {algorithm.name: algorithm for algorithm in (
    Algorithm("ES256", hashes.SHA256, ec.SECP256R1),
    Algorithm("ES384", hashes.SHA384, ec.SECP384R1),
    Algorithm("ES512", hashes.SHA512, ec.SECP521R1),
    Algorithm("RS256", hashes.SHA256, None),
    Algorithm("RS384", hashes.SHA384, None),
    Algorithm("RS512", hashes.SHA512, None),
)}
"""What Dockyard signs and verifies with; ``none`` and shared-secret (HS*) algorithms never."""


def _public(key: PublicKey | PrivateKey) -> PublicKey:
    return key.public_key() if isinstance(key, (ec.EllipticCurvePrivateKey,
                                                rsa.RSAPrivateKey)) else key


def key_id(key: PublicKey | PrivateKey) -> str:
    """libtrust's key id: SHA-256 of the DER public key, 240 bits in base32, groups of four.

    distribution looks trusted keys up by this id, so using it for our own
    tokens lets any distribution-compatible registry trust them.
    """
    der = _public(key).public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i:i + 4] for i in range(0, len(text), 4))


def algorithm_of(key: PrivateKey) -> str:
    """The algorithm Dockyard signs with for ``key``: ES* by curve, RS256 for RSA."""
    for algorithm in ALGORITHMS.values():
        if algorithm.fits(key.public_key()):
            return algorithm.name
    raise ValueError(f"unsupported key: {type(key).__name__}")


def generate_private_key(algorithm: str) -> PrivateKey:
    spec = ALGORITHMS[algorithm]
    if spec.curve is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return ec.generate_private_key(spec.curve())


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: str, data: bytes) -> None:
    """Write a secret file, complete or not at all.

    A new file is readable by its owner only; a file that exists keeps its
    mode and owner, which the operator may have chosen for the server's user.
    """
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    temporary = f"{path}.tmp-{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            if old is not None:
                os.fchmod(fd, old.st_mode & 0o7777)
                if os.geteuid() == 0:
                    os.fchown(fd, old.st_uid, old.st_gid)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_private_key(path: str) -> PrivateKey:
    """A PEM private key (EC or RSA); ValueError saying what is wrong with the file."""
    with open(path, "rb") as stream:
        key = serialization.load_pem_private_key(stream.read(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError("not an EC or RSA private key")
    algorithm_of(key)  # a curve Dockyard cannot sign with fails here, not at the first login
    return key


def load_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle; ValueError if it holds none."""
    with open(path, "rb") as stream:
        return x509.load_pem_x509_certificates(stream.read())


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


_JWK_CURVES: Mapping[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """An EC or RSA public key from its JWK (RFC 7517); ValueError for anything else."""
    try:
        if jwk["kty"] == "EC":
            curve = _JWK_CURVES[jwk["crv"]]()
            return ec.EllipticCurvePublicNumbers(_b64url_int(jwk["x"]), _b64url_int(jwk["y"]),
                                                 curve).public_key()
        if jwk["kty"] == "RSA":
            return rsa.RSAPublicNumbers(_b64url_int(jwk["e"]), _b64url_int(jwk["n"])).public_key()
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"incomplete or unsupported JWK ({err})") from None
    raise ValueError(f"unsupported key type {jwk.get('kty')!r}")


def load_jwks(path: str) -> dict[str, PublicKey]:
    """The keys of a JWKS file by id: the file's ``kid`` where given, else the libtrust id."""
    with open(path, encoding="utf-8") as stream:
        document = json.load(stream)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('expected a JSON object with a "keys" list')
    keys: dict[str, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            raise ValueError("every key must be a JSON object")
        key = public_key_from_jwk(jwk)
        keys[str(jwk.get("kid") or key_id(key))] = key
    return keys


class KeyRing:
    """The keys and root certificates tokens are verified against."""

    def __init__(self, keys: Mapping[str, PublicKey] | None = None,
                 roots: Sequence[x509.Certificate] = ()) -> None:
        self.keys: dict[str, PublicKey] = dict(keys or {})
        self.roots = list(roots)
        for root in self.roots:
            public = root.public_key()
            if isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
                self.keys.setdefault(key_id(public), public)

    def trust(self, keys: Iterable[PublicKey | PrivateKey]) -> None:
        """Also trust ``keys`` (Dockyard's own signing key, say) under their libtrust ids."""
        for key in keys:
            self.keys[key_id(key)] = _public(key)

    def key_for(self, header: Mapping[str, Any], now: datetime.datetime) -> PublicKey:
        """The key that must have signed a token with this JWT ``header``."""
        chain = header.get("x5c")
        if chain is not None:
            return self._verified_leaf(chain, now)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise UntrustedKey("token header names no key (kid or x5c)")
        try:
            return self.keys[kid]
        except KeyError:
            raise UntrustedKey("token signed by an untrusted key") from None

    def _verified_leaf(self, chain: Any, now: datetime.datetime) -> PublicKey:
        """The leaf key of an ``x5c`` chain that leads to one of the root certificates."""
        if not self.roots:
            raise UntrustedKey("token carries a certificate chain but no root certificates are "
                            "configured")
        if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
            raise UntrustedKey("malformed x5c header")
        try:
            leaf, *intermediates = [x509.load_der_x509_certificate(base64.b64decode(c))
                                    for c in chain]
        except ValueError:
            raise UntrustedKey("malformed certificate in x5c header") from None
        verifier = (verification.PolicyBuilder().store(verification.Store(self.roots)).time(now)
                    .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=verification.ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            verifier.verify(leaf, intermediates)
        except verification.VerificationError:
            raise UntrustedKey("token certificate chain is not trusted") from None
        public = leaf.public_key()
        if not isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
            raise UntrustedKey("token certificate holds an unsupported key")
        return public
