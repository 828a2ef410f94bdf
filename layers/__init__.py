"""Layers: what a layer is, how it gets in (readers) and where it lives (store).

Names are loaded on first use, so that ``from layers import KINDS`` (the CLI's help, the
menu) does not import geopandas.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "KINDS": "layers.schema", "get_kind": "layers.schema",
    "LayerError": "layers.errors", "LayerNotFound": "layers.errors", "Problem": "layers.errors",
    "StoreError": "layers.errors", "ValidationError": "layers.errors",
    "read_layer": "layers.readers",
    "GeoPackageStore": "layers.store", "LayerStore": "layers.store",
    "LayerVersion": "layers.store", "import_file": "layers.store",
    "layer_summary": "layers.store", "open_store": "layers.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'layers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
