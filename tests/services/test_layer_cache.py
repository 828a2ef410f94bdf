"""The app's layer cache: read once per (kind, version), copies out, a new version read anew,
bounded memory."""

from __future__ import annotations

import pytest

from geoservice import create_app
from geoservice.services.workspace import CachedLayerStore, frame_bytes
from layers import LayerNotFound, open_store


class CountingStore:
    """A store that counts the reads reaching it."""

    def __init__(self, store):
        self.store, self.reads = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def read(self, kind, **kw):
        self.reads.append((kind, kw.get("version"), kw.get("bbox")))
        return self.store.read(kind, **kw)


@pytest.fixture
def counted(tiny_workspace):
    return CountingStore(open_store(tiny_workspace))


def test_a_version_is_read_once_and_callers_get_copies(counted):
    cached = CachedLayerStore(counted, max_bytes=10**9)
    first = cached.read("villages")
    first.loc[first.index[0], "name"] = "改过"
    again = cached.read("villages")
    assert len(counted.reads) == 1 and cached.hits == 1
    assert again.loc[again.index[0], "name"] != "改过"
    assert again.equals(counted.store.read("villages"))


def test_a_new_version_is_read_anew(counted):
    cached = CachedLayerStore(counted, max_bytes=10**9)
    villages = cached.read("villages")
    villages["name"] = "新名"
    new = cached.write("villages", villages, source="again.geojson", source_crs="EPSG:4490")
    assert (cached.read("villages")["name"] == "新名").all()
    assert cached.read("villages", version=new.version - 1)["name"].ne("新名").any()
    assert ("villages", new.version) in cached.kept()


def test_another_writer_is_seen_too(tiny_workspace):
    cached = CachedLayerStore(open_store(tiny_workspace), max_bytes=10**9)
    villages = cached.read("villages")
    villages["name"] = "别处写入"
    open_store(tiny_workspace).write("villages", villages, source="cli.geojson",
                                     source_crs="EPSG:4490")
    assert (cached.read("villages")["name"] == "别处写入").all()


def test_memory_is_bounded_least_recently_used_first(counted):
    villages = counted.store.read("villages")
    cached = CachedLayerStore(counted, max_bytes=frame_bytes(villages) + 1)
    cached.read("villages")
    cached.read("townships")
    assert ("villages", 1) not in cached.kept()
    cached.read("villages")
    assert [k for k, _ in cached.kept()] == ["villages"]
    assert counted.reads.count(("villages", 1, None)) == 2


def test_bbox_reads_and_errors_go_to_the_store(counted, tmp_path):
    cached = CachedLayerStore(counted, max_bytes=10**9)
    cached.read("villages", bbox=(-180, -90, 180, 90))
    cached.read("villages", bbox=(-180, -90, 180, 90))
    assert len(counted.reads) == 2 and cached.kept() == []
    empty = CachedLayerStore(open_store(tmp_path / "empty.gpkg"), max_bytes=10**9)
    with pytest.raises(LayerNotFound):
        empty.read("villages")


def test_the_app_keeps_layers_unless_told_not_to(tiny_workspace):
    app = create_app({"WORKSPACE": str(tiny_workspace)})
    assert isinstance(app.extensions["geoservice"]["store"], CachedLayerStore)
    off = create_app({"WORKSPACE": str(tiny_workspace), "LAYER_CACHE_MB": 0})
    assert not isinstance(off.extensions["geoservice"]["store"], CachedLayerStore)
