"""Reports (geoservice/reports/*.py) are views of one result: what a workbook or CSV says is
checked against the result it was made from, on the demo county, without the web tier."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from geoservice.reports.boundaries import (
    boundaries_xlsx,
    lines_geojson,
    lines_gpkg,
    lines_shapefile_zip,
)
from geoservice.reports.coverage import coverage_csv, coverage_xlsx
from geoservice.reports.placenames import correction_frame, placenames_xlsx
from geoservice.reports.siting import siting_csv, siting_xlsx
from geoservice.services.boundaries import boundary_params, run_boundaries
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.params import DEFAULT, GIVEN
from geoservice.services.placenames import run_placenames
from geoservice.services.siting import run_siting, siting_params
from layers import open_store
from layers.demo import DEMO_WORKSPACE


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "demo.gpkg"
    path.write_bytes(DEMO_WORKSPACE.read_bytes())
    return open_store(path)


def sheet(data: bytes, name: str) -> pd.DataFrame:
    return pd.read_excel(io.BytesIO(data), sheet_name=name, dtype=str)


def summary(data: bytes, name: str = "汇总") -> dict:
    ws = load_workbook(io.BytesIO(data))[name]
    return {row[0]: row[1] for row in ws.iter_rows(min_row=1, values_only=True) if row[0]}


@pytest.mark.parametrize("radius, origin", [("1500", GIVEN), ("", DEFAULT)])
def test_coverage_workbook_and_csv_say_what_the_result_says(store, radius, origin):
    result = run_coverage(store, coverage_params(radius=radius))
    data = coverage_xlsx(result)
    assert load_workbook(io.BytesIO(data)).sheetnames == [
        "汇总", "乡镇", "村(社区)", "未覆盖村(按老年人口)"]
    head = summary(data)
    assert head["村覆盖率"] == pytest.approx(result.summary["village_coverage"])
    assert str(head["半径来源"]).startswith(origin)
    villages = sheet(data, "村(社区)")
    assert len(villages) == len(result.villages)
    covered = dict(zip(result.villages["code"], result.villages["covered"], strict=True))
    assert {c: v == "是" for c, v in zip(villages["村(社区)代码"], villages["是否覆盖"],
                                        strict=True)} == covered
    assert len(sheet(data, "未覆盖村(按老年人口)")) == int((~result.villages["covered"]).sum())
    csv = pd.read_csv(io.BytesIO(coverage_csv(result)), comment="#", dtype=str)
    assert csv["村(社区)代码"].tolist() == villages["村(社区)代码"].tolist()


def test_siting_workbook_lists_the_sites_of_the_result(store):
    run = run_siting(store, siting_params(layer="elderly_service_points", radius="2000",
                                          add="3"))
    data = siting_xlsx(run)
    assert load_workbook(io.BytesIO(data)).sheetnames == ["汇总", "选址建议", "排除的候选点", "村"]
    sites = sheet(data, "选址建议")
    assert sites["序号"].astype(int).tolist() == run.result.sites["rank"].tolist()
    assert sites["名称"].tolist() == run.result.sites["name"].tolist()
    assert len(sheet(data, "村")) == len(run.result.villages)
    csv = pd.read_csv(io.BytesIO(siting_csv(run)), comment="#")
    assert csv["序号"].tolist() == [1, 2, 3]


def test_boundary_exports_carry_every_line_and_finding(store, tmp_path):
    result = run_boundaries(store, boundary_params())
    data = boundaries_xlsx(result)
    assert len(sheet(data, "问题清单")) == len(result.findings)
    assert len(sheet(data, "界线登记表")) == len(result.boundary_lines)
    geojson = pd.read_json(io.BytesIO(lines_geojson(result)))
    assert len(geojson["features"]) == len(result.boundary_lines)
    gpkg = tmp_path / "lines.gpkg"
    gpkg.write_bytes(lines_gpkg(result))
    lines = pyogrio.read_dataframe(gpkg, layer="boundary_lines")
    assert len(lines) == len(result.boundary_lines)
    # lengths as the review measured them, whatever the file format
    assert lines["length_m"].round(1).tolist() == \
        result.boundary_lines["length_m"].round(1).tolist()
    with zipfile.ZipFile(io.BytesIO(lines_shapefile_zip(result))) as zf:
        names = set(zf.namelist())
        assert {"boundary_lines.shp", "boundary_lines.dbf", "boundary_lines.cpg",
                "fields_zh.csv"} <= names
        assert zf.read("boundary_lines.cpg").decode().strip().upper() in ("UTF-8", "UTF8")


def test_placename_workbook_lists_every_correction(store):
    result = run_placenames(store)
    data = placenames_xlsx(result)
    assert load_workbook(io.BytesIO(data)).sheetnames == [
        "更正清单", "名册问题", "罗马字母拼写", "汇总"]
    assert len(sheet(data, "更正清单")) == len(correction_frame(result)) > 0
    spelled = sheet(data, "罗马字母拼写")
    assert len(spelled) == len(result.romanization)
