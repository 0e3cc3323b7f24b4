"""JSON Web Tokens as Docker token auth uses them: compact JWS, signed with EC or RSA keys.

Hand-written over ``cryptography`` rather than a JWT library because the
checks are the point: the algorithm must be one the operator allowed *and*
fit the key (no ``none``, no HMAC with a public key as the secret, no RSA
key for an ES256 header), the header must name a trusted key, and the
claims must say who issued the token, for whom, and until when.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Collection, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

from .keys import ALGORITHMS, KeyRing, PrivateKey, PublicKey, UntrustedKey, algorithm_of, key_id

LEEWAY = 60.0
"""Seconds of clock difference tolerated between the issuer and the registry, as distribution."""


class TokenInvalid(Exception):
    """The token cannot be trusted; the message is safe to show to the client."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding is not allowed in a JWT")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(data: Mapping[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def _curve_size(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> int:
    return (key.curve.key_size + 7) // 8


def sign(claims: Mapping[str, Any], key: PrivateKey,
         header: Mapping[str, Any] | None = None) -> str:
    """A compact JWS of ``claims`` signed with ``key``.

    The header names the key by its libtrust id unless ``header`` says
    otherwise (an ``x5c`` chain, another ``kid``), as other issuers do.
    """
    algorithm = ALGORITHMS[algorithm_of(key)]
    header = {"typ": "JWT", "alg": algorithm.name, "kid": key_id(key), **(header or {})}
    signing_input = f"{_json_part(header)}.{_json_part(claims)}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), algorithm.hash())
    else:  # JWS wants r and s as two fixed-size big-endian numbers, not DER
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(algorithm.hash())))
        size = _curve_size(key)
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode()}.{b64url(signature)}"


def _verify_signature(key: PublicKey, algorithm: str, signing_input: bytes,
                      signature: bytes) -> None:
    spec = ALGORITHMS[algorithm]
    if not spec.fits(key):
        raise TokenInvalid(f"algorithm {algorithm} does not fit the signing key")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), spec.hash())
            return
        size = _curve_size(key)
        if len(signature) != 2 * size:
            raise InvalidSignature
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                   int.from_bytes(signature[size:], "big"))
        key.verify(der, signing_input, ec.ECDSA(spec.hash()))
    except InvalidSignature:
        raise TokenInvalid("bad token signature") from None


def verify(token: str, keyring: KeyRing, algorithms: Collection[str],
           now: datetime.datetime | None = None) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out; TokenInvalid otherwise.

    Only the signature and the header are checked here; ``check_claims``
    checks what the claims say.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        header_part, claims_part, signature_part = token.split(".")
        header = json.loads(_unb64url(header_part))
        claims = json.loads(_unb64url(claims_part))
        signature = _unb64url(signature_part)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenInvalid("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed token")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS or algorithm not in algorithms:
        raise TokenInvalid(f"token algorithm {algorithm!r} is not accepted")
    if "crit" in header:
        raise TokenInvalid("token header has critical extensions this registry does not know")
    try:
        key = keyring.key_for(header, now)
    except UntrustedKey as err:
        raise TokenInvalid(str(err)) from None
    _verify_signature(key, algorithm, f"{header_part}.{claims_part}".encode(), signature)
    return claims


def _number(claims: Mapping[str, Any], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenInvalid(f"token claim {name} is missing or not a number")
    return float(value)


def check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str,
                 now: float, leeway: float = LEEWAY) -> None:
    """That ``claims`` come from ``issuer``, are meant for ``audience`` and are valid at ``now``.

    ``exp`` is required (a token that never expires would be a password);
    ``nbf`` and ``iat`` are checked where present.
    """
    if claims.get("iss") != issuer:
        raise TokenInvalid("token from an untrusted issuer")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or audience not in audiences:
        raise TokenInvalid("token not meant for this registry")
    expiry = _number(claims, "exp", required=True)
    if now > expiry + leeway:
        raise TokenInvalid("token expired")
    for name in ("nbf", "iat"):
        start = _number(claims, name, required=False)
        if start is not None and now < start - leeway:
            raise TokenInvalid("token not valid yet")
