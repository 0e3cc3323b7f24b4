"""Fixtures of the interoperability tests: a Dockyard server for the session."""

from ..helpers.fixtures import dockyard_url  # noqa: F401  (a fixture)
