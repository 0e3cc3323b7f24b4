"""The content the conformance workflows push: configs, a layer, manifests, referrers, test blobs.

Shaped as the Go suite's ``setup.go`` shapes it, because the shapes are the test:
every config carries a random author so each run pushes fresh digests; manifests
embed the config as ``data`` and carry an unspecified field (``null`` on most
descriptors, as Go's encoder writes an unset ``[]byte``) that a registry must
store and serve untouched; the empty-layer manifest has no ``mediaType`` at all;
the referrers set hangs five artifacts (config-typed, ``artifactType``-typed and
an index) off one image and one artifact off a manifest that is never pushed.
Manifests are serialised as Go's ``json.MarshalIndent(v, "", "\\t")`` would, field
order included; only the bytes as sent matter, and they are hashed here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from ocispec import mediatypes

from ..helpers.oci_layout import tar_gzip_layer
from .settings import Settings

WORKFLOW_COUNT = 5  # configs/manifests 0..4: pull, push, discovery, management, referrers subject
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
EMPTY_LAYER_TAG = "emptylayer"
TEST_TAG = "tagtest0"
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
INVALID_MANIFEST = b"blablabla"
ARTIFACT_TYPE_FILTER = "artifactType"
ANNOTATION_KEY = "org.opencontainers.conformance.test"
ARTIFACT_TYPE_A = "application/vnd.dockyard.conformance.jam"
ARTIFACT_TYPE_B = "application/vnd.dockyard.conformance.toast"
ARTIFACT_TYPE_INDEX = "application/vnd.dockyard.conformance.breakfast"
ERROR_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
    "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
    "UNSUPPORTED",
})


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def go_json(document: Any) -> bytes:
    """The bytes of Go's ``json.MarshalIndent(document, "", "\\t")`` for these documents."""
    return json.dumps(document, indent="\t").encode()


def go_bytes(data: bytes) -> str:
    """A Go ``[]byte`` field in JSON: standard base64."""
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Blob:
    """Content with the digest the workflows use for it (an env override may replace that)."""

    content: bytes
    digest: str
    media_type: str = "application/octet-stream"

    @classmethod
    def of(cls, content: bytes, media_type: str = "application/octet-stream") -> "Blob":
        return cls(content, digest_of(content), media_type)

    @property
    def length(self) -> str:
        return str(len(self.content))

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        """A descriptor of this content as the Go suite's ``descriptor`` struct encodes it."""
        value: dict[str, Any] = {"mediaType": media_type or self.media_type,
                                 "digest": digest_of(self.content), "size": len(self.content)}
        value.update(extra)
        value.setdefault("newUnspecifiedField", None)
        return value


@dataclass(frozen=True)
class ChunkedBlob:
    """A random blob cut in two chunks, with the Content-Range of each."""

    blob: Blob
    chunk1: bytes
    chunk2: bytes

    @classmethod
    def make(cls, size: int, rng: random.Random) -> "ChunkedBlob":
        content = rng.randbytes(size)
        cut = size // 2 + 1
        return cls(Blob.of(content), content[:cut], content[cut:])

    @property
    def chunk1_range(self) -> str:
        return f"0-{len(self.chunk1) - 1}"

    @property
    def chunk2_range(self) -> str:
        return f"{len(self.chunk1)}-{len(self.blob.content) - 1}"


def manifest_document(config: dict[str, Any], layers: list[dict[str, Any]], *,
                      media_type: str | None = mediatypes.OCI_MANIFEST,
                      artifact_type: str | None = None, subject: dict[str, Any] | None = None,
                      annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The Go suite's ``manifest`` struct: empty optional fields are left out."""
    document: dict[str, Any] = {"schemaVersion": 2}
    if media_type:
        document["mediaType"] = media_type
    if artifact_type:
        document["artifactType"] = artifact_type
    document["config"] = config
    document["layers"] = layers
    if subject:
        document["subject"] = subject
    if annotations:
        document["annotations"] = annotations
    return document


def random_author(length: int = 16) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits + "-")
                   for _ in range(length))


@dataclass
class ConformanceData:
    """Everything ``setup.go`` prepares, built once per test session."""

    configs: list[Blob]
    manifests: list[Blob]
    layer: Blob
    empty_layer_manifest: Blob
    blob_a: Blob
    chunked: ChunkedBlob
    rng: random.Random
    empty_json: Blob
    ref_blob_a: Blob
    ref_blob_b: Blob
    refs_a_config: Blob
    refs_b_config: Blob
    refs_a_layer: Blob
    refs_b_layer: Blob
    refs_c_layer: Blob
    refs_index: Blob
    annotation_values: dict[str, str] = field(default_factory=dict)
    dummy_digest: str = digest_of(b"hello world")

    def rebuild_chunked_blob(self, size: int) -> None:
        """Grow the chunked blob when a registry's OCI-Chunk-Min-Length exceeds its first chunk."""
        self.chunked = ChunkedBlob.make(size, self.rng)


def build(settings: Settings, seed: int | None = None) -> ConformanceData:
    rng = random.Random(seed)
    configs = []
    for _ in range(WORKFLOW_COUNT):
        config = go_json({"author": random_author(), "architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": []}})
        configs.append(Blob(config, settings.blob_digest or digest_of(config),
                            mediatypes.OCI_CONFIG))

    layer_data = tar_gzip_layer(
        {"test.txt": b"a conformance test layer: nothing to see here, move along\n"}).blob
    layer = Blob.of(layer_data, mediatypes.OCI_LAYER_GZIP)
    layers = [layer.descriptor()]

    def config_with_data(config: Blob) -> dict[str, Any]:
        return config.descriptor(data=go_bytes(config.content),
                                 newUnspecifiedField=go_bytes(b"hello world"))

    manifests = []
    for config in configs:
        content = go_json(manifest_document(config_with_data(config), layers))
        manifests.append(Blob(content, settings.manifest_digest or digest_of(content),
                              mediatypes.OCI_MANIFEST))

    empty_layer_manifest = Blob.of(go_json(manifest_document(
        config_with_data(configs[1]), [], media_type=None)), mediatypes.OCI_MANIFEST)

    empty_json = Blob.of(b"{}", mediatypes.OCI_EMPTY)
    ref_blob_a = Blob.of(b"jam, spread thin on the conformance toast")
    ref_blob_b = Blob.of(b"toast, buttered by a registry under test")
    subject = manifests[4].descriptor()
    missing_subject = manifests[3].descriptor()
    annotation_values: dict[str, str] = {}

    def artifact(note: str | None, **fields: Any) -> Blob:
        annotations = {ANNOTATION_KEY: note} if note else None
        blob = Blob.of(go_json(manifest_document(annotations=annotations, **fields)),
                       mediatypes.OCI_MANIFEST)
        if note:
            annotation_values[blob.digest] = note
        return blob

    refs_a_config = artifact("test config a", config=ref_blob_a.descriptor(ARTIFACT_TYPE_A),
                             layers=[empty_json.descriptor()], subject=subject)
    refs_b_config = artifact("test config b", config=ref_blob_b.descriptor(ARTIFACT_TYPE_B),
                             layers=[empty_json.descriptor()], subject=subject)
    refs_a_layer = artifact("test layer a", artifact_type=ARTIFACT_TYPE_A,
                            config=empty_json.descriptor(),
                            layers=[ref_blob_a.descriptor(ARTIFACT_TYPE_A)], subject=subject)
    refs_b_layer = artifact("test layer b", artifact_type=ARTIFACT_TYPE_B,
                            config=empty_json.descriptor(),
                            layers=[ref_blob_b.descriptor(ARTIFACT_TYPE_B)], subject=subject)
    refs_c_layer = artifact(None, artifact_type=ARTIFACT_TYPE_B, config=empty_json.descriptor(),
                            layers=[ref_blob_b.descriptor(ARTIFACT_TYPE_B)],
                            subject=missing_subject)
    index_note = "test index"
    refs_index = Blob.of(go_json({
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "artifactType": ARTIFACT_TYPE_INDEX,
        "manifests": [refs_a_config.descriptor(), refs_a_layer.descriptor()],
        "subject": subject,
        "annotations": {ANNOTATION_KEY: index_note},
    }), mediatypes.OCI_INDEX)
    annotation_values[refs_index.digest] = index_note

    return ConformanceData(
        configs=configs, manifests=manifests, layer=layer,
        empty_layer_manifest=empty_layer_manifest,
        blob_a=Blob.of(rng.randbytes(42)), chunked=ChunkedBlob.make(42, rng), rng=rng,
        empty_json=empty_json, ref_blob_a=ref_blob_a, ref_blob_b=ref_blob_b,
        refs_a_config=refs_a_config, refs_b_config=refs_b_config, refs_a_layer=refs_a_layer,
        refs_b_layer=refs_b_layer, refs_c_layer=refs_c_layer, refs_index=refs_index,
        annotation_values=annotation_values)
