"""Hostile and heavy input (issue 11): zip bombs, unsafe member names, the feature limit,
long problem lists, a .cpg naming the wrong encoding, non-numeric coordinates, formula
cells, and messages that never show a temporary path or GDAL's English."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
from shapely.geometry import Point

import layers.readers as readers
from layers import ValidationError, import_file, open_store, read_layer
from layers.errors import Problem, problems_csv
from layers.labels import TableRejected, read_aliases, read_label_file
from layers.readers import ImportLimits

GIB = 1 << 30


def rejected(path, kind="welfare_homes", **kw) -> list[Problem]:
    with pytest.raises(ValidationError) as exc:
        read_layer(path, kind, **kw)
    return exc.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def write_zeros(zf: zipfile.ZipFile, member: str, size: int) -> None:
    """A member of ``size`` zero bytes, compressed in chunks (never whole in memory)."""
    with zf.open(member, "w", force_zip64=True) as fh:
        chunk = bytes(1 << 24)
        for _ in range(size // len(chunk)):
            fh.write(chunk)
        fh.write(bytes(size % len(chunk)))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A zipped Shapefile whose .dbf is 1 GiB of zeros: about 1 MB on disk."""
    folder = tmp_path_factory.mktemp("bomb")
    gdf = gpd.GeoDataFrame({"名称": ["站"]}, geometry=[Point(103.8, 29.8)], crs=4490)
    pyogrio.write_dataframe(gdf, folder / "small.shp", encoding="UTF-8")
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(folder / "small.shp", "layer.shp")
        zf.write(folder / "small.shx", "layer.shx")
        write_zeros(zf, "layer.dbf", GIB)
    assert path.stat().st_size < 2 * 1024 * 1024
    return path


@pytest.fixture
def no_extraction(monkeypatch):
    """Records every member the reader extracts (there must be none for a refused zip)."""
    extracted: list[str] = []
    real = readers._copy_member

    def spy(zf, member, target, budget):
        extracted.append(member)
        return real(zf, member, target, budget)

    monkeypatch.setattr(readers, "_copy_member", spy)
    return extracted


# --- zip archives ----------------------------------------------------------------------

def test_a_zip_bomb_is_refused_before_anything_is_inflated(bomb, no_extraction):
    """Refused from the archive's directory alone: no member is extracted (how long that
    takes is measured in bench/, not asserted here)."""
    p = only(rejected(bomb, filename="乡镇敬老院.zip"))
    assert p.file == "乡镇敬老院.zip" and p.row is None
    assert "压缩炸弹" in p.message and "ZIP_MAX_UNCOMPRESSED_MB" in p.message
    assert "1.0 GB" in p.message
    assert no_extraction == []


def test_the_ratio_limit_catches_a_bomb_under_the_size_limit(bomb, no_extraction):
    p = only(rejected(bomb, limits=ImportLimits(zip_max_uncompressed_mb=4000)))
    assert "压缩比过高" in p.message and "ZIP_MAX_RATIO" in p.message
    assert "layer.dbf" in p.message and no_extraction == []


def test_limits_can_be_raised_for_a_zip_that_compresses_well(files, homes_zh, no_extraction):
    # 2 MB of zeros beside a real Shapefile (a ratio of about 1000)
    path = files.shapefile_zip("h.zip", homes_zh, encoding="GBK")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        write_zeros(zf, "readme.txt", 2 * 1024 * 1024)
    p = only(rejected(path, limits=ImportLimits(zip_max_ratio=100)))
    assert "readme.txt" in p.message and "压缩比过高" in p.message
    out = read_layer(path, "welfare_homes", limits=ImportLimits(zip_max_ratio=2000))
    assert len(out) == len(homes_zh)


def test_member_count_limit(files, homes_zh):
    path = files.shapefile_zip("h.zip", homes_zh, encoding="GBK")
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(20):
            zf.writestr(f"notes/{i}.txt", "x")
    p = only(rejected(path, limits=ImportLimits(zip_max_members=10)))
    assert "超过上限 10 个" in p.message and "ZIP_MAX_MEMBERS" in p.message
    assert len(read_layer(path, "welfare_homes")) == len(homes_zh)


@pytest.mark.parametrize("member", ["../layer.txt", "a/../../layer.txt", "/etc/layer.txt",
                                    "C:\\Windows\\layer.txt", "..\\..\\layer.txt"])
def test_members_outside_the_archive_are_refused(files, homes_zh, member, no_extraction):
    path = files.shapefile_zip("h.zip", homes_zh, encoding="GBK")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo(member), "x")
    p = only(rejected(path, filename="上传.zip"))
    assert p.file == "上传.zip" and member in p.message and "拒绝解压" in p.message
    assert "绝对路径" in p.message or "“..”" in p.message
    assert no_extraction == []


def test_a_member_inflating_past_its_declared_size_is_not_written_past_it(files, homes_zh):
    """The directory may lie: extraction never writes more than a member declares."""
    path = files.shapefile_zip("h.zip", homes_zh, encoding="GBK")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        write_zeros(zf, "h.prj.bak", 4 * 1024 * 1024)
    raw = bytearray(path.read_bytes())
    # the central directory entry of the last member: its uncompressed size says 1000
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("h.prj.bak").file_size == 1000
    p = only(rejected(path))
    assert "损坏" in p.message


def test_an_xlsx_is_checked_as_the_zip_it_is(files):
    path = files.xlsx("p.xlsx", [["站", 103.8, 29.8]], ["名称", "经度", "纬度"])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        write_zeros(zf, "xl/media/padding.bin", 4 * 1024 * 1024)
    p = only(rejected(path, "welfare_homes", filename="站点.xlsx",
                      limits=ImportLimits(zip_max_uncompressed_mb=2)))
    assert p.file == "站点.xlsx" and "XLSX" in p.message and "压缩炸弹" in p.message
    p = only(rejected(path, "welfare_homes"))
    assert "压缩比过高" in p.message and "padding.bin" in p.message


def test_label_and_alias_workbooks_are_checked_too(files):
    labels = files.xlsx("l.xlsx", [["柳溪村", 103.8, 29.8]], ["名称", "经度", "纬度"])
    aliases = files.xlsx("a.xlsx", [["511425102200", "旧村"]], ["代码", "曾用名"])
    for path in (labels, aliases):
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
            write_zeros(zf, "xl/media/padding.bin", 4 * 1024 * 1024)
    with pytest.raises(ValidationError) as exc:
        read_label_file(labels, "gcj02", "标注.xlsx")
    assert "压缩炸弹" in str(exc.value) and "标注.xlsx" in str(exc.value)
    with pytest.raises(TableRejected) as exc:
        read_aliases(aliases, "曾用名.xlsx")
    assert "压缩炸弹" in str(exc.value) and "曾用名.xlsx" in str(exc.value)


# --- the feature limit -------------------------------------------------------------------

SMALL = ImportLimits(max_features=10)


def test_feature_limit_for_tables(files):
    rows = [[f"站{i}", 103.8, 29.8] for i in range(11)]
    for path in (files.csv("p.csv", rows, ["名称", "经度", "纬度"]),
                 files.xlsx("p.xlsx", rows, ["名称", "经度", "纬度"])):
        p = only(rejected(path, "welfare_homes", limits=SMALL))
        assert "11 行" in p.message and "上限 10 行" in p.message
        assert "IMPORT_MAX_FEATURES" in p.message
        assert len(read_layer(path, "welfare_homes",
                              limits=ImportLimits(max_features=11))) == 11


def test_feature_limit_is_checked_before_the_features_are_read(files, homes, homes_zh,
                                                               monkeypatch):
    geo = [files.geojson("h.geojson", homes), files.gpkg("h.gpkg", {"welfare_homes": homes}),
           files.shapefile_zip("h.zip", homes_zh, encoding="GBK")]

    def fail(*a, **k):
        raise AssertionError("the features were read")

    monkeypatch.setattr(pyogrio, "read_dataframe", fail)
    for path in geo:
        p = only(rejected(path, limits=ImportLimits(max_features=4)))
        assert "5 个要素" in p.message and "上限 4 个要素" in p.message


def test_csv_row_limit_counts_records_not_lines(files):
    # quoted line breaks: 12 lines, 3 records
    text = "名称,经度,纬度\n" + "".join(f'"站\n{i}\n三",103.8,29.8\n' for i in range(3))
    path = files.text("p.csv", text)
    out = read_layer(path, "welfare_homes", limits=ImportLimits(max_features=3))
    assert len(out) == 3


# --- long problem lists ----------------------------------------------------------------

def test_problem_counts_and_the_full_list_as_excel_safe_csv(files):
    rows = [[f"=HYPERLINK(\"http://x\",\"站{i}\")" if i == 0 else f"站{i}", "abc", 29.8]
            for i in range(300)] + [["-站", 103.8, 99]]
    path = files.csv("p.csv", rows, ["名称", "经度", "纬度"])
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "welfare_homes")
    err = exc.value
    assert len(err.problems) == 301
    summary = err.summary(20)
    assert summary["problem_count"] == 301 and summary["problems_truncated"]
    assert len(summary["problems"]) == 20 and summary["problems_shown"] == 20
    assert summary["problem_counts"][0] == {"kind": "经度：坐标“…”不是数字", "count": 300}
    assert sum(c["count"] for c in summary["problem_counts"]) == 301
    rows_out = list(csv.reader(io.StringIO(problems_csv(err.problems).decode("utf-8-sig"))))
    assert rows_out[0] == ["文件", "位置", "字段", "问题", "值", "问题类别"]
    assert len(rows_out) == 302
    assert rows_out[1][:3] == ["p.csv", "第 2 行", "经度"]
    # identical problems are one group with its first rows (lines 2..301), then 等
    groups = summary["problem_groups"]
    assert [g["count"] for g in groups] == [300, 1]
    assert groups[0]["rows"] == list(range(2, 12)) and groups[0]["rows_more"] == 290
    assert groups[0]["text"] == ("p.csv，300 行，字段“经度”：坐标“abc”不是数字"
                                 "（第 2、3、4、5、6、7、8、9、10、11 行等）")
    assert groups[1]["rows"] == [302] and groups[1]["text"].startswith("p.csv，第 302 行")
    # no field starts a formula in a spreadsheet
    assert not any(f.startswith(("=", "+", "-", "@")) for r in rows_out for f in r)
    bad = ValidationError([Problem("=cmd.csv", 2, "@x", "-1+1", "行", "=1+1")])
    row = list(csv.reader(io.StringIO(problems_csv(bad.problems).decode("utf-8-sig"))))[1]
    assert row[0] == "'=cmd.csv" and row[2] == "'@x" and row[3] == "'-1+1" and row[4] == "'=1+1"


# --- encodings, coordinates, formulas ----------------------------------------------------

@pytest.mark.parametrize(("encoding", "cpg", "actual"), [
    ("GBK", "UTF-8", "GBK"), ("UTF-8", "GBK", "UTF-8"), ("UTF-8", "936", "UTF-8")])
def test_a_cpg_naming_the_wrong_encoding_is_refused(files, homes_zh, encoding, cpg, actual):
    path = files.shapefile_zip("h.zip", homes_zh, encoding=encoding, cpg=cpg)
    p = only(rejected(path, filename="福利院.zip"))
    assert p.file == "福利院.zip"
    assert ".cpg" in p.message and f"“{cpg}”" in p.message and f"实际是 {actual} 编码" in p.message


def test_a_cpg_that_matches_or_text_that_is_ascii_reads(files, homes, homes_zh):
    ascii_homes = homes.drop(columns=["name", "accepts_disabled"]).assign(
        name=[f"home{i}" for i in range(5)])
    out = read_layer(files.shapefile_zip("a.zip", ascii_homes, encoding="UTF-8", cpg="GBK"),
                     "welfare_homes")
    assert list(out["name"]) == list(ascii_homes["name"])
    out = read_layer(files.shapefile_zip("g.zip", homes_zh, encoding="GBK", cpg="CP936"),
                     "welfare_homes")
    assert list(out["name"]) == list(homes["name"])


def test_non_numeric_coordinates_are_reported_as_such(files):
    path = files.csv("p.csv", [["甲站", "东经103度", "北纬29度"], ["乙站", "abc", ""]],
                     ["名称", "经度", "纬度"])
    problems = rejected(path, "welfare_homes")
    assert [(p.row, p.field, p.message) for p in problems] == [
        (2, "经度", "坐标“东经103度”不是数字"), (2, "纬度", "坐标“北纬29度”不是数字"),
        (3, "经度", "坐标“abc”不是数字"), (3, "纬度", "坐标为空")]
    assert not any("坐标系" in p.message for p in problems)


def test_infinite_coordinates_are_not_numbers(files):
    path = files.csv("p.csv", [["甲站", "inf", "29.8"], ["乙站", "103.8", "29.8"]],
                     ["名称", "经度", "纬度"])
    p = only(rejected(path, "welfare_homes"))
    assert (p.row, p.field, p.message) == (2, "经度", "坐标“inf”不是数字")


def test_formula_cells_are_reported_as_formulas(files):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "床位数", "经度", "纬度"])
    ws.append(["县福利院", "=20*6", 103.8, 29.8])
    ws.append(['=HYPERLINK("http://x","镇敬老院")', 40, 103.81, 29.81])
    path = files.path("h.xlsx")
    wb.save(path)
    problems = rejected(path, filename="福利院.xlsx")
    assert [(p.file, p.row, p.field) for p in problems] == [
        ("福利院.xlsx", 2, "床位数"), ("福利院.xlsx", 3, "名称")]
    assert "公式“=20*6”" in problems[0].message and "B2" in problems[0].message
    assert "选择性粘贴" in problems[1].message


# --- messages --------------------------------------------------------------------------

def half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


ENGLISH = re.compile(r"[A-Za-z]{3,}[ ,;:.]+[a-z]{3,}")


@pytest.mark.parametrize("case", ["shp-garbage", "geojson-broken", "gpkg-broken",
                                  "xlsx-broken", "zip-half", "shp-no-dbf-records",
                                  "csv-ragged"])
def test_no_message_shows_a_temporary_path_or_gdal_english(files, homes, homes_zh, case):
    if case == "shp-garbage":
        path = files.path("x.zip")
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a.shp", b"garbage" * 20)
            zf.writestr("a.shx", b"x" * 200)
            zf.writestr("a.dbf", b"y" * 100)
    elif case == "geojson-broken":
        path = half(files.geojson("x.geojson", homes))
    elif case == "gpkg-broken":
        path = files.raw("x.gpkg", b"SQLite format 3\0" + b"x" * 4000)
    elif case == "xlsx-broken":
        path = half(files.xlsx("x.xlsx", [["a", 1, 2]], ["名称", "经度", "纬度"]))
    elif case == "zip-half":
        path = half(files.shapefile_zip("x.zip", homes_zh, encoding="GBK"))
    elif case == "shp-no-dbf-records":
        path = files.shapefile_zip("x.zip", homes_zh, encoding="GBK")
        with zipfile.ZipFile(path) as zf:
            parts = {n: zf.read(n) for n in zf.namelist()}
        with zipfile.ZipFile(path, "w") as zf:
            for n, data in parts.items():
                zf.writestr(n, data[:40] if n.endswith(".shp") else data)
    else:
        path = files.text("x.csv", "名称,经度,纬度\n站,103.8,29.8,多余,多余\n")
    with pytest.raises(ValidationError) as exc:
        read_layer(path, "welfare_homes", filename="我的文件" + path.suffix)
    text = str(exc.value)
    assert "我的文件" in text
    assert tempfile.gettempdir() not in text and "/" not in text and "\\" not in text
    assert not ENGLISH.search(text), text
    for word in ("GDAL", "sqlite", "Error", "failed", "recognized", "codec"):
        assert word not in text


# --- nothing stored ----------------------------------------------------------------------

def test_refused_files_change_nothing_stored(tmp_path, files, bomb, homes_zh):
    store = open_store(tmp_path / "w.gpkg")
    good = files.csv("ok.csv", [["站", 103.8, 29.8]], ["名称", "经度", "纬度"])
    import_file(store, "welfare_homes", good)
    before = {k: [v.to_dict() for v in store.versions(k)] for k in ("welfare_homes",)}
    bad = [bomb, files.shapefile_zip("c.zip", homes_zh, encoding="GBK", cpg="UTF-8"),
           files.csv("n.csv", [["站", "x", "y"]], ["名称", "经度", "纬度"])]
    for path in bad:
        with pytest.raises(ValidationError):
            import_file(store, "welfare_homes", path, limits=ImportLimits())
    assert {k: [v.to_dict() for v in store.versions(k)] for k in ("welfare_homes",)} == before
