"""Image references (``[registry/]repository[:tag][@digest]``) normalised as Docker does.

People type familiar names (``busybox``, ``user/app:1.0``) and expect Docker's
reading of them: Docker Hub is the default registry and its official images
live under ``library/``.  Only the first path component can name a registry,
and only when it looks like a host (contains ``.`` or ``:``, is ``localhost``,
or has capitals, which repository names may not), so ``team/app`` stays on
Docker Hub while ``localhost:5000/team/app`` does not.  The grammar is that of
distribution's ``reference`` package.
"""

from __future__ import annotations

import re

from .digest import Digest, InvalidDigest
from .names import NAME_PATTERN, TAG_PATTERN
from .value import Value

DEFAULT_REGISTRY = "docker.io"
# Docker Hub's old name ("the index"), still accepted and canonicalised to DEFAULT_REGISTRY.
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
# distribution limits the repository path (without the registry) to this many characters.
MAX_REPOSITORY_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_REGISTRY = re.compile(rf"{_HOST}(?::[0-9]+)?")
_REPOSITORY = re.compile(NAME_PATTERN)
_TAG = re.compile(TAG_PATTERN)
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


class InvalidReference(ValueError):
    """The text is not an image reference; the message says which part is wrong."""


class Reference(Value):
    """A fully qualified reference: ``registry`` is never empty, ``repository``
    carries Docker Hub's ``library/`` prefix, and at least one of ``tag`` and
    ``digest`` is set unless parsed with ``default_tag=False``."""

    __slots__ = ("registry", "repository", "tag", "digest")
    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    def __init__(self, registry: str, repository: str, tag: str | None = None,
                 digest: Digest | None = None) -> None:
        super().__init__(registry, repository, tag, digest)

    @classmethod
    def parse(cls, text: str, *, default_tag: bool = True) -> "Reference":
        """Normalise ``text`` as ``docker pull`` would; ``default_tag`` adds ``:latest``
        to a bare name (turn it off where a bare name means "every tag")."""
        if not text:
            raise InvalidReference("invalid reference format: empty reference")
        if _IMAGE_ID.fullmatch(text):
            raise InvalidReference(
                f"invalid reference {text!r}: a 64-character hexadecimal string is an image ID, "
                "not a repository name")
        name, at, digest_text = text.partition("@")
        digest = _parse_digest(text, digest_text) if at else None
        name, tag = _split_tag(name)
        if not name:
            raise InvalidReference(f"invalid reference {text!r}: missing repository name")
        if tag is not None and not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid reference {text!r}: invalid tag {tag!r}")
        registry, repository = split_registry(name)
        _check_registry(text, registry)
        _check_repository(text, repository)
        if default_tag and tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(registry, repository, tag, digest)

    @property
    def name(self) -> str:
        """``registry/repository``: the image's name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker prints it: no ``docker.io/``, no ``library/`` for official images."""
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        namespace, _, rest = self.repository.partition("/")
        if namespace == OFFICIAL_NAMESPACE and rest and "/" not in rest:
            return rest
        return self.repository

    @property
    def reference(self) -> str:
        """What goes in ``/v2/<name>/manifests/<reference>``: the digest when pinned, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        if self.tag is None:
            raise InvalidReference(f"{self.name} has neither a tag nor a digest")
        return self.tag

    def familiar(self) -> str:
        """The whole reference as Docker prints it (``busybox:latest``)."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> "Reference":
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
        return Reference(self.registry, self.repository, tag)

    def with_digest(self, digest: Digest) -> "Reference":
        return Reference(self.registry, self.repository, None, digest)

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        return tag + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def split_registry(name: str) -> tuple[str, str]:
    """Split a name (no tag, no digest) into registry and repository, Docker's way."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, official_repository(name)
    if first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry in (DEFAULT_REGISTRY, LEGACY_REGISTRY):
        return DEFAULT_REGISTRY, official_repository(repository)
    return registry, repository


def official_repository(repository: str) -> str:
    """Docker Hub's path for a repository: single-component names are ``library/`` images.

    The registry needs this as much as the client: a Hub mirror is asked for
    ``busybox`` and must fetch ``library/busybox`` upstream."""
    return repository if "/" in repository else f"{OFFICIAL_NAMESPACE}/{repository}"


def _split_tag(name: str) -> tuple[str, str | None]:
    # A ':' after the last '/' starts the tag; an earlier one belongs to a port.
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1:]
    return name, None


def _parse_digest(text: str, digest_text: str) -> Digest:
    try:
        return Digest.parse(digest_text)
    except InvalidDigest as err:
        raise InvalidReference(f"invalid reference {text!r}: {err}") from None


def _check_registry(text: str, registry: str) -> None:
    if not _REGISTRY.fullmatch(registry):
        raise InvalidReference(f"invalid reference {text!r}: invalid registry host {registry!r}")


def _check_repository(text: str, repository: str) -> None:
    if len(repository) > MAX_REPOSITORY_LENGTH:
        raise InvalidReference(f"invalid reference {text!r}: repository name must not be "
                               f"more than {MAX_REPOSITORY_LENGTH} characters")
    if _REPOSITORY.fullmatch(repository):
        return
    if _REPOSITORY.fullmatch(repository.lower()):
        raise InvalidReference(
            f"invalid reference {text!r}: repository name must be lowercase")
    raise InvalidReference(f"invalid reference {text!r}: invalid repository name {repository!r}")
