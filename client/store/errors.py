"""What the local image store reports; each is one line a user can act on."""

from client.errors import DockyardError


class StoreError(DockyardError):
    """The local image store refused or failed an operation."""


class DigestMismatch(StoreError):
    """Content did not match the digest or size it was announced with; nothing was kept."""


class BlobNotFound(StoreError):
    """The store holds no blob with this digest."""


class ImageNotFound(StoreError):
    """No image in the store has this reference or ID."""


class ImageConflict(StoreError):
    """The request is ambiguous or would remove what something else still names."""
