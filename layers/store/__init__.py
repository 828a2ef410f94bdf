"""Where layers live: the store contract and a registry that opens a store by workspace URL.

``open_store(url)`` picks the store from the URL: a path ending in ``.gpkg`` (or
``gpkg:PATH``) opens the GeoPackage store, the embedded default; ``postgresql://`` (or
``postgres://``) ``user[:pw]@host:port/dbname`` opens the PostGIS store of a shared
workspace (``layers/store/postgis.py``). Another store registers
itself with :func:`register_store` (a URL test and an opener) and nothing else changes:
analyses, maps, reports and pages only see :class:`LayerStore`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import StoreError
from .base import LayerStore, LayerVersion, import_file, layer_summary

__all__ = ["GeoPackageStore", "LayerStore", "LayerVersion", "PostgisStore", "import_file",
           "layer_summary", "open_store", "register_store", "store_kinds"]

# (name, accepts(url) -> bool, open(url) -> LayerStore), tried in order
_OPENERS: list[tuple[str, Callable[[str], bool], Callable[[str], LayerStore]]] = []


def register_store(name: str, accepts: Callable[[str], bool],
                   opener: Callable[[str], LayerStore]) -> None:
    """Make ``open_store`` open URLs that ``accepts`` with ``opener`` (later ones win)."""
    _OPENERS.insert(0, (name, accepts, opener))


def store_kinds() -> list[str]:
    return [name for name, _, _ in _OPENERS]


def open_store(url: str | Path) -> LayerStore:
    """Open the workspace at ``url``; a missing GeoPackage file is created."""
    text = str(url)
    for _name, accepts, opener in _OPENERS:
        if accepts(text):
            return opener(text)
    raise StoreError(f"工作空间“{text}”应为 .gpkg 文件或 postgresql:// 地址")


def _is_gpkg(text: str) -> bool:
    return text.startswith("gpkg:") or text.lower().endswith(".gpkg")


def _open_gpkg(text: str) -> LayerStore:
    from .gpkg import GeoPackageStore

    if text.startswith("gpkg:"):
        text = text[len("gpkg:"):]
    if not text.lower().endswith(".gpkg"):
        raise StoreError(f"工作空间“{text}”应为 .gpkg 文件")
    return GeoPackageStore(Path(text))


def _is_postgis(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def _open_postgis(text: str) -> LayerStore:
    from .postgis import PostgisStore

    return PostgisStore(text)


register_store("gpkg", _is_gpkg, _open_gpkg)
register_store("postgis", _is_postgis, _open_postgis)


def __getattr__(name: str):
    if name == "GeoPackageStore":
        from .gpkg import GeoPackageStore

        return GeoPackageStore
    if name == "PostgisStore":
        from .postgis import PostgisStore

        return PostgisStore
    raise AttributeError(name)
