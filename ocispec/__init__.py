"""What both sides of the wire agree on: digests, names, media types and manifests.

The registry and the client never import each other; this package is the one
place where the OCI and Docker formats they share are written down.
"""
