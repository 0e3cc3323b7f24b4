"""Container networking: bridge networks, published ports, name resolution, clean-up.

The public face is ``Networks(root)`` (see ``manager``) and its ``Request``
and ``Attachment``; ``dockyard run`` uses it as::

    networks = Networks(ctx.root)
    attachment = networks.setup(Request(container_id, name, files_dir, network="bridge",
                                        publish=["8080:80"]))
    # config.json: attachment.namespace in linux.namespaces (None: no network
    # namespace, the host's), attachment.mounts() in mounts, attachment.hostname
    ...                                   # create and start the container
    networks.cleanup(container_id)        # it stopped (or its run was SIGKILLed)
    networks.setup(Request(container_id, ..., netns=new_path))  # start: as recorded, again
    networks.forget(container_id)         # it was removed

Importing this package is cheap: pyroute2 and libnftables are loaded only by
operations on bridge networks.
"""

from .errors import NetworkError, NotFound

__all__ = ["Attachment", "NetworkError", "Networks", "NotFound", "Request"]


def __getattr__(name: str) -> object:
    """The manager's classes, imported on first use: it costs ~25 ms, and ``dockyard run
    --network none`` imports only ``runtime.network.files`` from this package."""
    if name in ("Attachment", "Networks", "Request"):
        from . import manager
        return getattr(manager, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
