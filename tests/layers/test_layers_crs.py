"""Coordinate systems: CGCS2000 default, Gauss-Kruger zones (with and without the zone
prefix), GCJ-02 and BD-09 in both directions, and the CRS errors people get."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS, Transformer
from shapely.geometry import Point, Polygon

from layers import ValidationError, read_layer
from layers import crs as crsmod

HEADER = ["名称", "层级", "床位数", "经度", "纬度"]


def points_csv(files, name, xs, ys, *, header=None, encoding="utf-8"):
    rows = [[f"站点{i}", "村级互助养老服务站", 6, x, y]
            for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    return files.csv(name, rows, header or HEADER, encoding=encoding)


@pytest.fixture
def truth(rng):
    """Twenty true CGCS2000 positions in Qingshen (about 103.8E, zone 35)."""
    return rng.uniform(103.70, 103.95, 20), rng.uniform(29.70, 29.95, 20)


def china_grid(n=12):
    lon, lat = np.meshgrid(np.linspace(74.0, 134.5, n), np.linspace(18.5, 53.0, n))
    return lon.ravel(), lat.ravel()


# --- the zone arithmetic -----------------------------------------------------------------------

def test_zone_codes_match_pyproj():
    assert crsmod.gk_zone_epsg(103.8) == 4544
    assert crsmod.gk_zone_epsg(75.2) == 4534 and crsmod.gk_zone_epsg(134.9) == 4554
    assert crsmod.prefixed_epsg(35) == "EPSG:4523"
    assert crsmod.plain_gk_zone("EPSG:4544") == 35 and crsmod.plain_gk_zone("EPSG:4523") is None
    for zone in (25, 35, 45):
        plain = CRS.from_epsg(4534 + zone - 25)
        prefixed = CRS.from_user_input(crsmod.prefixed_epsg(zone))
        assert plain.coordinate_operation.params[1].value == 3 * zone  # central meridian
        assert prefixed.coordinate_operation.params[1].value == 3 * zone
        false_e = {p.name: p.value for p in prefixed.coordinate_operation.params}["False easting"]
        assert false_e == zone * 1e6 + 500_000
        assert "CGCS2000" in plain.name and "CGCS2000" in prefixed.name


def test_prefixed_zone_detection():
    assert crsmod.prefixed_zone(np.array([35_380_000.0, 35_412_345.6])) == 35
    assert crsmod.prefixed_zone(np.array([380_000.0, 412_345.6])) is None
    assert crsmod.prefixed_zone(np.array([35_380_000.0, 36_100_000.0])) is None  # two zones
    assert crsmod.prefixed_zone(np.array([12_380_000.0])) is None  # no such zone
    assert crsmod.prefixed_zone(np.array([])) is None


def test_metric_crs_is_the_zone_of_the_centre(villages):
    assert crsmod.metric_crs(villages) == "EPSG:4544"
    east = villages.set_geometry(villages.translate(17.0, 0.0))  # about 120.8E
    assert crsmod.metric_crs(east) == "EPSG:4549"  # CM 120E


@pytest.mark.parametrize(("text", "expected"), [
    ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("amap", "gcj02"),
    ("bd09", "bd09"), ("BD-09", "bd09"), ("baidu", "bd09"),
    ("4490", "EPSG:4490"), ("EPSG:4490", "EPSG:4490"), ("epsg:4326", "EPSG:4326"),
    (" EPSG:4544 ", "EPSG:4544"), ("", None), (None, None),
])
def test_parse_crs(text, expected):
    assert crsmod.parse_crs(text) == expected


def test_parse_crs_rejects_nonsense_in_chinese():
    with pytest.raises(crsmod.CRSInputError, match="无法识别的坐标系"):
        crsmod.parse_crs("西安80坐标")


def test_describe_is_chinese_or_names_the_crs():
    assert crsmod.describe(None) == "未指定"
    assert "高德" in crsmod.describe("gcj02") and "百度" in crsmod.describe("bd09")
    assert "CGCS2000" in crsmod.describe("EPSG:4544")


# --- CGCS2000 and WGS84 input ------------------------------------------------------------------

def test_lonlat_table_defaults_to_cgcs2000(files, truth, gk):
    lon, lat = truth
    out = read_layer(points_csv(files, "p.csv", lon, lat), "elderly_service_points")
    assert out.attrs["source_crs"] == "EPSG:4490"
    assert out.crs.to_epsg() == 4490
    assert np.array_equal(out.geometry.x.to_numpy(), lon)
    assert np.array_equal(out.geometry.y.to_numpy(), lat)


@pytest.mark.parametrize(("given", "used"), [
    ("EPSG:4490", "EPSG:4490"), ("4490", "EPSG:4490"), ("EPSG:4326", "EPSG:4326"),
])
def test_explicit_geographic_crs(files, truth, gk, given, used):
    lon, lat = truth
    out = read_layer(points_csv(files, "p.csv", lon, lat), "elderly_service_points", crs=given)
    assert out.attrs["source_crs"] == used
    assert out.crs.to_epsg() == 4490
    assert gk.point_distances(out, lon, lat).max() < 1.0


def test_crs_argument_overrides_the_file(files, truth, gk):
    lon, lat = truth
    gx, gy = crsmod.wgs_to_gcj(lon, lat)
    pts = gpd.GeoDataFrame({"name": [f"点{i}" for i in range(len(lon))], "level": "group_point"},
                           geometry=[Point(x, y) for x, y in zip(gx, gy, strict=True)],
                           crs="EPSG:4326")
    out = read_layer(files.geojson("amap.geojson", pts), "elderly_service_points",
                     crs="gcj02")
    assert out.attrs["source_crs"] == "gcj02"
    assert gk.point_distances(out, lon, lat).max() < 1.0


def test_bad_crs_argument_is_a_validation_error(files, truth):
    path = points_csv(files, "p.csv", *truth)
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points", crs="北京54")
    (problem,) = exc.value.problems
    assert problem.file == "p.csv" and problem.row is None
    assert "无法识别的坐标系" in problem.message and "EPSG" in problem.message


# --- Gauss-Kruger --------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [["名称", "层级", "床位数", "X坐标", "Y坐标"],
                                    ["名称", "层级", "床位数", "x", "y"],
                                    ["名称", "层级", "床位数", "东坐标", "北坐标"]])
def test_plain_gauss_kruger_with_crs(files, truth, gk, header):
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.plain)
    assert (x > 300_000).all() and (x < 500_000).all()  # west of the 105E meridian
    path = points_csv(files, "gk.csv", x.round(3), y.round(3), header=header)
    out = read_layer(path, "elderly_service_points", crs="EPSG:4544")
    assert out.attrs["source_crs"] == "EPSG:4544"
    assert gk.point_distances(out, lon, lat).max() < 0.01


def test_plain_gauss_kruger_without_crs_asks_for_crs(files, truth, gk):
    x, y = gk.forward(*truth, gk.plain)
    path = points_csv(files, "gk.csv", x.round(3), y.round(3))
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points")
    (problem,) = exc.value.problems
    assert problem.file == "gk.csv"
    assert "--crs" in problem.message and "无法判断坐标系" in problem.message


def test_prefixed_eastings_are_detected_without_crs(files, truth, gk):
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.prefixed)
    assert (x // 1e6 == 35).all()
    out = read_layer(points_csv(files, "gk35.csv", x.round(3), y.round(3)),
                     "elderly_service_points")
    assert out.attrs["source_crs"] == "EPSG:4523"
    assert gk.point_distances(out, lon, lat).max() < 0.01


def test_prefixed_eastings_with_the_plain_zone_crs_are_accepted(files, truth, gk):
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.prefixed)
    path = points_csv(files, "gk35.csv", x.round(3), y.round(3))
    for given in ("EPSG:4544", "4544", "EPSG:4523"):
        out = read_layer(path, "elderly_service_points", crs=given)
        assert out.attrs["source_crs"] == "EPSG:4523"
        assert gk.point_distances(out, lon, lat).max() < 0.01


def test_prefixed_eastings_with_another_zone_are_rejected(files, truth, gk):
    x, y = gk.forward(*truth, gk.prefixed)
    path = points_csv(files, "gk35.csv", x.round(3), y.round(3))
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points", crs=gk.wrong_zone)
    (problem,) = exc.value.problems
    assert problem.file == "gk35.csv"
    assert "第 34 带" in problem.message and "35" in problem.message
    assert "核对坐标系" in problem.message


def test_plain_eastings_in_the_wrong_zone_land_away_and_are_reported(files, truth, gk):
    # Numbers read with a far-away CRS end up outside China and are reported per row.
    x, y = gk.forward(*truth, gk.plain)
    path = points_csv(files, "gk.csv", x.round(3), y.round(3))
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points", crs="EPSG:32617")  # UTM 17N (America)
    problems = exc.value.problems
    assert [p.row for p in problems] == list(range(2, 2 + len(x)))
    assert all("超出中国范围" in p.message and "核对坐标系" in p.message for p in problems)


def test_shapefile_without_prj_and_prefixed_eastings(files, truth, gk):
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.prefixed)
    pts = gpd.GeoDataFrame({"名称": [f"点{i}" for i in range(len(x))], "层级": "group_point"},
                           geometry=[Point(a, b) for a, b in zip(x, y, strict=True)])
    path = files.shapefile_zip("noprj.zip", pts, encoding="GBK", cpg=False, prj=False)
    out = read_layer(path, "elderly_service_points")
    assert out.attrs["source_crs"] == "EPSG:4523"
    assert gk.point_distances(out, lon, lat).max() < 0.01


def test_geojson_of_projected_numbers_without_crs(files, truth, gk):
    """GDAL calls every GeoJSON without a crs member WGS84: projected numbers in one are
    treated as having no CRS (zone prefix detected, else a request for --crs)."""
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.prefixed)
    feats = [({"名称": f"点{i}", "层级": "group_point"},
              {"type": "Point", "coordinates": [a, b]})
             for i, (a, b) in enumerate(zip(x, y, strict=True))]
    out = read_layer(files.geojson_raw("gk35.geojson", feats), "elderly_service_points")
    assert out.attrs["source_crs"] == "EPSG:4523"
    assert gk.point_distances(out, lon, lat).max() < 0.01

    plain = [(p, {"type": "Point", "coordinates": [c["coordinates"][0] - 35e6,
                                                    c["coordinates"][1]]}) for p, c in feats]
    path = files.geojson_raw("gk.geojson", plain)
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points")
    assert "--crs" in exc.value.problems[0].message
    out = read_layer(path, "elderly_service_points", crs="EPSG:4544")
    assert gk.point_distances(out, lon, lat).max() < 0.01


def test_geojson_with_a_declared_gk_crs(files, truth, gk):
    lon, lat = truth
    x, y = gk.forward(lon, lat, gk.plain)
    feats = [({"名称": f"点{i}", "层级": "group_point"}, {"type": "Point", "coordinates": [a, b]})
             for i, (a, b) in enumerate(zip(x, y, strict=True))]
    path = files.geojson_raw("gk.geojson", feats, crs_name="urn:ogc:def:crs:EPSG::4544")
    out = read_layer(path, "elderly_service_points")
    assert out.attrs["source_crs"] == "EPSG:4544"
    assert gk.point_distances(out, lon, lat).max() < 0.01


def test_gauss_kruger_polygons_from_wkt(files, villages, gk):
    projected = villages.to_crs(gk.plain)
    rows = [[r["code"], r["name"], r["township_code"], r["population"],
             r["elderly_population"], r.geometry.wkt] for _, r in projected.iterrows()]
    path = files.csv("cun.csv", rows, ["代码", "名称", "乡镇代码", "人口", "老年人口", "wkt"])
    out = read_layer(path, "villages", crs="EPSG:4544")
    assert out.crs.to_epsg() == 4490
    assert out.geometry.geom_equals_exact(villages.geometry, 1e-8).all()


# --- GCJ-02 and BD-09 ---------------------------------------------------------------------------

def test_gcj_round_trip_across_china(gk):
    lon, lat = china_grid()
    gx, gy = crsmod.wgs_to_gcj(lon, lat)
    bx, by = crsmod.gcj_to_wgs(gx, gy)
    assert gk.distances(lon, lat, bx, by).max() < 0.01


def test_bd_round_trip_across_china(gk):
    lon, lat = china_grid()
    bx, by = crsmod.wgs_to_bd(lon, lat)
    assert gk.distances(lon, lat, bx, by).min() > 50  # BD-09 is further off than GCJ-02
    wx, wy = crsmod.bd_to_wgs(bx, by)
    assert gk.distances(lon, lat, wx, wy).max() < 0.01
    # The library's own BD-09 -> GCJ-02 is approximate (decimetres): close, not exact.
    gx, gy = crsmod.bd_to_gcj(*crsmod.gcj_to_bd(*crsmod.wgs_to_gcj(lon, lat)))
    assert gk.distances(*crsmod.wgs_to_gcj(lon, lat), gx, gy).max() < 1.0


def test_gcj_offset_is_hundreds_of_metres_in_eastern_china(rng, gk):
    lon = rng.uniform(105.0, 122.0, 200)
    lat = rng.uniform(22.0, 40.0, 200)
    gx, gy = crsmod.wgs_to_gcj(lon, lat)
    d = gk.distances(lon, lat, gx, gy)
    assert d.min() > 100 and d.max() < 700
    bx, by = crsmod.wgs_to_bd(lon, lat)
    assert (gk.distances(gx, gy, bx, by) > 100).all()  # BD-09 shifts GCJ-02 again


def test_offset_transforms_accept_empty_and_scalar_input():
    x, y = crsmod.wgs_to_gcj(np.array([]), np.array([]))
    assert x.size == 0 and y.size == 0
    x, y = crsmod.gcj_to_wgs(*crsmod.wgs_to_gcj(np.array([103.8]), np.array([29.8])))
    assert abs(x[0] - 103.8) < 1e-9 and abs(y[0] - 29.8) < 1e-9


@pytest.mark.parametrize(("given", "forward"), [("gcj02", "wgs_to_gcj"), ("GCJ-02", "wgs_to_gcj"),
                                                ("bd09", "wgs_to_bd"), ("baidu", "wgs_to_bd")])
def test_import_offset_points_from_csv(files, truth, gk, given, forward):
    lon, lat = truth
    ox, oy = getattr(crsmod, forward)(lon, lat)
    assert gk.distances(lon, lat, ox, oy).min() > 100
    path = points_csv(files, "amap.csv", ox.round(8), oy.round(8), encoding="gbk")
    out = read_layer(path, "elderly_service_points", crs=given)
    assert out.attrs["source_crs"] == crsmod.parse_crs(given)
    assert out.crs.to_epsg() == 4490
    assert gk.point_distances(out, lon, lat).max() < 1.0


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_import_offset_polygons_from_geojson(files, villages, gk, system):
    forward = crsmod.wgs_to_gcj if system == "gcj02" else crsmod.wgs_to_bd

    def shift(poly):
        xy = np.asarray(poly.exterior.coords)
        x, y = forward(xy[:, 0], xy[:, 1])
        return Polygon(np.column_stack([x, y]))

    shifted = villages.set_geometry([shift(p) for p in villages.geometry], crs="EPSG:4326")
    out = read_layer(files.geojson("v.geojson", shifted), "villages", crs=system)
    for got, want in zip(out.geometry, villages.geometry, strict=True):
        a, b = np.asarray(got.exterior.coords), np.asarray(want.exterior.coords)
        assert gk.distances(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 1.0


def test_from_stored_inverts_to_stored(villages, gk):
    for system in ("gcj02", "bd09"):
        shown = crsmod.from_stored(villages, system)
        back = crsmod.to_stored(shown, system)
        assert back.crs.to_epsg() == 4490
        for got, want in zip(back.geometry, villages.geometry, strict=True):
            a, b = np.asarray(got.exterior.coords), np.asarray(want.exterior.coords)
            assert gk.distances(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.01
        c0, c1 = shown.geometry.iloc[0].centroid, villages.geometry.iloc[0].centroid
        assert gk.distances([c0.x], [c0.y], [c1.x], [c1.y])[0] > 100


def test_from_stored_to_gauss_kruger_is_metric(villages):
    out = crsmod.from_stored(villages, crsmod.metric_crs(villages))
    t = Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)
    x, y = t.transform(villages.geometry.iloc[0].exterior.coords[0][0],
                       villages.geometry.iloc[0].exterior.coords[0][1])
    assert np.allclose(out.geometry.iloc[0].exterior.coords[0], (x, y))
    # A village 0.02 degrees a side is about 1.9 km by 2.2 km.
    assert 3.5e6 < out.geometry.iloc[0].area < 4.8e6


def test_offset_inputs_are_checked_for_china_before_converting(files):
    path = points_csv(files, "amap.csv", [29.83, 103.85], [103.85, 29.83])
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "elderly_service_points", crs="gcj02")
    (problem,) = exc.value.problems
    assert problem.row == 2 and "颠倒" in problem.message
