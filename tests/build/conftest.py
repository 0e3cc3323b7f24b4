"""Fixtures of the build tests: a Dockyard server for the push round trip."""

from ..helpers.fixtures import dockyard_url  # noqa: F401  (a fixture)
