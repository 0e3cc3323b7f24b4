"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import re

from .value import Value

TYPE_CHECKING = False  # typing is not imported at run time: `dockyard run`'s start-up is budgeted
if TYPE_CHECKING:
    import hashlib
    from collections.abc import Sequence

# The general grammar admits algorithms we cannot verify; only these are accepted.
_ENCODED = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


class InvalidDigest(ValueError):
    """The string is not a digest we can verify."""


class Digest(Value):
    __slots__ = ("algorithm", "hex")
    algorithm: str
    hex: str

    def __init__(self, algorithm: str, hex: str) -> None:
        super().__init__(algorithm, hex)

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Parse and validate; unknown algorithms are refused before any I/O."""
        if not _GRAMMAR.fullmatch(text):
            raise InvalidDigest(f"invalid digest {text!r}")
        algorithm, _, encoded = text.partition(":")
        pattern = _ENCODED.get(algorithm)
        if pattern is None:
            raise InvalidDigest(f"unsupported digest algorithm {algorithm!r}")
        if not pattern.fullmatch(encoded):
            raise InvalidDigest(f"invalid {algorithm} digest {text!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        import hashlib  # deferred: loading OpenSSL costs 2-3 ms; running a 1-layer image hashes nothing
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> "hashlib._Hash":
        """A fresh hash object of this digest's algorithm, to verify a stream."""
        import hashlib  # deferred: see of()
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def chain_id(parent: Digest | None, diff_id: Digest) -> Digest:
    """The image spec's ChainID: sha256(ChainID(parent) + " " + DiffID), or the DiffID at the bottom."""
    return diff_id if parent is None else Digest.of(f"{parent} {diff_id}".encode())


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """The chain ID of every layer of a stack, bottom first."""
    chain: list[Digest] = []
    for diff_id in diff_ids:
        chain.append(chain_id(chain[-1] if chain else None, diff_id))
    return chain


def is_digest(text: str) -> bool:
    """True when ``text`` looks like a digest rather than a tag (tags cannot hold ':')."""
    return ":" in text
