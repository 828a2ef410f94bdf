"""An import checked against the workspace's other layers (issue 12), through the service
every import takes (``geoservice.services.layers.import_layer``): villages whose township
code the current townships layer lacks, and a whole point file in another coordinate
system than it was read in (facilities by their village code, labels by their village's
standard name). Warnings only: the file is imported. Audited with the warning count.

On the second county (竹山县, ``tests/second_county.py``), not the demo.
"""

from __future__ import annotations

import re
import shutil

import geopandas as gpd
import numpy as np
import pytest
import second_county as sc
import shapely
from pyproj import Geod

from geoservice.services.accounts import cli_actor
from geoservice.services.layers import import_layer
from layers import open_store
from layers.crs import wgs_to_bd, wgs_to_gcj

GEOD = Geod(ellps="GRS80")


@pytest.fixture(scope="module")
def master(county_workspace_master):
    return county_workspace_master


@pytest.fixture
def store(master, tmp_path):
    path = tmp_path / "zhushan.gpkg"
    shutil.copyfile(master, path)
    return open_store(path)


def shifted(frame: gpd.GeoDataFrame, forward) -> gpd.GeoDataFrame:
    x, y = forward(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    return frame.set_geometry(gpd.GeoSeries(shapely.points(x, y), index=frame.index,
                                            crs=frame.crs))


def median_m(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> float:
    return float(np.median(GEOD.inv(a.geometry.x.to_numpy(), a.geometry.y.to_numpy(),
                                    b.geometry.x.to_numpy(), b.geometry.y.to_numpy())[2]))


def last_audit(store) -> dict:
    return max(store.audit_rows(), key=lambda r: r["id"])


# --- township codes the townships layer lacks ----------------------------------------------

def test_villages_of_a_township_missing_from_the_townships_layer(county, store, tmp_path):
    gone = "420323104"
    townships, truth = sc.drop_township(county.townships, county.villages, gone)
    t = import_layer(store, cli_actor(), "townships",
                     sc.write_polygons(townships, tmp_path / "t.geojson", "townships"))
    v = import_layer(store, cli_actor(), "villages",
                     sc.write_polygons(county.villages, tmp_path / "v.geojson", "villages"))
    rows = [int(i) + 1 for i in np.flatnonzero(county.villages["township_code"] == gone)]
    assert len(rows) == len(truth["codes"]) == 17
    assert [(w.row, w.field, w.value) for w in v.warnings] == [
        (r, "所属乡镇代码", gone) for r in rows]
    assert {w.message for w in v.warnings} == {
        f"所属乡镇代码不在乡镇(街道)图层（当前第 {t.version} 版）中"}
    assert store.current_versions()["villages"].version == v.version == 2
    assert last_audit(store)["result"] == (
        f"导入 {len(county.villages)} 个要素（17 处警告），成为第 2 版")


def test_orphans_of_a_consistent_but_unknown_township(county, store, tmp_path):
    codes = list(county.villages["code"].iloc[[20, 21, 60]])
    villages, truth = sc.inject_orphan(county.villages, codes, "420323500")
    v = import_layer(store, cli_actor(), "villages",
                     sc.write_polygons(villages, tmp_path / "v.geojson", "villages"))
    assert [(w.row, w.value) for w in v.warnings] == [
        (r + 1, "420323500") for r in truth["rows"]]
    assert list(store.read("villages")["code"].iloc[truth["rows"]]) == truth["codes"]


def test_no_townships_layer_no_orphan_warning(county, tmp_path):
    store = open_store(tmp_path / "empty.gpkg")
    v = import_layer(store, cli_actor(), "villages",
                     sc.write_polygons(county.villages, tmp_path / "v.geojson", "villages"))
    assert v.warnings == () and last_audit(store)["result"] == (
        f"导入 {len(county.villages)} 个要素，成为第 1 版")


# --- a whole point file in another coordinate system --------------------------------------

@pytest.mark.parametrize("kind", ["welfare_homes", "elderly_service_points", "cemeteries"])
def test_a_facility_file_in_gcj02_imported_as_cgcs2000_warns(county, store, tmp_path, kind):
    true = getattr(county, kind)
    amap = shifted(true, wgs_to_gcj)
    v = import_layer(store, cli_actor(), kind, sc.write_points_csv(amap, kind, tmp_path / "a.csv"))
    [w] = v.warnings
    assert w.row is None and "设施整体偏移" in w.message and "GCJ-02" in w.message
    assert f"{len(true)} 个设施" in w.message
    metres = median_m(amap, true)
    assert 300 < metres < 800
    said = float(re.search(r"各点将移动约 ([\d,]+) 米", w.message).group(1).replace(",", ""))
    assert said == pytest.approx(metres, rel=0.01)
    # imported all the same, where the file put them
    stored = store.read(kind)
    assert np.allclose(stored.geometry.x, amap.geometry.x, atol=1e-8)
    assert last_audit(store)["result"].startswith(f"导入 {len(true)} 个要素（1 处警告）")


@pytest.mark.parametrize("kind", ["welfare_homes", "elderly_service_points", "cemeteries"])
def test_the_same_facilities_unshifted_do_not(county, store, tmp_path, kind):
    v = import_layer(store, cli_actor(), kind,
                     sc.write_points_csv(getattr(county, kind), kind, tmp_path / "a.csv"))
    assert v.warnings == ()


def test_a_baidu_file_and_a_survey_file_read_as_gcj02(county, store, tmp_path):
    points = county.elderly_service_points
    baidu = shifted(points, wgs_to_bd)
    v = import_layer(store, cli_actor(), "elderly_service_points",
                     sc.write_points_csv(baidu, "elderly_service_points", tmp_path / "b.csv"))
    [w] = v.warnings
    assert "BD-09" in w.message
    # a CGCS2000 file read as GCJ-02: the import moved it by the inverse shift
    v = import_layer(store, cli_actor(), "elderly_service_points",
                     sc.write_points_csv(points, "elderly_service_points", tmp_path / "s.csv"),
                     crs="gcj02")
    [w] = v.warnings
    assert "CGCS2000" in w.message and "按GCJ-02(高德/腾讯)读取" in w.message
    # and an Amap file read as GCJ-02 is right
    v = import_layer(store, cli_actor(), "elderly_service_points",
                     sc.write_points_csv(shifted(points, wgs_to_gcj), "elderly_service_points",
                                         tmp_path / "g.csv"), crs="gcj02")
    assert v.warnings == ()
    stored = store.read("elderly_service_points")
    assert median_m(stored, points) < 0.01


def test_labels_are_matched_to_their_villages_by_name(county, store, tmp_path):
    labels = county.place_labels
    path = sc.write_labels_csv(labels, tmp_path / "amap.csv", crs_column=False)  # GCJ-02
    v = import_layer(store, cli_actor(), "place_labels", path)
    [w] = v.warnings
    assert "标注整体偏移" in w.message and "GCJ-02" in w.message
    # names borne by one village only (the roster repeats a few)
    counts = county.villages["name"].value_counts()
    unique = int((labels["name"].map(counts) == 1).sum())
    assert unique < len(labels) and f"{unique} 个标注" in w.message
    v = import_layer(store, cli_actor(), "place_labels", path, crs="gcj02")
    assert v.warnings == ()


def test_no_villages_no_crs_check(county, tmp_path):
    store = open_store(tmp_path / "empty.gpkg")
    amap = shifted(county.welfare_homes, wgs_to_gcj)
    v = import_layer(store, cli_actor(), "welfare_homes",
                     sc.write_points_csv(amap, "welfare_homes", tmp_path / "a.csv"))
    assert v.warnings == ()
