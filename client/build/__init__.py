"""``dockyard build``: Dockerfile parsing, the build context, and the builder."""
