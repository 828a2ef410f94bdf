"""Opening the configured workspace and reading what the pages and API need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from layers import LayerStore, layer_summary, open_store

if TYPE_CHECKING:  # geopandas only for the annotation: `layers` and `--help` start light
    import geopandas as gpd

DEMO_NOTE = "示例数据：村、乡镇边界、人口和设施为模拟生成（simulated geometry）"


def store_for(workspace: str) -> LayerStore:
    return open_store(workspace)


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


def require_layer(store: LayerStore, kind: str, what: str = ""):
    """The current version of ``kind``; a Chinese NotFound (404) when it was never imported.
    ``what`` says what the layer is needed for (e.g. "（候选点）")."""
    from geoservice.errors import NotFound
    from layers import KINDS, LayerNotFound

    try:
        return store.read(kind)
    except LayerNotFound:
        raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层{what}，请先导入") from None
