"""The exceptions the network library raises for things its user can act on.

They derive from ValueError, as runtime.spec.SpecError does, so the
``dockyard`` command prints them as one line without knowing this package.
"""


class NetworkError(ValueError):
    """Bad input (a subnet that overlaps, a port already published) or a state
    that forbids the operation (a network with containers attached)."""


class NotFound(NetworkError):
    """No network (or container) by that name or id."""
