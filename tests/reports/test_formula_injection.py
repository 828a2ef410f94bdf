"""No export turns text into a formula (CSV/formula injection, issue 11).

A copy of the demo county in which every text field an export can show (workspace title,
township, village and facility names, candidates, place labels, boundary markers,
exclusion zones, an uploaded label file and its name, a merge name and a siting scenario
from the request) starts with what a spreadsheet takes for a formula. Every workbook and
CSV is produced through the real code paths (services + reports, and the app's download
routes for those that take parameters from the URL) and read back: no formula cell, the
text exactly as stored, numbers still numbers.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
from fixtures import make_app  # create_app with an admin signed in (API token)
from openpyxl import Workbook, load_workbook

from geoservice.config import DEMO_WORKSPACE
from geoservice.reports.boundaries import (
    boundaries_xlsx,
    merge_xlsx,
)
from geoservice.reports.coverage import coverage_csv, coverage_xlsx
from geoservice.reports.placenames import placenames_xlsx
from geoservice.reports.siting import siting_csv, siting_xlsx
from geoservice.reports.xlsx import (
    FORMULA_PREFIXES,
    as_text,
    csv_comment,
    csv_field,
    formula_like,
    to_bytes,
)
from geoservice.services.boundaries import (
    boundary_params,
    merge_params,
    run_boundaries,
    run_merge,
)
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.placenames import run_placenames
from geoservice.services.siting import accept_sites, run_siting, siting_params
from layers import open_store

PAYLOADS = ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
            "=cmd|' /C calc'!A0")
TITLE = PAYLOADS[0]
MERGE_NAME = '=HYPERLINK("http://x","y")村'
SCENARIO = "=cmd|' -C calc'!A0"  # (plan names cannot hold a slash: it is in their URL)
UPLOAD_NAME = "=cmd|' A0.csv"

# Text fields of each layer an export may show.
TEXT_FIELDS = {
    "townships": ["name"], "villages": ["name", "committee_name"],
    "welfare_homes": ["name"], "elderly_service_points": ["name"], "cemeteries": ["name"],
    "candidates": ["name", "note"], "place_labels": ["name"],
    "boundary_markers": ["number"], "exclusion_zones": ["name"],
}


def hostile(i: int, tag: str = "") -> str:
    """The payloads themselves first, then the payloads with a tag and a number."""
    return PAYLOADS[i] if i < len(PAYLOADS) and not tag else \
        f"{PAYLOADS[i % len(PAYLOADS)]}{tag}{i}"


def xml_text(s):
    """What XML keeps of a string: a carriage return is read back as a line feed."""
    return s.replace("\r\n", "\n").replace("\r", "\n") if isinstance(s, str) else s


def build_hostile_workspace(path) -> dict[str, list[str]]:
    """Copy the demo county to ``path`` with formula-like text in every text field; returns
    the new texts by layer."""
    shutil.copyfile(DEMO_WORKSPACE, path)
    store = open_store(path)
    store.set_info(title=TITLE)
    texts: dict[str, list[str]] = {}
    items = []
    for kind, fields in TEXT_FIELDS.items():
        gdf = store.read(kind).copy()
        for f in fields:
            tag = "" if f == "name" and kind == "villages" else f"·{kind}.{f}·"
            gdf[f] = [hostile(i, tag) for i in range(len(gdf))]
            texts.setdefault(kind, []).extend(gdf[f])
        items.append((kind, gdf))
    store.write_many(items, source="=HYPERLINK(\"http://x\",\"来源\")", source_crs="EPSG:4490")
    return texts


def _adjacent(units: gpd.GeoDataFrame, same: str | None = None) -> list[str]:
    for i, a in units.iterrows():
        for j, b in units.iterrows():
            if j <= i or (same and a[same] != b[same]):
                continue
            if a.geometry.intersection(b.geometry).length > 0:
                return [a["code"], b["code"]]
    raise AssertionError("no adjacent units")


def produce_exports(path) -> dict[str, bytes]:
    """Every workbook and CSV the service writes, from the workspace at ``path``: through
    the services and reports, and through the app's download routes."""
    store = open_store(path)
    client = make_app({"WORKSPACE": str(path)}).test_client()
    out: dict[str, bytes] = {}

    def get(url, **kw):
        r = client.open(url, **kw)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:500])
        return r.data

    cov = run_coverage(store, coverage_params(layer="welfare_homes", radius="3000"))
    out["coverage.xlsx"] = coverage_xlsx(cov)
    out["coverage.csv"] = coverage_csv(cov)
    out["web/coverage.xlsx"] = get("/coverage/report.xlsx?layer=elderly_service_points")
    out["web/coverage.csv"] = get("/coverage/report.csv?layer=cemeteries&radius=5000")

    run = run_siting(store, siting_params(layer="elderly_service_points", radius="2000",
                                          add="3", candidates="candidates"))
    out["siting.xlsx"] = siting_xlsx(run)
    out["siting.csv"] = siting_csv(run)
    # a scenario name and a note from the request, then the planned sites as candidates
    accept_sites(store, run, [1, 2], scenario=SCENARIO, note="@SUM(A1)")
    q = "layer=cemeteries&problem=cemetery&add=2&candidates=candidates&radius=5000"
    out["web/siting_cemetery.xlsx"] = get(f"/siting/report.xlsx?{q}")
    out["web/siting_cemetery.csv"] = get(f"/siting/report.csv?{q}")
    q = "layer=welfare_homes&problem=pmedian&add=2&candidates=planned_sites"
    out["web/siting_planned.xlsx"] = get(f"/siting/report.xlsx?{q}")
    out["web/siting_villages.csv"] = get("/siting/report.csv?layer=welfare_homes&add=2")

    out["boundaries.xlsx"] = boundaries_xlsx(run_boundaries(store, boundary_params()))
    out["web/boundaries_townships.xlsx"] = get("/boundaries/report.xlsx?layer=townships")
    out["web/boundary_lines.xlsx"] = get("/api/boundaries/lines?format=xlsx")
    with zipfile.ZipFile(io.BytesIO(get("/api/boundaries/lines?format=shp"))) as zf:
        out["web/boundary_lines.zip/fields_zh.csv"] = zf.read("fields_zh.csv")

    townships = store.read("townships")
    out["merge_townships.xlsx"] = merge_xlsx(run_merge(store, merge_params(
        _adjacent(townships), "@SUM(A1)镇", None, "townships")))
    codes = ",".join(_adjacent(store.read("villages"), same="township_code"))
    out["web/merge_villages.xlsx"] = get("/boundaries/merge/report.xlsx", query_string={
        "codes": codes, "name": MERGE_NAME, "layer": "villages"})

    out["placenames.xlsx"] = placenames_xlsx(run_placenames(store))
    out["web/placenames.xlsx"] = get("/placenames/report.xlsx")
    labels = store.read("place_labels")
    upload = pd.DataFrame({"name": [hostile(i, "·上传·") for i in range(len(labels))],
                           "lon": labels.geometry.x, "lat": labels.geometry.y})
    villages = store.read("villages")
    aliases = pd.DataFrame({"code": villages["code"],
                            "former_name": [hostile(i, "·曾用名·") for i in range(len(villages))]})
    out["web/placenames_upload.xlsx"] = get("/placenames/report.xlsx", method="POST", data={
        "file": (io.BytesIO(upload.to_csv(index=False).encode()), UPLOAD_NAME),
        "aliases": (io.BytesIO(aliases.to_csv(index=False).encode()), "-2+3.csv"),
    }, content_type="multipart/form-data")
    return out


def formula_cells(data: bytes) -> list[tuple[str, str, object]]:
    wb = load_workbook(io.BytesIO(data))
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets
            for row in ws.iter_rows() for c in row if c.data_type == "f"]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def unquote(field: str) -> str:
    """The text a field stands for under the rule: a quote before formula-like text."""
    return field[1:] if field.startswith("'") and formula_like(field[1:]) else field


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "hostile.gpkg"
    texts = build_hostile_workspace(path)
    return path, texts


@pytest.fixture(scope="module")
def exports(workspace):
    return produce_exports(workspace[0])


WORKBOOKS = ["coverage.xlsx", "web/coverage.xlsx", "siting.xlsx", "web/siting_cemetery.xlsx",
             "web/siting_planned.xlsx", "boundaries.xlsx", "web/boundaries_townships.xlsx",
             "web/boundary_lines.xlsx", "merge_townships.xlsx", "web/merge_villages.xlsx",
             "placenames.xlsx", "web/placenames.xlsx", "web/placenames_upload.xlsx"]
CSVS = ["coverage.csv", "web/coverage.csv", "siting.csv", "web/siting_cemetery.csv",
        "web/siting_villages.csv", "web/boundary_lines.zip/fields_zh.csv"]


def test_every_export_is_covered(exports):
    assert sorted(exports) == sorted(WORKBOOKS + CSVS)


@pytest.mark.parametrize("name", WORKBOOKS)
def test_no_workbook_cell_is_a_formula(exports, workspace, name):
    data = exports[name]
    assert formula_cells(data) == []
    wb = load_workbook(io.BytesIO(data))
    hostile_texts = {xml_text(t) for ts in workspace[1].values() for t in ts}
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "e", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert c.data_type == "s"
                    # text as written: no quote added in a workbook
                    assert not (c.value.startswith("'") and formula_like(c.value[1:]))
                    if formula_like(c.value):
                        assert c.quotePrefix, (ws.title, c.coordinate, c.value)
                    seen += c.value in hostile_texts
    assert seen or name == "merge_townships.xlsx" and formula_like(
        wb["合并后"]["B2"].value)


def _column(data: bytes, sheet: str, header: str) -> list:
    ws = load_workbook(io.BytesIO(data))[sheet]
    rows = list(ws.iter_rows(values_only=True))
    k = rows[0].index(header)
    return [r[k] for r in rows[1:]]


def _summary(data: bytes, sheet: str = "汇总") -> dict:
    ws = load_workbook(io.BytesIO(data))[sheet]
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0]}


def test_text_reads_back_as_stored(exports, workspace):
    texts = workspace[1]
    villages = [xml_text(t) for t in texts["villages"][:58]]
    for name in ("coverage.xlsx", "web/coverage.xlsx"):
        data = exports[name]
        assert _summary(data)["工作空间"] == TITLE
        assert sorted(_column(data, "村(社区)", "名称")) == sorted(villages)
        assert set(_column(data, "乡镇", "乡镇名称")) <= {xml_text(t) for t in texts["townships"]}
    sites = _column(exports["siting.xlsx"], "选址建议", "名称")
    assert sites and set(sites) <= {xml_text(t) for t in texts["candidates"]}
    planned = _column(exports["web/siting_planned.xlsx"], "选址建议", "名称")
    assert planned and set(planned) <= set(sites)
    excluded = _column(exports["web/siting_cemetery.xlsx"], "排除的候选点", "名称")
    assert excluded and set(excluded) <= {xml_text(t) for t in texts["candidates"]}
    merge = exports["web/merge_villages.xlsx"]
    assert _summary(merge, "合并汇总")["新名称"] == MERGE_NAME
    assert _column(merge, "合并后", "名称") == [MERGE_NAME]
    assert set(_column(merge, "合并前", "名称")) <= set(villages)
    upload = exports["web/placenames_upload.xlsx"]
    assert _summary(upload)["标注来源"] == f"上传文件 {UPLOAD_NAME}"
    # the label reader strips each name (a leading tab or line break is not kept)
    labels = {hostile(i, "·上传·").strip() for i in range(200)}
    shown = {v for v in _column(upload, "更正清单", "标注名称") if v}
    assert shown and shown <= labels
    stored = {v for v in _column(exports["placenames.xlsx"], "更正清单", "标注名称") if v}
    assert stored and stored <= {xml_text(t) for t in texts["place_labels"]}


def test_numbers_and_formats_stay(exports):
    wb = load_workbook(io.BytesIO(exports["coverage.xlsx"]))
    ws = wb["村(社区)"]
    header = [c.value for c in ws[1]]
    pop = header.index("户籍人口") + 1
    assert all(ws.cell(r, pop).data_type == "n" and isinstance(ws.cell(r, pop).value, int)
               for r in range(2, ws.max_row + 1))
    ws = wb["乡镇"]
    header = [c.value for c in ws[1]]
    rate = ws.cell(2, header.index("村覆盖率") + 1)
    assert rate.data_type == "n" and rate.number_format == "0.0%"
    summary = wb["汇总"]
    row = next(r for r in summary.iter_rows() if r[0].value == "村覆盖率")
    assert row[1].data_type == "n" and row[1].number_format == "0.0%"
    ws = load_workbook(io.BytesIO(exports["siting.xlsx"]))["汇总"]
    row = next(r for r in ws.iter_rows() if r[0].value == "老年人口覆盖率")
    assert row[1].data_type == "n" and row[1].number_format == "0.0%"


@pytest.mark.parametrize("name", CSVS)
def test_no_csv_field_starts_a_formula(exports, name):
    rows = csv_rows(exports[name])
    assert rows
    for row in rows:
        for field in row:
            if field.startswith(FORMULA_PREFIXES):
                assert is_number(field), (name, field)


def test_csv_text_reads_back_and_numbers_stay(exports, workspace):
    texts = workspace[1]
    data = exports["coverage.csv"]
    # a comment line is one field, starting with "#"
    comments = [r for r in csv_rows(data) if r and r[0].startswith("#")]
    assert comments and all(len(r) == 1 for r in comments)
    assert ['# 工作空间: =HYPERLINK("http://x"，"y")'] in comments
    frame = pd.read_csv(io.BytesIO(data), comment="#", dtype={"村(社区)代码": str})
    assert sorted(frame["名称"].map(unquote)) == sorted(texts["villages"][:58])
    assert frame["户籍人口"].dtype.kind == "i"
    assert frame["到最近设施距离(米)"].dtype.kind == "f"
    sites = pd.read_csv(io.BytesIO(exports["siting.csv"]), comment="#")
    assert sites["序号"].tolist() == [1, 2, 3]
    assert set(sites["名称"].map(unquote)) <= set(texts["candidates"])


def test_the_rule():
    assert [csv_field(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert csv_field(-2.5) == -2.5 and csv_field(-3) == -3
    assert csv_field("青神县") == "青神县" and csv_field(None) is None
    assert not formula_like("青竹街道") and not formula_like(-1) and formula_like("-1")
    assert csv_comment("工作空间", "a,=1+1\r\n+2") == "# 工作空间: a，=1+1 +2\r\n"
    assert csv_comment("服务半径(米)", 1500.0) == "# 服务半径(米): 1500.0\r\n"
    wb = Workbook()
    ws = wb.active
    ws.append(["=1+1", "#N/A", -2, "ok"])
    for c in ws[1]:
        as_text(c)
    ws["A2"] = "@SUM(A1)"  # written around the helpers: to_bytes still makes it text
    back = load_workbook(io.BytesIO(to_bytes(wb))).active
    assert [(c.value, c.data_type) for c in back[1]] == [
        ("=1+1", "s"), ("#N/A", "s"), (-2, "n"), ("ok", "s")]
    assert back["A1"].quotePrefix and not back["D1"].quotePrefix
    assert (back["A2"].value, back["A2"].data_type) == ("@SUM(A1)", "s")
