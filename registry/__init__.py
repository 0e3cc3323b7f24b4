"""The Dockyard registry server: the OCI Distribution API over pluggable storage."""
