"""Rejected inputs: every problem located by file, row (spreadsheet line or feature number)
and field, with a Chinese message; nothing is returned for a file with any problem.

Defects a reviewer must see (codes, repairable polygons of villages and townships) are
imported with warnings instead (issue 12): those tests check the warnings, located the
same way; tests/layers/test_import_warnings.py has the rest."""

from __future__ import annotations

import re
import zipfile

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon, box

from layers import Problem, ValidationError, read_layer
from layers.readers import GEOMETRY_LABEL

CJK = re.compile(r"[\u4e00-\u9fff]")
HOMES = ["名称", "类型", "床位数", "在住人数", "经度", "纬度"]
POINTS = ["名称", "层级", "床位数", "经度", "纬度"]
VILLAGES = ["村代码", "名称", "所属乡镇代码", "户籍人口", "60岁以上人口", "WKT"]
T = "511425102"


def rejected(path, kind, **kw) -> list[Problem]:
    with pytest.raises(ValidationError) as exc:
        read_layer(path, kind, **kw)
    err = exc.value
    assert str(err).startswith(f"导入被拒绝，共 {len(err.problems)} 处问题")
    assert err.problems, "a rejection must say why"
    for p in err.problems:
        assert CJK.search(p.message), p.message
    return err.problems


def warned(path, kind, **kw) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The layer read from a file with defects that are imported, and its warnings."""
    gdf = read_layer(path, kind, **kw)
    warnings = list(gdf.attrs["warnings"])
    assert warnings, "a defect must be reported"
    for p in warnings:
        assert CJK.search(p.message), p.message
    return gdf, warnings


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def find(problems: list[Problem], file: str, row: int | None, field: str | None,
         *words: str) -> Problem:
    """The problem at (file, row, field) whose message holds every word."""
    hits = [p for p in problems if (p.file, p.row, p.field) == (file, row, field)
            and all(w in p.message for w in words)]
    assert hits, f"no problem {file}/{row}/{field}/{words} in {[str(p) for p in problems]}"
    return hits[0]


def village_rows(n=3):
    return [[f"{T}{200 + i}", f"第{i + 1}村", T, 1000, 200,
             box(103.80 + 0.02 * i, 29.80, 103.82 + 0.02 * i, 29.82).wkt] for i in range(n)]


def point_rows(n=4):
    return [[f"站点{i}", "village_station", 6, 103.80 + 0.01 * i, 29.80 + 0.01 * i]
            for i in range(n)]


def home_rows(n=4):
    return [[f"敬老院{i}", "township", 40, 20, 103.80 + 0.01 * i, 29.80 + 0.01 * i]
            for i in range(n)]


BOWTIE = Polygon([(103.80, 29.80), (103.82, 29.82), (103.82, 29.80), (103.80, 29.82)])


# --- fields ----------------------------------------------------------------------------------

def test_missing_required_column(files):
    rows = [r[:3] + r[4:] for r in village_rows()]
    header = VILLAGES[:3] + VILLAGES[4:]
    p = only(rejected(files.csv("cun.csv", rows, header), "villages"))
    assert (p.file, p.row, p.field) == ("cun.csv", None, "population")
    assert "缺少必填字段“户籍人口”" in p.message and "人口" in p.message
    assert str(p).startswith("cun.csv，字段“population”：缺少必填字段")


def test_missing_required_column_in_geojson(files):
    path = files.geojson_raw("pts.geojson", [
        ({"名称": "甲站"}, {"type": "Point", "coordinates": [103.8, 29.8]})])
    p = only(rejected(path, "elderly_service_points"))
    assert (p.file, p.row, p.field) == ("pts.geojson", None, "level")
    assert "层级" in p.message


def test_empty_required_values_csv_lines(files):
    rows = point_rows()
    rows[1][0] = ""  # line 3
    rows[3][1] = "  "  # line 5
    problems = rejected(files.csv("站点.csv", rows, POINTS), "elderly_service_points")
    assert len(problems) == 2
    find(problems, "站点.csv", 3, "名称", "必填字段为空")
    p = find(problems, "站点.csv", 5, "层级", "必填字段为空")
    assert p.unit == "行" and "第 5 行" in str(p)


def test_empty_required_value_xlsx_line(files):
    rows = point_rows()
    rows[2][1] = None  # line 4
    p = only(rejected(files.xlsx("站点.xlsx", rows, POINTS), "elderly_service_points"))
    assert (p.file, p.row, p.field) == ("站点.xlsx", 4, "层级")


def test_empty_required_value_geojson_feature(files, homes):
    homes.loc[2, "name"] = None
    p = only(rejected(files.geojson("h.geojson", homes), "welfare_homes"))
    assert (p.file, p.row, p.field, p.unit) == ("h.geojson", 3, "名称", "要素")
    assert "第 3 个要素" in str(p) and "必填字段为空" in p.message


def test_empty_required_value_shapefile_feature(files, homes_zh):
    homes_zh = homes_zh.drop(columns=["在住人数", "失能照护"])
    homes_zh.loc[4, "名称"] = ""
    p = only(rejected(files.shapefile_zip("h.zip", homes_zh, encoding="GBK", cpg=False),
                      "welfare_homes"))
    assert (p.file, p.row, p.field, p.unit) == ("h.zip", 5, "名称", "要素")


def test_empty_required_value_geopackage_feature(files, villages):
    villages["elderly_population"] = villages["elderly_population"].astype("float")
    villages.loc[0, "elderly_population"] = float("nan")
    p = only(rejected(files.gpkg("v.gpkg", {"villages": villages}), "villages"))
    assert (p.file, p.row, p.field) == ("v.gpkg", 1, "60岁以上人口")


@pytest.mark.parametrize(("value", "words"), [
    ("四十", ("不是数字",)), ("abc", ("不是数字",)), ("NaN", ("不是数字",)),
    ("inf", ("不是数字",)), ("-3", ("非负整数",)), ("2.5", ("非负整数",)),
])
def test_bad_bed_numbers(files, value, words):
    rows = point_rows()
    rows[2][2] = value
    p = only(rejected(files.csv("p.csv", rows, POINTS), "elderly_service_points"))
    assert (p.file, p.row, p.field) == ("p.csv", 4, "床位数")
    assert all(w in p.message for w in words) and value in p.message


def test_bad_choice_value_and_chinese_labels_accepted(files):
    rows = point_rows()
    rows[0][1] = "乡镇养老服务中心"
    rows[1][1] = "村民小组养老服务点"
    rows[3][1] = "县级中心"
    p = only(rejected(files.csv("p.csv", rows, POINTS), "elderly_service_points"))
    assert (p.file, p.row, p.field) == ("p.csv", 5, "层级")
    assert "不是可用的取值" in p.message and "乡镇养老服务中心" in p.message
    rows[3][1] = "township_center"
    out = read_layer(files.csv("p2.csv", rows, POINTS), "elderly_service_points")
    assert out["level"].tolist() == ["township_center", "group_point", "village_station",
                                     "township_center"]


def test_bad_bool_value(files, homes):
    homes.loc[1, "accepts_disabled"] = "也许"
    p = only(rejected(files.geojson("h.geojson", homes), "welfare_homes"))
    assert (p.file, p.row, p.field) == ("h.geojson", 2, "失能照护")
    assert "是/否" in p.message


def test_more_occupied_than_beds(files):
    rows = home_rows()
    rows[1][3] = 41
    p = only(rejected(files.csv("h.csv", rows, HOMES), "welfare_homes"))
    assert (p.file, p.row, p.field) == ("h.csv", 3, "在住人数")
    assert "超过床位数" in p.message and "41 > 40" in p.message


def test_more_elderly_than_population_is_a_warning(files):
    rows = village_rows()
    rows[2][4] = 5000
    gdf, warnings = warned(files.csv("cun.csv", rows, VILLAGES), "villages")
    p = only(warnings)
    assert (p.file, p.row, p.field) == ("cun.csv", 4, "60岁以上人口")
    assert "超过户籍人口" in p.message and p.value == "5000 > 1000"
    assert gdf["elderly_population"].tolist() == [200, 200, 5000]


# --- codes -----------------------------------------------------------------------------------

def test_malformed_codes_are_warnings_and_kept_as_given(files):
    rows = village_rows(5)
    rows[0][0] = "51142510220"  # 11 digits
    rows[1][2] = "51142510"  # township code of 8 digits
    rows[2][0] = "51142510220A"  # a letter
    rows[3][0] = "５１１４２５１０２２０３"  # full-width digits
    gdf, warnings = warned(files.csv("cun.csv", rows, VILLAGES), "villages")
    assert find(warnings, "cun.csv", 2, "村(社区)代码", "为 11 位，应为 12 位").value == "51142510220"
    assert find(warnings, "cun.csv", 3, "所属乡镇代码", "为 8 位，应为 9 位").value == "51142510"
    find(warnings, "cun.csv", 4, "村(社区)代码", "0-9 以外的字符")
    find(warnings, "cun.csv", 5, "村(社区)代码", "0-9 以外的字符")
    assert {p.row for p in warnings} == {2, 3, 4, 5}
    assert [p.row for p in warnings] == sorted(p.row for p in warnings)
    assert gdf["code"].tolist() == [r[0] for r in rows]
    assert gdf["township_code"].tolist() == [r[2] for r in rows]


def test_malformed_township_code_is_a_warning(files):
    rows = [["51142510", "汉阳镇", box(103.8, 29.8, 103.9, 29.9).wkt]]
    gdf, warnings = warned(files.csv("t.csv", rows, ["代码", "名称", "wkt"]), "townships")
    p = only(warnings)
    assert (p.file, p.row, p.field) == ("t.csv", 2, "乡镇代码")
    assert p.message == "乡镇代码为 8 位，应为 9 位" and p.value == "51142510"
    assert gdf["code"].tolist() == ["51142510"]


def test_village_code_not_under_its_township_is_a_warning(files):
    rows = village_rows()
    rows[1][0] = "511425108201"
    gdf, warnings = warned(files.csv("cun.csv", rows, VILLAGES), "villages")
    p = only(warnings)
    assert (p.file, p.row, p.field) == ("cun.csv", 3, "村(社区)代码")
    assert "与所属乡镇代码不同" in p.message and T in p.value and "511425108201" in p.value
    assert gdf["code"].iloc[1] == "511425108201" and gdf["township_code"].iloc[1] == T


def test_duplicate_codes_csv_are_warnings_on_every_row_bearing_them(files):
    rows = village_rows(4)
    rows[3][0] = rows[1][0]
    gdf, warnings = warned(files.csv("cun.csv", rows, VILLAGES), "villages")
    assert [(p.file, p.row, p.field, p.value) for p in warnings] == [
        ("cun.csv", 3, "村(社区)代码", rows[1][0]), ("cun.csv", 5, "村(社区)代码", rows[1][0])]
    assert all(p.message == "村(社区)代码重复" for p in warnings)
    assert len(gdf) == 4


def test_duplicate_codes_geojson(files, villages):
    villages.loc[4, "code"] = villages.loc[0, "code"]
    _, warnings = warned(files.geojson("v.geojson", villages), "villages")
    assert [(p.row, p.field, p.unit) for p in warnings] == [
        (1, "村(社区)代码", "要素"), (5, "村(社区)代码", "要素")]
    assert "第 5 个要素" in str(warnings[1]) and "重复" in warnings[1].message


def test_codes_read_as_numbers_from_geojson_are_accepted(files, villages):
    as_numbers = villages.assign(code=villages["code"].astype("int64"),
                                 township_code=villages["township_code"].astype("int64"))
    out = read_layer(files.geojson("v.geojson", as_numbers), "villages")
    assert list(out["code"]) == list(villages["code"])


# --- geometry --------------------------------------------------------------------------------

def test_polygon_given_for_points(files, homes):
    homes.loc[1, "geometry"] = box(103.8, 29.8, 103.81, 29.81)
    p = only(rejected(files.geojson("h.geojson", homes), "welfare_homes"))
    assert (p.file, p.row, p.field, p.unit) == ("h.geojson", 2, GEOMETRY_LABEL, "要素")
    assert "Polygon" in p.message and "应为点" in p.message


def test_point_given_for_villages(files, villages):
    geoms = list(villages.geometry)
    geoms[2] = Point(103.85, 29.81)
    path = files.geojson_raw("v.geojson", [
        ({k: v for k, v in r.items() if k != "geometry"}, g.__geo_interface__)
        for r, g in zip(villages.drop(columns="geometry").to_dict("records"), geoms,
                        strict=True)])
    p = only(rejected(path, "villages"))
    assert (p.file, p.row, p.field) == ("v.geojson", 3, GEOMETRY_LABEL)
    assert "应为面" in p.message


def test_points_from_a_table_for_villages(files):
    rows = [[f"{T}200", "第1村", T, 1000, 200, 103.8, 29.8]]
    p = only(rejected(files.csv("cun.csv", rows, VILLAGES[:-1] + ["经度", "纬度"]), "villages"))
    assert (p.file, p.row, p.field) == ("cun.csv", None, GEOMETRY_LABEL)
    assert "面图层" in p.message and "WKT" in p.message


def test_self_intersecting_village_is_repaired_with_a_warning(files, villages):
    villages.loc[1, "geometry"] = BOWTIE
    gdf, warnings = warned(files.geojson("v.geojson", villages), "villages")
    p = only(warnings)
    assert (p.file, p.row, p.field) == ("v.geojson", 2, GEOMETRY_LABEL)
    assert "几何无效" in p.message and "修复" in p.message and "自相交" in p.value
    fixed = gdf.geometry.iloc[1]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    # the bow tie's two triangles, 0.02 x 0.01 / 2 degrees² each
    assert abs(fixed.area - 2 * 0.02 * 0.01 / 2) < 1e-12


def test_self_intersecting_polygon_from_wkt(files):
    rows = village_rows()
    rows[2][5] = BOWTIE.wkt
    gdf, warnings = warned(files.csv("cun.csv", rows, VILLAGES), "villages")
    p = only(warnings)
    assert (p.file, p.row, p.field) == ("cun.csv", 4, GEOMETRY_LABEL)
    assert "自相交" in p.value and gdf.geometry.iloc[2].is_valid


def test_self_intersecting_polygon_of_another_kind_is_still_refused(files):
    rows = [["耕地", "甲", BOWTIE.wkt], ["林地", "乙", box(103.8, 29.8, 103.81, 29.81).wkt]]
    p = only(rejected(files.csv("z.csv", rows, ["类型", "名称", "wkt"]), "exclusion_zones"))
    assert (p.file, p.row, p.field) == ("z.csv", 2, GEOMETRY_LABEL)
    assert "几何无效" in p.message and "自相交" in p.message


def test_empty_and_unparsable_geometry_from_wkt(files):
    rows = village_rows(4)
    rows[0][5] = "POLYGON EMPTY"
    rows[1][5] = ""
    rows[2][5] = "POLYGON ((103.8 29.8, 103.9"
    problems = rejected(files.csv("cun.csv", rows, VILLAGES), "villages")
    find(problems, "cun.csv", 2, GEOMETRY_LABEL, "几何为空")
    find(problems, "cun.csv", 3, GEOMETRY_LABEL, "几何为空")
    find(problems, "cun.csv", 4, "WKT", "无法解析")
    assert {p.row for p in problems} == {2, 3, 4}


def test_null_geometry_in_geojson(files, homes):
    path = files.geojson_raw("h.geojson", [
        ({"名称": "甲"}, {"type": "Point", "coordinates": [103.8, 29.8]}),
        ({"名称": "乙"}, None),
    ])
    p = only(rejected(path, "welfare_homes"))
    assert (p.file, p.row, p.field) == ("h.geojson", 2, GEOMETRY_LABEL)
    assert "几何为空" in p.message


def test_coordinates_outside_china(files):
    rows = point_rows()
    rows[1][3], rows[1][4] = 10.5, 50.0  # Europe
    rows[2][3], rows[2][4] = 103.8, -29.8
    problems = rejected(files.csv("p.csv", rows, POINTS), "elderly_service_points")
    assert len(problems) == 2
    find(problems, "p.csv", 3, GEOMETRY_LABEL, "超出中国范围")
    find(problems, "p.csv", 4, GEOMETRY_LABEL, "超出中国范围")


def test_swapped_lon_lat(files):
    rows = point_rows()
    rows[3][3], rows[3][4] = rows[3][4], rows[3][3]
    p = only(rejected(files.csv("p.csv", rows, POINTS), "elderly_service_points"))
    assert (p.file, p.row, p.field) == ("p.csv", 5, GEOMETRY_LABEL)
    assert "颠倒" in p.message and "经度应在前" in p.message


def test_swapped_lon_lat_in_xlsx(files):
    rows = point_rows()
    rows[0][3], rows[0][4] = rows[0][4], rows[0][3]
    p = only(rejected(files.xlsx("p.xlsx", rows, POINTS), "elderly_service_points"))
    assert (p.file, p.row) == ("p.xlsx", 2) and "颠倒" in p.message


def test_bad_coordinate_values(files):
    rows = point_rows()
    rows[0][3] = "103.8E"
    rows[2][4] = ""
    problems = rejected(files.csv("p.csv", rows, POINTS), "elderly_service_points")
    assert len(problems) == 2
    find(problems, "p.csv", 2, "经度", "103.8E", "不是数字")
    find(problems, "p.csv", 4, "纬度", "坐标为空")


def test_missing_coordinate_columns(files):
    p = only(rejected(files.csv("p.csv", [["甲", "group_point"]], ["名称", "层级"]),
                      "elderly_service_points"))
    assert (p.file, p.row) == ("p.csv", None)
    assert "找不到坐标列" in p.message and "经度" in p.message


def test_every_problem_is_reported_at_once(files):
    rows = home_rows(6)
    rows[0][0] = ""
    rows[1][2] = "很多"
    rows[3][4], rows[3][5] = 29.8, 103.8
    rows[5][1] = "养老院"
    problems = rejected(files.csv("h.csv", rows, HOMES), "welfare_homes")
    assert [(p.row, p.field) for p in problems] == [
        (2, "名称"), (3, "床位数"), (5, GEOMETRY_LABEL), (7, "类型")]


# --- line numbers ----------------------------------------------------------------------------

def test_line_numbers_count_blank_rows_csv(files):
    rows = point_rows()
    rows[3][2] = "x"
    lines = files.csv("p.csv", rows, POINTS).read_text(encoding="utf-8").splitlines()
    # header, row, blank line, row, a row of commas, row, row: the bad row is line 7.
    text = "\n".join(lines[:2] + [""] + lines[2:3] + [",,,,"] + lines[3:]) + "\n"
    p = only(rejected(files.text("p2.csv", text), "elderly_service_points"))
    assert (p.row, p.field) == (7, "床位数")


def test_line_numbers_with_blank_lines_above_the_header_and_crlf(files):
    rows = point_rows()
    rows[1][2] = "x"
    lines = files.csv("p.csv", rows, POINTS).read_text(encoding="utf-8").splitlines()
    # two blank lines, header (line 3), row (4), blank (5), bad row (6), rows.
    text = "\r\n".join(["", " "] + lines[:2] + [""] + lines[2:]) + "\r\n"
    p = only(rejected(files.text("p2.csv", text, encoding="gbk"), "elderly_service_points"))
    assert (p.row, p.field) == (6, "床位数")


def test_line_numbers_count_blank_rows_xlsx(files):
    rows = point_rows()
    rows[3][2] = "x"
    rows = rows[:1] + [[None] * 5, [None] * 5] + rows[1:]
    p = only(rejected(files.xlsx("p.xlsx", rows, POINTS), "elderly_service_points"))
    assert (p.row, p.field) == (7, "床位数")


def test_duplicate_after_blank_row_names_the_right_line(files):
    rows = village_rows(3)
    rows[2][0] = rows[0][0]
    rows.insert(1, [None] * len(VILLAGES))
    gdf, warnings = warned(files.xlsx("cun.xlsx", rows, VILLAGES), "villages")
    assert [p.row for p in warnings] == [2, 5]
    assert list(gdf.attrs["rows"].rows) == [2, 4, 5]


# --- files -----------------------------------------------------------------------------------

def test_unreadable_encoding_csv(files):
    bad = b"\xff\xfe\xfa\x80"
    for enc in ("utf-8", "gb18030", "gbk"):
        with pytest.raises(UnicodeDecodeError):
            bad.decode(enc)
    path = files.raw("p.csv", "名称,层级,经度,纬度\n".encode() + bad + b",group_point,103.8,29.8\n")
    p = only(rejected(path, "elderly_service_points"))
    assert (p.file, p.row) == ("p.csv", None)
    assert "无法识别的文件编码" in p.message and "UTF-8" in p.message


def test_unreadable_encoding_shapefile_without_cpg(files, homes_zh):
    homes_zh = homes_zh.drop(columns=["在住人数", "失能照护"])
    homes_zh.loc[:, "名称"] = "QQQQQQ"
    path = files.shapefile_zip("h.zip", homes_zh, encoding="UTF-8", cpg=False)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["h.dbf"] = parts["h.dbf"].replace(b"QQQQQQ", b"\xff\xfe\xfa\xff\xfe\xfa", 1)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    p = only(rejected(path, "welfare_homes"))
    assert (p.file, p.row) == ("h.zip", None)
    assert "无法识别的文件编码" in p.message


@pytest.mark.parametrize("name", ["p.csv", "p.xlsx", "p.geojson", "p.json", "p.gpkg", "p.zip",
                                  "p.shp"])
def test_empty_file(files, name):
    p = only(rejected(files.raw(name, b""), "welfare_homes"))
    assert (p.file, p.row, p.field) == (name, None, None)
    assert p.message == "文件为空"


def test_blank_csv_is_empty(files):
    p = only(rejected(files.text("p.csv", "\n \n", encoding="utf-8"), "welfare_homes"))
    assert "文件为空" in p.message


def test_header_only_csv_has_no_records(files):
    p = only(rejected(files.text("p.csv", "名称,经度,纬度\n"), "welfare_homes"))
    assert "没有任何记录" in p.message


def test_missing_file(tmp_path):
    p = only(rejected(tmp_path / "nowhere.csv", "welfare_homes"))
    assert (p.file, p.message) == ("nowhere.csv", "文件不存在")


@pytest.mark.parametrize("name", ["p.txt", "p.kml", "p.xls", "p"])
def test_unsupported_extension(files, name):
    p = only(rejected(files.text(name, "名称,经度,纬度\n甲,103.8,29.8\n"), "welfare_homes"))
    assert p.file == name and "不支持的文件格式" in p.message and "GeoPackage" in p.message


def half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_geojson(files, homes):
    p = only(rejected(half(files.geojson("h.geojson", homes)), "welfare_homes"))
    assert (p.file, p.row) == ("h.geojson", None)
    assert "损坏或不完整" in p.message


def test_truncated_zip(files, homes_zh):
    p = only(rejected(half(files.shapefile_zip("h.zip", homes_zh, encoding="GBK")),
                      "welfare_homes"))
    assert (p.file, p.row) == ("h.zip", None)
    assert "ZIP 文件已损坏或不完整" == p.message


def test_truncated_xlsx(files):
    p = only(rejected(half(files.xlsx("p.xlsx", point_rows(), POINTS)),
                      "elderly_service_points"))
    assert (p.file, p.row) == ("p.xlsx", None)
    assert "XLSX 文件无法读取" in p.message and "不完整" in p.message


def test_truncated_geopackage(rng, files):
    big = gpd.GeoDataFrame({"name": [f"点{i}" for i in range(300)]},
                           geometry=[Point(x, y) for x, y in zip(rng.uniform(103.7, 104.0, 300),
                                                                 rng.uniform(29.7, 30.0, 300),
                                                                 strict=True)],
                           crs="EPSG:4490")
    p = only(rejected(half(files.gpkg("h.gpkg", {"welfare_homes": big})), "welfare_homes"))
    assert (p.file, p.row) == ("h.gpkg", None)
    assert "GeoPackage 无法读取" in p.message


def test_zip_without_a_shapefile(files):
    path = files.path("docs.zip")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("说明.txt", "没有图层")
    p = only(rejected(path, "welfare_homes"))
    assert "没有 .shp 文件" in p.message


def test_zip_missing_the_dbf(files, homes_zh):
    path = files.shapefile_zip("h.zip", homes_zh.drop(columns=["在住人数", "失能照护"]),
                               encoding="GBK")
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist() if not n.endswith(".dbf")}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    p = only(rejected(path, "welfare_homes"))
    assert "缺少 Shapefile 组成文件" in p.message and ".dbf" in p.message


def test_zip_with_two_shapefiles(files, homes_zh):
    homes_zh = homes_zh.drop(columns=["在住人数", "失能照护"])
    a = files.shapefile_zip("a.zip", homes_zh, encoding="GBK")
    b = files.shapefile_zip("b.zip", homes_zh.iloc[:2], encoding="UTF-8")
    path = files.path("both.zip")
    with zipfile.ZipFile(path, "w") as out:
        for src in (a, b):
            with zipfile.ZipFile(src) as zf:
                for n in zf.namelist():
                    out.writestr(n, zf.read(n))
    p = only(rejected(path, "welfare_homes"))
    assert "多个 .shp 文件" in p.message


def test_display_name_is_used_in_problems(files):
    rows = point_rows()
    rows[0][1] = "?"
    p = only(rejected(files.csv("tmp123.csv", rows, POINTS), "elderly_service_points",
                      filename="敬老院名单.csv"))
    assert p.file == "敬老院名单.csv"
    d = p.to_dict()
    assert d["row"] == 2 and d["field"] == "层级" and d["text"].startswith("敬老院名单.csv，第 2 行")
