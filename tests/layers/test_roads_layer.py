"""The ``roads`` layer (issue 15): import from every format with Chinese road classes,
row-level refusals that store nothing, and the demo county's simulated road network
(every village centre near a road, one connected piece, one documented overpass,
rebuilt identically).

Expected values are computed here (shapely, networkx, pyproj) or written out by hand,
never by the code under test.
"""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from fixtures import run_cli
from shapely.geometry import LineString, MultiLineString, Point

from layers import ValidationError, import_file, open_store, read_layer
from layers.demo import GENERATED_DIR
from layers.readers import GEOMETRY_LABEL

GK = "EPSG:4544"  # CGCS2000 3-degree Gauss-Kruger, central meridian 105E (Qingshen)

# Three roads near Qingshen: (name, class as a person writes it, stored class, speed, line).
LINES = [
    LineString([(103.80, 29.80), (103.805, 29.803), (103.81, 29.81)]),
    MultiLineString([[(103.81, 29.81), (103.82, 29.805)], [(103.82, 29.805), (103.83, 29.80)]]),
    LineString([(103.81, 29.81), (103.80, 29.82)]),
]
ROWS = [("国道G213", "国道", "national", 70.0, LINES[0]),
        ("县道X001", "county", "county", None, LINES[1]),
        ("柳溪村通村公路", "村道", "village", 20.0, LINES[2])]
EXPECTED_CLASSES = [r[2] for r in ROWS]


def frame_zh(**columns) -> gpd.GeoDataFrame:
    """The three roads with Chinese headers (名称 / 道路等级 / 设计时速)."""
    data = {"名称": [r[0] for r in ROWS], "道路等级": [r[1] for r in ROWS],
            "设计时速": [r[3] for r in ROWS], **columns}
    return gpd.GeoDataFrame(data, geometry=[r[4] for r in ROWS], crs="EPSG:4490")


def table_rows() -> tuple[list[list], list[str]]:
    header = ["名称", "道路等级", "设计时速", "WKT"]
    rows = [[r[0], r[1], "" if r[3] is None else r[3], r[4].wkt] for r in ROWS]
    return rows, header


def assert_roads(gdf: gpd.GeoDataFrame) -> None:
    assert gdf.crs.to_epsg() == 4490
    assert list(gdf["road_class"]) == EXPECTED_CLASSES
    assert list(gdf["name"]) == [r[0] for r in ROWS]
    speeds = gdf["speed_kmh"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(np.isnan(speeds), [False, True, False])
    assert speeds[0] == 70.0 and speeds[2] == 20.0
    for got, want in zip(gdf.geometry, [r[4] for r in ROWS], strict=True):
        # A GeoPackage may store a LineString as a one-part MultiLineString: compare the
        # vertices, which must be the ones written.
        np.testing.assert_allclose(shapely.get_coordinates(got), shapely.get_coordinates(want),
                                   rtol=0, atol=1e-9)


# --- import, every format ---------------------------------------------------------------

def test_geojson_with_chinese_headers_and_classes(files):
    assert_roads(read_layer(files.geojson("道路.geojson", frame_zh()), "roads"))


def test_geopackage_with_english_fields_mixing_stored_values_and_labels(files):
    gdf = gpd.GeoDataFrame({"name": [r[0] for r in ROWS], "road_class": [r[1] for r in ROWS],
                            "speed_kmh": [r[3] for r in ROWS]},
                           geometry=[r[4] for r in ROWS], crs="EPSG:4490")
    assert_roads(read_layer(files.gpkg("roads.gpkg", {"roads": gdf}), "roads"))


def test_zipped_shapefile_in_gbk_with_short_headers(files):
    # Shapefile field names hold 10 bytes: people write 名称 / 等级 / 时速.
    gdf = frame_zh().rename(columns={"道路等级": "等级", "设计时速": "时速"})
    path = files.shapefile_zip("道路.zip", gdf, encoding="GBK", cpg="GBK")
    assert_roads(read_layer(path, "roads"))


def test_csv_with_wkt_column(files):
    rows, header = table_rows()
    assert_roads(read_layer(files.csv("道路.csv", rows, header), "roads"))


def test_xlsx_with_wkt_column(files):
    rows, header = table_rows()
    assert_roads(read_layer(files.xlsx("道路.xlsx", rows, header), "roads"))


def test_table_with_lon_lat_and_wkt_takes_the_lines(files):
    """A line table that also carries 经度/纬度 (say, of the road's start) is read from
    its WKT, as polygon tables are: the lines, not points."""
    rows, header = table_rows()
    rows = [row + [103.8, 29.8] for row in rows]
    gdf = read_layer(files.csv("道路.csv", rows, header + ["经度", "纬度"]), "roads")
    assert list(gdf.geom_type) == ["LineString", "MultiLineString", "LineString"]
    assert_roads(gdf)


def test_table_without_wkt_is_refused_as_a_whole(files):
    path = files.csv("道路.csv", [["国道G213", "国道", 103.8, 29.8]],
                     ["名称", "道路等级", "经度", "纬度"])
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "roads")
    (p,) = exc.value.problems
    assert (p.file, p.row, p.field) == ("道路.csv", None, GEOMETRY_LABEL)
    assert "线图层" in p.message and "WKT" in p.message


def test_cli_imports_roads(tmp_path, files):
    rows, header = table_rows()
    path = files.csv("道路.csv", rows, header)
    ws = tmp_path / "ws.gpkg"
    done = run_cli("--workspace", ws, "import", "roads", path, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True and answer["version"]["features"] == 3
    assert_roads(open_store(ws).read("roads"))


# --- refusals: each bad row named, nothing stored -----------------------------------------

GOOD = "LINESTRING (103.80 29.80, 103.81 29.81)"
# (row as written: 名称, 道路等级, 设计时速, 通行时间, WKT), the field named, words expected.
BAD_ROWS = [
    (["高架路", "高架", "", "", GOOD], "道路等级", "“高架”不是可用的取值"),
    (["负时速", "县道", "-5", "", GOOD], "设计时速", "“-5”应为大于 0 的数"),
    (["零时速", "县道", "0", "", GOOD], "设计时速", "“0”应为大于 0 的数"),
    (["零分钟", "乡道", "", "0", GOOD], "通行时间(分钟)", "“0”应为大于 0 的数"),
    (["负分钟", "乡道", "", "-2.5", GOOD], "通行时间(分钟)", "“-2.5”应为大于 0 的数"),
    (["点", "村道", "", "", "POINT (103.80 29.80)"], GEOMETRY_LABEL, "几何类型为 Point"),
    (["面", "村道", "", "",
      "POLYGON ((103.80 29.80, 103.81 29.80, 103.81 29.81, 103.80 29.80))"],
     GEOMETRY_LABEL, "几何类型为 Polygon"),
    (["空线", "村道", "", "", "LINESTRING EMPTY"], GEOMETRY_LABEL, "几何为空"),
    (["无几何", "村道", "", "", ""], GEOMETRY_LABEL, "几何为空"),
    (["一个点的线", "村道", "", "", "LINESTRING (103.80 29.80, 103.80 29.80)"],
     GEOMETRY_LABEL, "线的不同点少于 2 个"),
]
HEADER = ["名称", "道路等级", "设计时速", "通行时间", "WKT"]


@pytest.mark.parametrize("case", range(len(BAD_ROWS)),
                         ids=[r[0][0] for r in BAD_ROWS])
def test_each_bad_row_is_named_and_nothing_is_stored(tmp_path, files, case):
    row, field, words = BAD_ROWS[case]
    good = ["县道X001", "县道", "40", "", GOOD]
    path = files.csv("道路.csv", [good, row, good], HEADER)  # the bad row is line 3
    store = open_store(tmp_path / "ws.gpkg")
    first = import_file(store, "roads", files.csv("旧.csv", [good], HEADER))
    with pytest.raises(ValidationError) as exc:
        import_file(store, "roads", path)
    (p,) = exc.value.problems
    assert (p.file, p.row, p.field) == ("道路.csv", 3, field), str(p)
    assert words in p.message, str(p)
    assert str(p).startswith("道路.csv，第 3 行，字段“")
    # Nothing stored: the layer is still the one good version.
    assert [v.version for v in store.versions("roads")] == [first.version]
    assert len(store.read("roads")) == 1


def test_all_bad_rows_together_are_listed_in_row_order(files, tmp_path):
    path = files.csv("道路.csv", [r[0] for r in BAD_ROWS], HEADER)
    store = open_store(tmp_path / "ws.gpkg")
    with pytest.raises(ValidationError) as exc:
        import_file(store, "roads", path)
    got = [(p.row, p.field) for p in exc.value.problems]
    assert got == [(i + 2, r[1]) for i, r in enumerate(BAD_ROWS)]
    assert "roads" not in store.current_versions()


def test_geojson_point_feature_is_refused_by_feature_number(files):
    gdf = gpd.GeoDataFrame({"名称": ["甲", "乙"], "道路等级": ["乡道", "村道"]},
                           geometry=[LINES[0], Point(103.8, 29.8)], crs="EPSG:4490")
    with pytest.raises(ValidationError) as exc:
        read_layer(files.geojson("道路.geojson", gdf), "roads")
    (p,) = exc.value.problems
    assert (p.file, p.row, p.field, p.unit) == ("道路.geojson", 2, GEOMETRY_LABEL, "要素")
    assert "几何类型为 Point" in p.message


# --- the demo county's road network -------------------------------------------------------

@pytest.fixture(scope="module")
def demo_layers(module_demo_workspace):
    store = open_store(module_demo_workspace)
    roads = store.read("roads")
    villages = store.read("villages")
    return roads, roads.to_crs(GK), villages.to_crs(GK)


def centre_of(poly) -> Point:
    """A village's centre as the analyses take it (no own centre in the demo): its
    centroid when inside, else a point on its surface."""
    c = poly.centroid
    return c if poly.contains(c) else poly.point_on_surface()


def end_graph(lines, digits: int = 2) -> nx.Graph:
    """Nodes: line end points rounded to ``digits`` decimals of a metre; an edge per line."""
    g = nx.Graph()
    for line in lines:
        xy = shapely.get_coordinates(line)
        g.add_edge(tuple(np.round(xy[0], digits)), tuple(np.round(xy[-1], digits)))
    return g


def test_demo_roads_cover_every_village_centre(demo_layers):
    roads, metric, villages = demo_layers
    assert len(villages) == 58
    network = shapely.union_all(metric.geometry.values)
    gaps = np.array([network.distance(centre_of(p)) for p in villages.geometry])
    assert gaps.max() <= 500.0, gaps.max()
    # Most centres are the very end of an access road.
    ends = shapely.MultiPoint(np.vstack([shapely.get_coordinates(g)[[0, -1]]
                                         for g in metric.geometry]))
    at_end = np.array([ends.distance(centre_of(p)) < 0.01 for p in villages.geometry])
    assert at_end.sum() >= 0.75 * len(villages), at_end.sum()


def test_demo_roads_are_one_piece_when_ends_are_joined(demo_layers):
    roads, metric, _ = demo_layers
    assert set(roads.geom_type) == {"LineString"}
    g = end_graph(metric.geometry)
    assert nx.number_connected_components(g) == 1
    # Joined within 1 m (rounded to whole metres) it is one piece as well, and ends do not
    # merely come close: every junction is the same coordinate on each line.
    assert nx.number_connected_components(end_graph(metric.geometry, digits=0)) == 1
    assert g.number_of_nodes() == end_graph(metric.geometry, digits=0).number_of_nodes()


def test_demo_roads_have_classes_speeds_and_simulated_names(demo_layers):
    roads, metric, _ = demo_layers
    classes = set(roads["road_class"])
    assert {"national", "provincial", "county", "township", "village"} <= classes
    assert classes <= {"expressway", "national", "provincial", "county", "township",
                       "village", "other"}
    speed = roads["speed_kmh"].astype("Float64")
    assert speed.notna().any() and speed.isna().any()  # some given, some left to defaults
    assert (speed.dropna() > 0).all()
    assert roads["name"].str.endswith("示例）").all()
    national = metric[roads["road_class"] == "national"]
    assert national["name"].str.startswith("国道G").all()
    # Gentle bends: roads have more vertices than their two ends.
    assert np.mean([len(shapely.get_coordinates(g)) for g in metric.geometry]) > 5


def test_demo_has_exactly_one_overpass(demo_layers):
    roads, metric, _ = demo_layers
    geoms = list(metric.geometry)
    crossing = [(i, j) for i in range(len(geoms)) for j in range(i + 1, len(geoms))
                if geoms[i].crosses(geoms[j])]
    assert len(crossing) == 1
    i, j = crossing[0]
    a, b = geoms[i], geoms[j]
    where = a.intersection(b)
    assert where.geom_type == "Point"
    shared = ({tuple(p) for p in shapely.get_coordinates(a)}
              & {tuple(p) for p in shapely.get_coordinates(b)})
    assert not shared
    # No line ends anywhere near the crossing: it is no junction of the network.
    ends = np.vstack([shapely.get_coordinates(g)[[0, -1]] for g in geoms])
    assert np.hypot(*(ends - [where.x, where.y]).T).min() > 100
    # Documented on both lines, each naming the other.
    notes = roads["备注"].fillna("")
    assert roads["name"].iloc[j] in notes.iloc[i] and roads["name"].iloc[i] in notes.iloc[j]
    assert set(roads["road_class"].iloc[[i, j]]) == {"national", "village"}
    assert (notes != "").sum() == 2


def test_demo_roads_are_rebuilt_identically(tmp_path):
    """The generator, run again here, writes the committed source file byte for byte."""
    from layers.demo import build

    demo = build.generate(build.load_sources(), say=lambda *a, **k: None)
    out = build.write_sources(demo, tmp_path)
    (path,) = [p for kind, p, _ in out if kind == "roads"]
    assert path.read_bytes() == (GENERATED_DIR / "roads.geojson").read_bytes()
    # and the file is what the workspace holds, row for row
    written = gpd.read_file(path)
    assert len(written) == len(demo.roads)
    assert list(written["名称"]) == list(demo.roads["name"])
    assert pd.Series(written["道路等级"]).isin(
        ["国道", "省道", "县道", "乡道", "村道"]).all()
