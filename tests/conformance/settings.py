"""Which registry the conformance port talks to, and which workflows it runs: the Go suite's env vars.

With none of them set, the suite runs all four workflows against a Dockyard server
the test session starts. Point it elsewhere exactly as the Go suite is pointed:

    OCI_ROOT_URL=http://127.0.0.1:5000 OCI_NAMESPACE=myorg/myrepo \
    OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 \
    OCI_TEST_CONTENT_MANAGEMENT=1 pytest tests/conformance

As in the Go suite, once any ``OCI_TEST_*`` variable is set only the workflows
set to a true value run; ``OCI_USERNAME``/``OCI_PASSWORD`` enable basic or token
auth; ``OCI_CROSSMOUNT_NAMESPACE``, ``OCI_AUTOMATIC_CROSSMOUNT``,
``OCI_DELETE_MANIFEST_BEFORE_BLOBS``, ``OCI_TAG_NAME``, ``OCI_MANIFEST_DIGEST``,
``OCI_BLOB_DIGEST`` and ``OCI_TAG_LIST`` mean what they mean there.
"""

from __future__ import annotations

import enum
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_NAMESPACE = "dockyard/conformance"


class Workflow(enum.Enum):
    """The four workflow categories of the spec, with the variable that enables each."""

    PULL = "OCI_TEST_PULL"
    PUSH = "OCI_TEST_PUSH"
    CONTENT_DISCOVERY = "OCI_TEST_CONTENT_DISCOVERY"
    CONTENT_MANAGEMENT = "OCI_TEST_CONTENT_MANAGEMENT"


def _parse_bool(text: str | None) -> bool:
    """Go's strconv.ParseBool, with anything unparsable as false (as the Go suite treats it)."""
    return (text or "").strip() in {"1", "t", "T", "TRUE", "true", "True"}


@dataclass(frozen=True)
class Settings:
    root_url: str | None
    namespace: str
    crossmount_namespace: str
    username: str | None
    password: str | None
    enabled: frozenset[Workflow]
    delete_manifest_before_blobs: bool
    automatic_crossmount: bool | None  # None: the variable is unset, so those tests skip
    tag_name: str | None
    manifest_digest: str | None
    blob_digest: str | None
    tag_list: list[str] | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        chosen = {w for w in Workflow if w.value in env}
        enabled = ({w for w in chosen if _parse_bool(env[w.value])} if chosen else set(Workflow))
        crossmount = env.get("OCI_AUTOMATIC_CROSSMOUNT")
        tag_list = env.get("OCI_TAG_LIST")
        return cls(
            root_url=env.get("OCI_ROOT_URL") or None,
            namespace=env.get("OCI_NAMESPACE") or DEFAULT_NAMESPACE,
            crossmount_namespace=(env.get("OCI_CROSSMOUNT_NAMESPACE")
                                  or f"conformance-{uuid.uuid4()}"),
            username=env.get("OCI_USERNAME") or None,
            password=env.get("OCI_PASSWORD") or None,
            enabled=frozenset(enabled),
            delete_manifest_before_blobs=_parse_bool(
                env.get("OCI_DELETE_MANIFEST_BEFORE_BLOBS", "true")),
            automatic_crossmount=None if crossmount is None else _parse_bool(crossmount),
            tag_name=env.get("OCI_TAG_NAME") or None,
            manifest_digest=env.get("OCI_MANIFEST_DIGEST") or None,
            blob_digest=env.get("OCI_BLOB_DIGEST") or None,
            tag_list=tag_list.split(",") if tag_list else None,
        )

    def runs_setup(self, workflow: Workflow) -> bool:
        """Whether ``workflow`` pushes (and then deletes) its own content.

        Pull and discovery can instead read what the registry already holds, named
        by OCI_TAG_NAME + OCI_MANIFEST_DIGEST + OCI_BLOB_DIGEST, or by OCI_TAG_LIST.
        """
        if workflow is Workflow.PULL:
            return not (self.tag_name and self.manifest_digest and self.blob_digest)
        if workflow is Workflow.CONTENT_DISCOVERY:
            return self.tag_list is None
        return True
