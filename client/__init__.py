"""The ``dockyard`` client: pulls, pushes and keeps images; runs them through ``runtime``.

It speaks to registries over HTTP only and shares nothing with ``registry/``
but the ``ocispec`` package.
"""
