"""Opening the configured workspace and reading what the pages and API need."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from layers import LayerStore, layer_summary, open_store

if TYPE_CHECKING:  # geopandas only for the annotation: `layers` and `--help` start light
    import geopandas as gpd

DEMO_NOTE = "示例数据：村、乡镇边界、人口和设施为模拟生成（simulated geometry）"


def store_for(workspace: str, *, cache_mb: int = 0) -> LayerStore:
    """The store of ``workspace``; with ``cache_mb`` > 0 its layer reads are kept in memory
    (:class:`CachedLayerStore`, one per app)."""
    store = open_store(workspace)
    return CachedLayerStore(store, max_bytes=cache_mb * 1024 * 1024) if cache_mb > 0 else store


def frame_bytes(gdf) -> int:
    """About how much memory a layer takes: its columns, plus 16 bytes a coordinate and
    some overhead a geometry."""
    import shapely

    size = int(gdf.drop(columns=gdf.geometry.name).memory_usage(deep=True, index=True).sum())
    geoms = gdf.geometry.array
    return size + int(shapely.get_num_coordinates(geoms).sum()) * 16 + 100 * len(geoms)


class CachedLayerStore:
    """A :class:`LayerStore` whose whole-layer reads are kept: read once per (kind, version).

    A version never changes once written (an import or a restore writes a new number), so
    a kept layer is never stale: reading the current version asks the store which number
    is current (one metadata query) and a new version is simply a new key. The least
    recently used layers are dropped beyond ``max_bytes`` (:func:`frame_bytes`). Every read
    returns a copy, so callers may modify what they get. Reads with ``bbox`` and everything
    else go to the wrapped store.
    """

    def __init__(self, store: LayerStore, *, max_bytes: int):
        self.store = store
        self.max_bytes = int(max_bytes)
        self._kept: OrderedDict[tuple[str, int], tuple[object, int]] = OrderedDict()
        self._derived: dict[tuple[str, int, str], object] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def read(self, kind: str, *, version: int | None = None,
             bbox: tuple[float, float, float, float] | None = None):
        if bbox is not None:
            return self.store.read(kind, version=version, bbox=bbox)
        if version is None:
            current = self.store.current_versions().get(kind)
            if current is None:  # unknown kind or never imported: the store's own error
                return self.store.read(kind)
            version = current.version
        key = (kind, int(version))
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                self.hits += 1
        if kept is not None:
            return kept[0].copy()
        gdf = self.store.read(kind, version=version)
        self._keep(key, gdf)
        return gdf.copy()

    def _keep(self, key: tuple[str, int], gdf) -> None:
        size = frame_bytes(gdf)
        with self._lock:
            self.misses += 1
            if size > self.max_bytes or key in self._kept:
                return
            self._kept[key] = (gdf, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                gone, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= dropped
                for k in [k for k in self._derived if k[:2] == gone]:
                    del self._derived[k]

    def derived(self, kind: str, version: int, name: str, compute):
        """``compute()``, kept with the layer version it is derived from (e.g. the villages'
        metre centres): computed once per (kind, version, name) while that version is kept."""
        key = (kind, int(version), name)
        with self._lock:
            if key in self._derived:
                return self._derived[key]
        value = compute()
        with self._lock:
            if (kind, int(version)) in self._kept:
                self._derived[key] = value
        return value

    def kept(self) -> list[tuple[str, int]]:
        """The (kind, version) pairs in memory, least recently used first."""
        with self._lock:
            return list(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._derived.clear()
            self._bytes = 0


def workspace_info(store: LayerStore) -> dict:
    """Title, demo flag and notes of a workspace, with the layer summary."""
    info = store.info()
    demo = info.get("demo") == "1"
    notes = []
    if demo:
        notes.append(DEMO_NOTE)
    return {
        "title": info.get("title") or "工作空间",
        "county_code": info.get("county_code"),
        "county_name": info.get("county_name"),
        "demo": demo,
        "demo_note": info.get("demo_note") or (DEMO_NOTE if demo else ""),
        "notes": notes,
        "layers": layer_summary(store),
    }


def current_layers(store: LayerStore) -> dict[str, gpd.GeoDataFrame]:
    """Every loaded layer at its current version."""
    return {kind: store.read(kind) for kind in store.current_versions()}


def require_layer(store: LayerStore, kind: str, what: str = "", *, versions: dict | None = None):
    """The current version of ``kind``; a Chinese NotFound (404) when it was never imported.
    ``what`` says what the layer is needed for (e.g. "（候选点）"). ``versions``: the
    store's ``current_versions()`` when the caller already has them (no second query)."""
    from geoservice.errors import NotFound
    from layers import KINDS, LayerNotFound

    try:
        if versions is not None and kind in versions:
            return store.read(kind, version=versions[kind].version)
        return store.read(kind)
    except LayerNotFound:
        raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层{what}，请先导入") from None
