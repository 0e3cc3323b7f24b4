"""HTTP handlers of the OCI Distribution API, one module per resource.

Each module exposes ``routes`` (an aiohttp RouteTableDef) and talks only to
``registry.model``; none of them knows a storage path.
"""
