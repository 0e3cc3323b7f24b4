"""Fixtures of the conformance port: the target registry, the content, a client per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..helpers.fixtures import dockyard_url  # noqa: F401  (a fixture, used via registry_url)
from .client import OCIClient
from .settings import Settings, Workflow
from .testdata import ConformanceData, build


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def registry_url(settings: Settings, request: pytest.FixtureRequest) -> str:
    """``OCI_ROOT_URL`` when given, otherwise a Dockyard server started for the session."""
    return settings.root_url or request.getfixturevalue("dockyard_url")


@pytest.fixture(scope="session")
def data(settings: Settings) -> ConformanceData:
    return build(settings)


@pytest.fixture(autouse=True)
def _workflow_enabled(request: pytest.FixtureRequest, settings: Settings) -> None:
    """Skip a workflow module's tests unless its ``OCI_TEST_*`` variable enables it."""
    workflow: Workflow | None = getattr(request.module, "WORKFLOW", None)
    if workflow is not None and workflow not in settings.enabled:
        pytest.skip(f"{workflow.name} workflow disabled ({workflow.value} is not true)")


@pytest.fixture
def pushes_own_content(request: pytest.FixtureRequest, settings: Settings) -> None:
    """Skip a set-up or tear-down step when the env names content the registry already holds."""
    if not settings.runs_setup(request.module.WORKFLOW):
        pytest.skip("the registry's own content is named in the environment")


@pytest.fixture
async def oci(settings: Settings, registry_url: str) -> AsyncIterator[OCIClient]:
    async with OCIClient.open(settings, registry_url) as client:
        yield client
