"""Layer directories: each layer unpacked once, safely, into an overlay-ready tree."""

from ocispec.digest import chain_id, chain_ids

from .store import LayerInfo, LayerStore
from .unpack import LayerError

__all__ = ["LayerError", "LayerInfo", "LayerStore", "chain_id", "chain_ids"]
