"""Reference grammar and Docker's normalisation, case by case."""

from __future__ import annotations

import pytest

from ocispec.digest import Digest
from ocispec.reference import InvalidReference, Reference, official_repository, split_registry

SHA = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, registry, repository, tag, digest", [
    ("busybox", "docker.io", "library/busybox", "latest", None),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
    ("user/app", "docker.io", "user/app", "latest", None),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
    ("docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", None),
    ("index.docker.io/user/app", "docker.io", "user/app", "latest", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/team/app:1.2", "localhost:5000", "team/app", "1.2", None),
    ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
    ("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", None),
    ("ghcr.io/org/sub/app", "ghcr.io", "org/sub/app", "latest", None),
    ("registry:5000/app", "registry:5000", "app", "latest", None),
    # uppercase can only be a host, so distribution reads it as one
    ("MyHost/app", "MyHost", "app", "latest", None),
    (f"busybox@{SHA}", "docker.io", "library/busybox", None, SHA),
    (f"busybox:1.36@{SHA}", "docker.io", "library/busybox", "1.36", SHA),
    (f"localhost:5000/app@{SHA}", "localhost:5000", "app", None, SHA),
    # one component with a colon is a name and a tag, not a host
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("a-b__c---d/e.f_g", "docker.io", "a-b__c---d/e.f_g", "latest", None),
    ("a.b/c", "a.b", "c", "latest", None),
    ("app:" + "T" * 128, "docker.io", "library/app", "T" * 128, None),
])
def test_parse_normalises(text, registry, repository, tag, digest):
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert ref.digest == (Digest.parse(digest) if digest else None)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("Busybox", "must be lowercase"),
    ("example.com/Team/app", "must be lowercase"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busybox:" + "t" * 129, "invalid tag"),
    ("busybox@", "digest"),
    ("busybox@sha256:abc", "digest"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    (f"@{SHA}", "missing repository name"),
    ("ab" * 32, "image ID"),
    ("foo//bar", "invalid repository name"),
    ("foo/", "invalid repository name"),
    ("/foo", "invalid repository name"),
    ("-foo", "invalid repository name"),
    ("foo..bar", "invalid repository name"),
    ("foo___bar", "invalid repository name"),
    ("a:b:c", "invalid repository name"),
    ("exa mple.com/app", "invalid registry host"),
    ("-bad.com/app", "invalid registry host"),
    ("host.com:port/app", "invalid registry host"),
    ("example.com/" + "a" * 256, "255 characters"),
])
def test_invalid_references_say_why(text, message):
    with pytest.raises(InvalidReference, match=message):
        Reference.parse(text)


def test_repository_length_limit_is_inclusive():
    assert Reference.parse("example.com/" + "a" * 255).repository == "a" * 255


@pytest.mark.parametrize("text, canonical, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:1", "docker.io/user/app:1", "user/app:1"),
    ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("localhost:5000/app:1", "localhost:5000/app:1", "localhost:5000/app:1"),
    (f"busybox:1@{SHA}", f"docker.io/library/busybox:1@{SHA}", f"busybox:1@{SHA}"),
    (f"busybox@{SHA}", f"docker.io/library/busybox@{SHA}", f"busybox@{SHA}"),
])
def test_string_forms_round_trip(text, canonical, familiar):
    ref = Reference.parse(text)
    assert str(ref) == canonical
    assert ref.familiar() == familiar
    assert Reference.parse(canonical) == ref
    assert Reference.parse(familiar) == ref


def test_reference_prefers_the_digest():
    assert Reference.parse(f"busybox:1@{SHA}").reference == SHA
    assert Reference.parse("busybox:1").reference == "1"


def test_bare_name_without_default_tag():
    ref = Reference.parse("busybox", default_tag=False)
    assert ref.tag is None and ref.digest is None
    assert ref.name == "docker.io/library/busybox"
    with pytest.raises(InvalidReference, match="neither a tag nor a digest"):
        ref.reference


def test_with_tag_and_with_digest_replace_each_other():
    ref = Reference.parse(f"busybox:1@{SHA}")
    assert str(ref.with_tag("2")) == "docker.io/library/busybox:2"
    assert str(ref.with_digest(Digest.parse(SHA))) == f"docker.io/library/busybox@{SHA}"
    with pytest.raises(InvalidReference):
        ref.with_tag("bad tag")


def test_split_registry_and_official_repository():
    assert split_registry("busybox") == ("docker.io", "library/busybox")
    assert split_registry("team/app") == ("docker.io", "team/app")
    assert split_registry("quay.io/team/app") == ("quay.io", "team/app")
    assert official_repository("busybox") == "library/busybox"
    assert official_repository("team/app") == "team/app"
