"""The local image store: an OCI image layout plus unpacked layers (see ``store``)."""

from .blobs import AsyncBlobWriter, BlobStore, BlobWriter
from .errors import BlobNotFound, DigestMismatch, ImageConflict, ImageNotFound, StoreError
from .index import REF_NAME
from .store import DiskUsage, Image, ImageStore, Removal

__all__ = ["REF_NAME", "AsyncBlobWriter", "BlobNotFound", "BlobStore", "BlobWriter",
           "DigestMismatch", "DiskUsage", "Image", "ImageConflict", "ImageNotFound",
           "ImageStore", "Removal", "StoreError"]
