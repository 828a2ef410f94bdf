"""The GeoPackage store: versions, atomic imports, bbox reads, workspace info, opening."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import sqlite3
import threading

import geopandas as gpd
import pyogrio
import pyogrio as _pyogrio
import pytest

import layers.store.gpkg as store_mod
from layers import (
    KINDS,
    GeoPackageStore,
    LayerNotFound,
    StoreError,
    ValidationError,
    import_file,
    layer_summary,
    open_store,
    read_layer,
)

POINTS = ["名称", "层级", "床位数", "经度", "纬度"]
GPKG_META = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions")


def point_rows(n, *, prefix="站点", x0=103.80):
    return [[f"{prefix}{i}", "村级互助养老服务站", i, x0 + 0.01 * i, 29.80 + 0.01 * i]
            for i in range(n)]


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "workspace.gpkg")


def snapshot(store) -> dict:
    """Everything an import may change, to compare before and after."""
    return {
        "layers": sorted(map(tuple, pyogrio.list_layers(store.path).tolist())),
        "current": store.current_versions(),
        "versions": {k: store.versions(k) for k in KINDS},
        "tables": sqlite_tables(store.path),
        "meta": {m: sqlite_rows(store.path, f"SELECT * FROM {m} ORDER BY 1") for m in GPKG_META},
    }


def sqlite_tables(path) -> list[str]:
    return sorted(r[0] for r in sqlite_rows(
        path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"))


def sqlite_rows(path, sql) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- opening -------------------------------------------------------------------------------

def test_open_store_creates_a_geopackage(tmp_path):
    path = tmp_path / "new.gpkg"
    assert not path.exists()
    store = open_store(path)
    assert isinstance(store, GeoPackageStore)
    assert path.exists() and path.read_bytes()[:16] == b"SQLite format 3\x00"
    assert sqlite_rows(path, "PRAGMA application_id")[0][0] == 0x47504B47  # 'GPKG'
    assert store.current_versions() == {}
    assert store.info() == {}
    assert all(store.versions(k) == [] for k in KINDS)
    # Opening it again finds the same empty workspace.
    assert open_store(str(path)).current_versions() == {}


def test_open_store_accepts_gpkg_prefix(tmp_path):
    store = open_store(f"gpkg:{tmp_path / 'w.GPKG'}")
    assert store.path == tmp_path / "w.GPKG" and store.path.exists()


def test_open_store_rejects_other_suffixes(tmp_path):
    with pytest.raises(StoreError, match="应为 .gpkg 文件"):
        open_store(tmp_path / "workspace.sqlite")
    assert not (tmp_path / "workspace.sqlite").exists()


def test_open_store_in_a_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="工作空间目录不存在"):
        open_store(tmp_path / "no" / "such" / "w.gpkg")
    assert not (tmp_path / "no").exists()


def test_open_store_on_a_text_file(tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("这不是 GeoPackage，只是一段文字。\n" * 200, encoding="utf-8")
    before = digest(path)
    with pytest.raises(StoreError, match="不是有效的 GeoPackage") as exc:
        open_store(path)
    assert "notes.gpkg" in str(exc.value)
    assert digest(path) == before


def test_open_store_on_a_plain_sqlite_database(tmp_path):
    path = tmp_path / "other.gpkg"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(StoreError, match="不是有效的 GeoPackage"):
        open_store(path)
    assert digest(path) == before


# --- versions --------------------------------------------------------------------------------

def test_import_twice_keeps_both_versions(store, files):
    first = files.csv("站点.csv", point_rows(3), POINTS)
    second = files.csv("站点_更新.csv", point_rows(5, prefix="新站点", x0=103.70), POINTS,
                       encoding="gbk")
    v1 = import_file(store, "elderly_service_points", first)
    v2 = import_file(store, "elderly_service_points", second, filename="站点（2024年更新）.csv")
    assert (v1.version, v1.table, v1.features, v1.current) == (
        1, "elderly_service_points_v1", 3, True)
    assert (v2.version, v2.table, v2.features, v2.current) == (
        2, "elderly_service_points_v2", 5, True)
    assert v2.source == "站点（2024年更新）.csv" and v2.source_crs == "EPSG:4490"
    assert dt.datetime.fromisoformat(v2.created).tzinfo is not None

    current = store.current_versions()
    assert list(current) == ["elderly_service_points"]
    assert current["elderly_service_points"].version == 2
    versions = store.versions("elderly_service_points")
    assert [(v.version, v.current, v.source) for v in versions] == [
        (1, False, "站点.csv"), (2, True, "站点（2024年更新）.csv")]

    now = store.read("elderly_service_points")
    assert now["name"].tolist() == [f"新站点{i}" for i in range(5)]
    old = store.read("elderly_service_points", version=1)
    assert old["name"].tolist() == [f"站点{i}" for i in range(3)]
    assert old["level"].tolist() == ["village_station"] * 3
    assert old["beds"].tolist() == [0, 1, 2]
    assert old.crs.to_epsg() == 4490
    assert old.geometry.x.round(6).tolist() == [103.80, 103.81, 103.82]
    assert store.read("elderly_service_points", version=2)["name"].tolist() == now[
        "name"].tolist()


def test_versions_are_per_kind_and_survive_reopening(tmp_path, files, villages, homes):
    path = tmp_path / "w.gpkg"
    store = open_store(path)
    import_file(store, "villages", files.geojson("v.geojson", villages))
    import_file(store, "welfare_homes", files.geojson("h.geojson", homes))
    import_file(store, "welfare_homes", files.geojson("h2.geojson", homes.iloc[:2]))
    again = open_store(path)
    current = again.current_versions()
    assert {k: v.version for k, v in current.items()} == {"villages": 1, "welfare_homes": 2}
    assert current["welfare_homes"].features == 2
    assert len(again.read("welfare_homes", version=1)) == len(homes)


def test_read_back_equals_what_was_imported(store, files, homes):
    homes.loc[1, "beds"] = None
    homes.loc[2, "accepts_disabled"] = None
    path = files.geojson("h.geojson", homes)
    imported = read_layer(path, "welfare_homes")
    import_file(store, "welfare_homes", path)
    back = store.read("welfare_homes")
    assert list(back.columns) == list(imported.columns)
    for col in ("name", "kind"):
        assert back[col].tolist() == imported[col].tolist()
    for col in ("beds", "occupied_beds", "accepts_disabled"):
        assert str(back[col].dtype) == str(imported[col].dtype), col
        assert back[col].isna().tolist() == imported[col].isna().tolist(), col
        assert back[col].dropna().tolist() == imported[col].dropna().tolist(), col
    assert back.geometry.geom_equals_exact(imported.geometry, 1e-12).all()


def test_village_codes_stay_text(store, files, villages):
    import_file(store, "villages", files.geojson("v.geojson", villages))
    back = store.read("villages")
    assert back["code"].tolist() == villages["code"].tolist()
    assert all(isinstance(c, str) for c in back["code"])


def test_write_reprojects_to_cgcs2000(store, homes, gk):
    v = store.write("welfare_homes", homes.to_crs(gk.plain), source="gk", source_crs=gk.plain)
    assert v.source_crs == gk.plain
    back = store.read("welfare_homes")
    assert back.crs.to_epsg() == 4490
    assert gk.point_distances(back, homes.geometry.x, homes.geometry.y).max() < 0.01
    info = pyogrio.read_info(store.path, layer=v.table)
    assert "4490" in info["crs"]


def test_import_records_the_source_crs(store, files, rng, gk):
    from layers.crs import wgs_to_gcj

    lon, lat = rng.uniform(103.7, 103.9, 4), rng.uniform(29.7, 29.9, 4)
    gx, gy = wgs_to_gcj(lon, lat)
    rows = [[f"标注{i}", "高德地图", x, y] for i, (x, y) in enumerate(zip(gx, gy, strict=True))]
    path = files.csv("labels.csv", rows, ["标注名称", "来源", "经度", "纬度"])
    v = import_file(store, "place_labels", path, crs="gcj02")
    assert v.source_crs == "gcj02"
    back = store.read("place_labels")
    assert back["source"].tolist() == ["amap"] * 4
    assert gk.point_distances(back, lon, lat).max() < 1.0


def test_missing_layer_and_version(store, files):
    with pytest.raises(LayerNotFound, match="任何版本") as exc:
        store.read("villages")
    assert "村(社区)" in str(exc.value)
    import_file(store, "elderly_service_points", files.csv("p.csv", point_rows(2), POINTS))
    with pytest.raises(LayerNotFound, match="第 7 版"):
        store.read("elderly_service_points", version=7)
    with pytest.raises(KeyError, match="未知的图层类型"):
        store.read("hospitals")
    with pytest.raises(KeyError, match="未知的图层类型"):
        store.versions("hospitals")


def test_concurrent_writes_get_distinct_versions(store, homes):
    errors = []

    def write(i):
        try:
            store.write("welfare_homes", homes.iloc[: i + 1], source=f"s{i}", source_crs="x")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = store.versions("welfare_homes")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert sum(v.current for v in versions) == 1
    for v in versions:
        assert len(store.read("welfare_homes", version=v.version)) == v.features


# --- atomicity -------------------------------------------------------------------------------

def test_rejected_import_changes_nothing(store, files):
    import_file(store, "elderly_service_points", files.csv("p.csv", point_rows(3), POINTS))
    before, before_digest = snapshot(store), digest(store.path)
    rows = point_rows(4)
    rows[2][2] = "很多"
    with pytest.raises(ValidationError):
        import_file(store, "elderly_service_points", files.csv("bad.csv", rows, POINTS))
    with pytest.raises(ValidationError):
        import_file(store, "villages", files.raw("empty.geojson", b""))
    assert snapshot(store) == before
    assert digest(store.path) == before_digest
    assert store.read("elderly_service_points")["name"].tolist() == ["站点0", "站点1", "站点2"]


def test_failed_data_write_leaves_no_trace(store, files, monkeypatch):
    import_file(store, "elderly_service_points", files.csv("p.csv", point_rows(3), POINTS))
    before = snapshot(store)
    real_write = pyogrio.write_dataframe
    calls = []

    def write_half_then_fail(df, path, **kwargs):
        calls.append(kwargs["layer"])
        real_write(df.iloc[: len(df) // 2], path, **kwargs)  # a partial table on disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_pyogrio, "write_dataframe", write_half_then_fail)
    with pytest.raises(StoreError, match="工作空间未改变") as exc:
        import_file(store, "elderly_service_points", files.csv("q.csv", point_rows(6), POINTS))
    assert "磁盘空间不足" in str(exc.value) and "No space" not in str(exc.value)
    assert calls == ["elderly_service_points_v2"]
    after = snapshot(store)
    assert not any("elderly_service_points_v2" in t for t in after["tables"])
    assert after == before
    assert store.current_versions()["elderly_service_points"].version == 1

    monkeypatch.undo()
    v = import_file(store, "elderly_service_points", files.csv("q.csv", point_rows(6), POINTS))
    assert (v.version, v.features) == (2, 6)
    assert len(store.read("elderly_service_points")) == 6
    assert pyogrio.read_info(store.path, layer=v.table)["features"] == 6


def test_failed_version_record_leaves_no_trace(store, files):
    import_file(store, "elderly_service_points", files.csv("p.csv", point_rows(3), POINTS))
    before = snapshot(store)
    con = sqlite3.connect(store.path)
    con.execute(f"""CREATE TRIGGER refuse BEFORE INSERT ON {store_mod.META_TABLE}
                    BEGIN SELECT RAISE(ABORT, 'database is full'); END""")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="工作空间未改变"):
        import_file(store, "elderly_service_points", files.csv("q.csv", point_rows(6), POINTS))
    after = snapshot(store)
    after["tables"].remove("refuse")
    assert after == before  # the old version is still current: the UPDATE was rolled back
    assert store.current_versions()["elderly_service_points"].version == 1


# --- bbox, info, summary ------------------------------------------------------------------------

def test_read_with_bbox(store, files, villages, homes):
    import_file(store, "villages", files.geojson("v.geojson", villages))
    # Villages are 0.02-degree squares from 103.80/29.80, three columns by two rows.
    got = store.read("villages", bbox=(103.805, 29.805, 103.825, 29.815))
    assert sorted(got["code"]) == ["511425102200", "511425102201"]
    got = store.read("villages", bbox=(103.845, 29.825, 103.855, 29.835))
    assert got["code"].tolist() == ["511425102205"]
    assert len(store.read("villages", bbox=(104.5, 30.5, 104.6, 30.6))) == 0
    assert len(store.read("villages", bbox=(103.0, 29.0, 105.0, 31.0))) == len(villages)

    import_file(store, "welfare_homes", files.geojson("h.geojson", homes))
    xs, ys = homes.geometry.x, homes.geometry.y
    box = (103.70, 29.70, 103.83, 29.95)
    inside = (xs >= box[0]) & (ys >= box[1]) & (xs <= box[2]) & (ys <= box[3])
    want = sorted(homes["name"][inside].tolist())
    assert 0 < len(want) < len(homes)
    assert sorted(store.read("welfare_homes", bbox=box)["name"]) == want


def test_info_and_set_info(tmp_path):
    path = tmp_path / "w.gpkg"
    store = open_store(path)
    store.set_info(title="青神县民政规划工作空间", county_code=511425, demo="false")
    assert store.info() == {"title": "青神县民政规划工作空间", "county_code": "511425",
                            "demo": "false"}
    store.set_info(title="青神县（2024）")
    assert store.info()["title"] == "青神县（2024）"
    assert open_store(path).info()["county_code"] == "511425"


def test_layer_summary(store, files, villages):
    summary = layer_summary(store)
    assert [s["kind"] for s in summary] == list(KINDS)
    assert not any(s["loaded"] for s in summary)
    import_file(store, "villages", files.geojson("村界.geojson", villages))
    import_file(store, "villages", files.geojson("村界2.geojson", villages.iloc[:4]))
    by_kind = {s["kind"]: s for s in layer_summary(store)}
    v = by_kind["villages"]
    assert (v["loaded"], v["features"], v["version"], v["source"]) == (True, 4, 2, "村界2.geojson")
    assert v["label"] == "村(社区)" and v["geometry"] == "面"
    assert by_kind["welfare_homes"]["loaded"] is False
    assert by_kind["welfare_homes"]["version"] is None
    assert by_kind["boundary_markers"]["optional"] is True
    assert all(not isinstance(x, gpd.GeoDataFrame) for s in summary for x in s.values())
