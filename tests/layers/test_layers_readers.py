"""read_layer on every input format: fields mapped from Chinese headers, typed, in CGCS2000."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from layers import KINDS, ValidationError, get_kind, read_layer

HOME_HEADER = ["名称", "类型", "床位数", "在住人数", "失能照护", "经度", "纬度", "备注"]


def home_rows(homes: gpd.GeoDataFrame) -> list[list]:
    return [[r["name"], r["kind"], r["beds"], r["occupied_beds"], r["accepts_disabled"],
             r.geometry.x, r.geometry.y, f"备注{i}"] for i, r in homes.iterrows()]


def assert_homes(out: gpd.GeoDataFrame, homes: gpd.GeoDataFrame, gk) -> None:
    """``out`` is the validated, typed copy of the ``homes`` fixture."""
    assert out.crs.to_epsg() == 4490
    assert list(out["name"]) == list(homes["name"])
    assert list(out["kind"]) == list(homes["kind"])
    assert str(out["beds"].dtype) == "Int64"
    assert out["beds"].tolist() == homes["beds"].tolist()
    assert out["occupied_beds"].tolist() == homes["occupied_beds"].tolist()
    assert str(out["accepts_disabled"].dtype) == "boolean"
    assert out["accepts_disabled"].tolist() == [v == "是" for v in homes["accepts_disabled"]]
    assert set(out.geom_type) == {"Point"}
    d = gk.point_distances(out, homes.geometry.x, homes.geometry.y)
    assert d.max() < 0.01


# --- GeoJSON -------------------------------------------------------------------------------

def test_geojson_with_english_fields(files, homes, gk):
    path = files.geojson("homes.geojson", homes)
    out = read_layer(path, "welfare_homes")
    assert_homes(out, homes, gk)
    assert {k: out.attrs[k] for k in ("source_crs", "source")} == {
        "source_crs": "EPSG:4490", "source": "homes.geojson"}
    assert out.attrs["warnings"] == () and list(out.attrs["rows"].rows) == [1, 2, 3, 4, 5]
    assert out.attrs["rows"].unit == "要素"


def test_geojson_without_crs_member_is_wgs84(files, homes, gk):
    path = files.geojson_raw("rfc7946.geojson", [
        ({"名称": r["name"]}, {"type": "Point", "coordinates": [r.geometry.x, r.geometry.y]})
        for _, r in homes.iterrows()])
    out = read_layer(path, "welfare_homes")
    assert out.attrs["source_crs"] == "EPSG:4326"
    assert out.crs.to_epsg() == 4490
    assert gk.point_distances(out, homes.geometry.x, homes.geometry.y).max() < 0.01


def test_geojson_with_chinese_fields(files, homes, homes_zh, gk):
    path = files.geojson("福利院.json", homes_zh)
    out = read_layer(path, "welfare_homes")
    assert_homes(out, homes, gk)
    assert not {"名称", "床位数", "类型"} & set(out.columns)
    assert out.attrs["source"] == "福利院.json"


def test_geojson_extra_columns_are_kept(files, homes, gk):
    homes = homes.assign(联系电话=[f"028-3880000{i}" for i in range(len(homes))])
    out = read_layer(files.geojson("h.geojson", homes), "welfare_homes")
    assert out["联系电话"].tolist() == list(homes["联系电话"])


def test_geojson_cemeteries_accept_points_and_polygons(files):
    path = files.geojson_raw("cem.geojson", [
        ({"名称": "青龙公墓", "性质": "公益性"},
         {"type": "Point", "coordinates": [103.85, 29.83]}),
        ({"名称": "瑞峰陵园", "性质": "经营性"},
         {"type": "Polygon", "coordinates": [[[103.80, 29.80], [103.81, 29.80],
                                              [103.81, 29.81], [103.80, 29.80]]]}),
    ])
    out = read_layer(path, "cemeteries")
    assert list(out.geom_type) == ["Point", "Polygon"]
    assert list(out["kind"]) == ["public_welfare", "commercial"]


# --- GeoPackage ----------------------------------------------------------------------------

def test_geopackage_single_layer(files, villages):
    path = files.gpkg("v.gpkg", {"村界": villages})
    out = read_layer(path, "villages")
    assert len(out) == len(villages)
    assert list(out["code"]) == list(villages["code"])
    assert out["population"].tolist() == villages["population"].tolist()
    assert out.geometry.geom_equals_exact(villages.geometry, 1e-12).all()
    assert out.attrs["source_crs"] == "EPSG:4490"


def test_geopackage_picks_the_layer_named_like_the_kind(files, villages, homes, make_villages):
    townships = gpd.GeoDataFrame({"code": ["511425102"], "name": ["汉阳镇"]},
                                 geometry=[villages.union_all().envelope], crs="EPSG:4490")
    other = make_villages(2, 1, township="511425108", x0=103.9)
    path = files.gpkg("workspace.gpkg", {"townships": townships, "村界_旧": other,
                                         "villages": villages, "welfare_homes": homes})
    out = read_layer(path, "villages")
    assert list(out["code"]) == list(villages["code"])
    out = read_layer(path, "townships")
    assert list(out["name"]) == ["汉阳镇"]
    out = read_layer(path, "welfare_homes")
    assert list(out["name"]) == list(homes["name"])


def test_geopackage_without_a_layer_of_that_name_reads_the_first(files, villages, homes):
    path = files.gpkg("mixed.gpkg", {"福利院": homes, "村界": villages})
    out = read_layer(path, "welfare_homes")
    assert list(out["name"]) == list(homes["name"])
    # The first layer is points: as villages it is rejected, not silently another layer.
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "villages")
    assert any("应为面" in p.message for p in exc.value.problems)


def test_geopackage_in_gauss_kruger_is_reprojected(files, homes, gk):
    path = files.gpkg("gk.gpkg", {"welfare_homes": homes.to_crs(gk.plain)})
    out = read_layer(path, "welfare_homes")
    assert out.attrs["source_crs"] == gk.plain
    assert_homes(out, homes, gk)


# --- zipped Shapefile ------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "cpg"), [
    ("UTF-8", True),
    ("GBK", True),
    ("GBK", "936"),
    ("UTF-8", False),
    ("GBK", False),
], ids=["utf8-cpg", "gbk-cpg", "gbk-cpg936", "utf8-no-cpg", "gbk-no-cpg"])
def test_zipped_shapefile_encodings_with_chinese_field_names(files, homes, homes_zh, gk,
                                                            encoding, cpg):
    # A .dbf field name holds 10 bytes: three Chinese characters in UTF-8, five in GBK.
    homes_zh = homes_zh.drop(columns=["在住人数", "失能照护"])
    path = files.shapefile_zip("福利院.zip", homes_zh, encoding=encoding, cpg=cpg)
    out = read_layer(path, "welfare_homes")
    assert out.crs.to_epsg() == 4490
    assert list(out["name"]) == list(homes["name"])
    assert list(out["kind"]) == list(homes["kind"])
    assert str(out["beds"].dtype) == "Int64"
    assert out["beds"].tolist() == homes["beds"].tolist()
    assert gk.point_distances(out, homes.geometry.x, homes.geometry.y).max() < 0.01
    assert "名称" not in out.columns and "床位数" not in out.columns


def test_zipped_gbk_shapefile_with_four_character_field_names(files, homes, homes_zh, gk):
    path = files.shapefile_zip("福利院.zip", homes_zh, encoding="GBK", cpg=False)
    out = read_layer(path, "welfare_homes")
    assert_homes(out, homes, gk)


def test_zipped_shapefile_gb18030_without_cpg_keeps_rare_characters(files, homes_zh):
    # 䶮 (CJK extension A) is not in GBK: a GBK reading would garble the whole name.
    names = ["䶮村幸福院", "𠀾溪村敬老院"] + list(homes_zh["名称"][2:])
    path = files.shapefile_zip("rare.zip", homes_zh.assign(名称=names), encoding="GB18030",
                               cpg=False)
    out = read_layer(path, "welfare_homes")
    assert list(out["name"]) == names


def test_zipped_shapefile_in_a_folder_with_codes(files, villages, gk):
    path = files.shapefile_zip("cun.zip", villages.rename(columns={
        "code": "村代码", "name": "村名", "township_code": "乡镇代码", "population": "户籍人口",
        "elderly_population": "老年人口"}), encoding="GBK", cpg=False, folder_in_zip="村界/")
    out = read_layer(path, "villages")
    assert list(out["code"]) == list(villages["code"])
    assert list(out["township_code"]) == [villages["township_code"][0]] * len(villages)
    assert list(out["name"]) == list(villages["name"])
    assert out["elderly_population"].tolist() == villages["elderly_population"].tolist()
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert np.allclose(out.to_crs(gk.plain).area, villages.to_crs(gk.plain).area)


def test_unzipped_shapefile(files, homes_zh, homes, gk):
    files.shapefile_zip("x.zip", homes_zh, encoding="GBK", cpg=False)
    shp = files.folder / "_x_shp" / "x.shp"
    out = read_layer(shp, "welfare_homes")
    assert_homes(out, homes, gk)


# --- CSV / XLSX ------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_with_chinese_headers(files, homes, gk, encoding):
    path = files.csv(f"homes_{encoding}.csv", home_rows(homes), HOME_HEADER, encoding=encoding)
    if encoding == "utf-8-sig":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out = read_layer(path, "welfare_homes")
    assert_homes(out, homes, gk)
    assert out["备注"].tolist() == [f"备注{i}" for i in range(len(homes))]
    assert "经度" not in out.columns and "纬度" not in out.columns
    assert (out.attrs["source_crs"], out.attrs["source"]) == ("EPSG:4490", path.name)
    assert out.attrs["warnings"] == () and list(out.attrs["rows"].rows) == [2, 3, 4, 5, 6]


def test_csv_values_and_headers_are_stripped(files):
    text = (" 名称 , 层级 ,床位数, 经度 ,纬度\n"
            " 汉阳镇养老服务中心 , 乡镇养老服务中心 , 30 , 103.85 , 29.83 \n")
    out = read_layer(files.text("p.csv", text), "elderly_service_points")
    assert out["name"].tolist() == ["汉阳镇养老服务中心"]
    assert out["level"].tolist() == ["township_center"]
    assert out["beds"].tolist() == [30]
    assert (out.geometry.x.iloc[0], out.geometry.y.iloc[0]) == (103.85, 29.83)


def test_csv_english_coordinate_headers_and_thousands(files):
    text = "name,level,beds,lng,lat\n站点,village_station,\"1,200\",103.85,29.83\n"
    out = read_layer(files.text("p.csv", text), "elderly_service_points")
    assert out["beds"].tolist() == [1200]
    assert out["level"].tolist() == ["village_station"]


def test_csv_village_polygons_from_wkt(files, villages):
    header = ["行政区划代码", "名称", "所属乡镇代码", "户籍人口", "60岁以上人口", "WKT"]
    rows = [[r["code"], r["name"], r["township_code"], r["population"],
             r["elderly_population"], r.geometry.wkt] for _, r in villages.iterrows()]
    out = read_layer(files.csv("cun.csv", rows, header, encoding="gbk"), "villages")
    assert list(out["code"]) == list(villages["code"])
    assert out["code"].map(type).eq(str).all()
    assert list(out["township_code"]) == list(villages["township_code"])
    assert out["population"].tolist() == villages["population"].tolist()
    assert out.geometry.geom_equals_exact(villages.geometry, 1e-9).all()
    assert out.crs.to_epsg() == 4490


def test_csv_township_polygon_from_geometry_column(files):
    poly = box(103.80, 29.80, 103.86, 29.84)
    out = read_layer(files.csv("t.csv", [["511425102", "汉阳镇", 12000, poly.wkt]],
                               ["乡镇代码", "名称", "总人口", "geometry"]), "townships")
    assert out["code"].tolist() == ["511425102"]
    assert out["population"].tolist() == [12000]
    assert out.geometry.iloc[0].equals(poly)


def test_xlsx_with_chinese_headers_and_number_cells(files, homes, gk):
    path = files.xlsx("福利院.xlsx", home_rows(homes), HOME_HEADER)
    out = read_layer(path, "welfare_homes")
    assert_homes(out, homes, gk)
    assert out.attrs["source_crs"] == "EPSG:4490"


def test_xlsx_codes_typed_as_numbers_become_text(files, villages):
    header = ["村代码", "村名", "所属乡镇", "总人口", "60周岁以上人口", "x", "y"]
    rows = [[int(r["code"]), r["name"], int(r["township_code"]), r["population"],
             r["elderly_population"], r.geometry.centroid.x, r.geometry.centroid.y]
            for _, r in villages.iterrows()]
    path = files.xlsx("cun.xlsx", rows, header)
    # Villages are polygons: points are rejected, but the codes were read as text first.
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "villages")
    assert all("应为面" in p.message for p in exc.value.problems)
    assert not any("代码" in (p.field or "") for p in exc.value.problems)
    out = read_layer(path, "place_labels")  # the same sheet as points
    assert out["name"].tolist() == list(villages["name"])
    assert out["村代码"].tolist() == list(villages["code"])


def test_xlsx_choice_and_bool_labels(files):
    rows = [["甲镇中心", "乡镇养老服务中心", 30, 103.85, 29.83],
            ["乙村站", "village_station", None, 103.86, 29.84],
            ["丙组点", "村民小组养老服务点", 0, 103.87, 29.85]]
    out = read_layer(files.xlsx("p.xlsx", rows, ["设施名称", "设施层级", "床位", "经度", "纬度"]),
                     "elderly_service_points")
    assert out["level"].tolist() == ["township_center", "village_station", "group_point"]
    assert out["beds"].tolist()[0] == 30 and out["beds"].isna().tolist() == [False, True, False]


def test_blank_rows_in_a_sheet_are_not_records(files, homes):
    rows = home_rows(homes)
    rows.insert(2, [None] * len(HOME_HEADER))
    out = read_layer(files.xlsx("h.xlsx", rows + [[None] * len(HOME_HEADER)] * 3, HOME_HEADER),
                     "welfare_homes")
    assert list(out["name"]) == list(homes["name"])
    text = files.csv("h.csv", home_rows(homes), HOME_HEADER).read_text(encoding="utf-8")
    lines = text.splitlines()
    text = "\n".join(lines[:3] + ["", ",,,,,,,"] + lines[3:] + ["", ""])
    out = read_layer(files.text("h2.csv", text), "welfare_homes")
    assert list(out["name"]) == list(homes["name"])


# --- the API ---------------------------------------------------------------------------------

def test_read_layer_accepts_a_layer_kind_and_a_display_name(files, homes, gk):
    path = files.geojson("upload_3f2a.geojson", homes)
    out = read_layer(str(path), KINDS["welfare_homes"], filename="乡镇敬老院名录.geojson")
    assert_homes(out, homes, gk)
    assert out.attrs["source"] == "乡镇敬老院名录.geojson"


def test_unknown_kind_is_a_chinese_key_error(files, homes):
    path = files.geojson("h.geojson", homes)
    with pytest.raises(KeyError, match="未知的图层类型"):
        read_layer(path, "hospitals")
    with pytest.raises(KeyError, match="福利院"):
        get_kind("hospitals")


def test_every_kind_has_chinese_labels():
    for kind in KINDS.values():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in kind.label)
        for f in kind.fields:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in f.label), (kind.name, f.name)
            for label in (f.choices or {}).values():
                assert any("\u4e00" <= ch <= "\u9fff" for ch in label)


def test_result_is_a_fresh_frame_with_a_clean_index(files, homes):
    text = files.csv("h.csv", home_rows(homes), HOME_HEADER).read_text(encoding="utf-8")
    out = read_layer(files.text("h.csv", text), "welfare_homes")
    assert list(out.index) == list(range(len(homes)))
    assert isinstance(out, gpd.GeoDataFrame)
    assert pd.api.types.is_object_dtype(out["name"]) or pd.api.types.is_string_dtype(out["name"])
    assert all(isinstance(g, Point) for g in out.geometry)
