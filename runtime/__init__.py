"""Dockyard's container runtime: OCI bundles run as isolated, limited processes."""
