"""A registry behind an external token issuer: trusted by certificate bundle or JWKS, keys rotated.

The issuer here is the test itself, signing with keys it made; the registry
knows only their certificates (``auth.token.rootcertbundle``) or public keys
(``auth.token.jwks``), as it would know a real auth server's.
"""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from registry.auth import jwt, setup
from registry.auth.keys import PrivateKey, key_id
from registry.config import ConfigError

from .kit import ISSUER, SERVICE, access, bearer, challenge, claims, load_config

URL = "/v2/team-a/app/tags/list"
REALM = "https://auth.example.test/token"


def certificate(key: PrivateKey, issuer_key: PrivateKey | None = None,
                issuer_name: str | None = None, *, ca: bool = False,
                name: str = "token signer") -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or name)])
    signer = issuer_key or key
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   signer.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(signer, hashes.SHA256())


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def jwk(key: PrivateKey, kid: str | None = None) -> dict:
    def b64(number: int, size: int) -> str:
        return jwt.b64url(number.to_bytes(size, "big"))
    numbers = key.public_key().public_numbers()
    if isinstance(numbers, ec.EllipticCurvePublicNumbers):
        size = (key.curve.key_size + 7) // 8
        entry = {"kty": "EC", "crv": {256: "P-256", 384: "P-384"}[key.curve.key_size],
                 "x": b64(numbers.x, size), "y": b64(numbers.y, size)}
    else:
        entry = {"kty": "RSA", "n": b64(numbers.n, (numbers.n.bit_length() + 7) // 8),
                 "e": b64(numbers.e, 3)}
    return {**entry, "kid": kid} if kid else entry


def external(tmp_path, **token) -> dict:
    return {"auth": {"token": {"realm": REALM, "service": SERVICE, "issuer": ISSUER, **token}}}


def good_claims() -> dict:
    return claims(access=access("team-a/app", "pull"))


async def status(client, token: str) -> int:
    return (await client.get(URL, headers=bearer(token))).status


async def test_challenge_points_at_the_external_realm(secure_client, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "bundle.pem").write_bytes(pem(certificate(key)))
    client = await secure_client(external(tmp_path, rootcertbundle=str(tmp_path / "bundle.pem")))
    response = await client.get(URL)
    assert response.status == 401
    assert (challenge(response).realm, challenge(response).service) == (REALM, SERVICE)
    assert (await client.get("/auth/token")).status == 404  # Dockyard issues nothing here


async def test_rotation_with_two_certificates_in_the_bundle(secure_client, tmp_path):
    old, new, stranger = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    (tmp_path / "bundle.pem").write_bytes(pem(certificate(old), certificate(new)))
    client = await secure_client(external(tmp_path, rootcertbundle=str(tmp_path / "bundle.pem")))
    assert await status(client, jwt.sign(good_claims(), old)) == 404  # through: nothing pushed
    assert await status(client, jwt.sign(good_claims(), new)) == 404
    assert await status(client, jwt.sign(good_claims(), stranger)) == 401


async def test_rotation_with_a_jwks_of_two_keys(secure_client, tmp_path):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [jwk(ec_key, kid="2024-key"), jwk(rsa_key)]}  # RSA: libtrust id as kid
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    client = await secure_client(external(tmp_path, jwks=str(tmp_path / "jwks.json")))
    named = jwt.sign(good_claims(), ec_key, {"kid": "2024-key"})
    assert await status(client, named) == 404
    assert await status(client, jwt.sign(good_claims(), rsa_key)) == 404  # RS256
    assert await status(client, jwt.sign(good_claims(), stranger)) == 401
    # The EC key under the RSA key's id: the algorithm does not fit that key.
    confused = jwt.sign(good_claims(), ec_key, {"kid": key_id(rsa_key)})
    assert await status(client, confused) == 401


async def test_signing_algorithms_allow_list(secure_client, tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "bundle.pem").write_bytes(pem(certificate(rsa_key)))
    client = await secure_client(external(tmp_path, rootcertbundle=str(tmp_path / "bundle.pem"),
                                          signingalgorithms=["ES256"]))
    assert await status(client, jwt.sign(good_claims(), rsa_key)) == 401


async def test_x5c_chain_to_a_root_of_the_bundle(secure_client, tmp_path):
    root_key, leaf_key, rogue_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certificate(root_key, ca=True, name="issuer root")
    leaf = certificate(leaf_key, root_key, "issuer root")
    (tmp_path / "bundle.pem").write_bytes(pem(root))
    client = await secure_client(external(tmp_path, rootcertbundle=str(tmp_path / "bundle.pem")))

    def x5c(*chain: x509.Certificate) -> list[str]:
        return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in chain]

    assert await status(client, jwt.sign(good_claims(), leaf_key, {"x5c": x5c(leaf)})) == 404
    rogue_root = certificate(rogue_key, ca=True, name="issuer root")  # same name, other key
    rogue_leaf = certificate(leaf_key, rogue_key, "issuer root")
    rogue_chain = x5c(rogue_leaf, rogue_root)
    assert await status(client, jwt.sign(good_claims(), leaf_key, {"x5c": rogue_chain})) == 401
    # The leaf is trusted, but the token was signed by another key.
    assert await status(client, jwt.sign(good_claims(), rogue_key, {"x5c": x5c(leaf)})) == 401
    for broken in (["not base64!"], "a string", [], [base64.b64encode(b"junk").decode()]):
        assert await status(client, jwt.sign(good_claims(), leaf_key, {"x5c": broken})) == 401


@pytest.mark.parametrize("token", [{}, {"rootcertbundle": "/nonexistent/bundle.pem"}])
async def test_external_issuer_needs_trust(tmp_path, token):
    with pytest.raises(ConfigError, match="rootcertbundle"):
        setup.build(load_config(tmp_path, external(tmp_path, **token)).auth)
