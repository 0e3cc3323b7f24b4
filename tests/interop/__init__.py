"""Interoperability tests: real clients (skopeo, ...) against a running Dockyard server."""
