"""Layers: what a layer is, how it gets in (readers) and where it lives (store)."""

from .errors import LayerError, LayerNotFound, Problem, StoreError, ValidationError
from .readers import read_layer
from .schema import KINDS, get_kind
from .store import GeoPackageStore, LayerStore, import_file, layer_summary, open_store

__all__ = [
    "KINDS", "GeoPackageStore", "LayerError", "LayerNotFound", "LayerStore", "Problem",
    "StoreError", "ValidationError", "get_kind", "import_file", "layer_summary", "open_store",
    "read_layer",
]
