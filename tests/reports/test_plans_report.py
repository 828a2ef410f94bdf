"""Plan reports: the comparison workbook holds both sides and B−A as computed, colours the
better side, and never turns a site's name into a formula; a plan's GeoJSON and XLSX."""

from __future__ import annotations

import io

import openpyxl
import pytest

from geoservice.reports.plans import compare_rows, compare_xlsx, plan_geojson, plan_xlsx
from geoservice.services import plans
from geoservice.services.accounts import cli_actor
from layers import open_store

ADMIN = cli_actor()
LAYER = "elderly_service_points"
HOSTILE = "=HYPERLINK(\"http://x\",\"y\")"


@pytest.fixture
def store(demo_workspace):
    s = open_store(demo_workspace)
    plans.create_plan(s, ADMIN, "甲", LAYER, note="@SUM(A1)")
    v = s.read("villages")
    pts = v.geometry.representative_point()
    plans.edit_sites(s, ADMIN, "甲", [
        {"op": "add", "lon": float(p.x), "lat": float(p.y), "name": HOSTILE if i == 0 else f"站{i}",
         "level": "village_station", "beds": "25"} for i, p in enumerate(pts.iloc[[3, 17, 30, 44]])])
    return s


def test_compare_workbook_has_both_sides_and_the_difference(store):
    cmp = plans.compare_plans(store, "现状", "甲", radius="1000")
    wb = openpyxl.load_workbook(io.BytesIO(compare_xlsx(cmp)))
    assert wb.sheetnames == ["对比汇总", "乡镇对比", "B 新增覆盖的村", "B 不再覆盖的村",
                             "A 方案站点", "B 方案站点", "参数"]
    ws = wb["对比汇总"]
    by_label = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    for row in compare_rows(cmp):
        cells = by_label[row["label"]]
        if row["kind"] == "bool":
            assert cells[1].value == ("是" if row["a"] else "否")
            continue
        assert cells[1].value == pytest.approx(row["a"])
        assert cells[2].value == pytest.approx(row["b"])
        assert cells[3].value == pytest.approx(row["b"] - row["a"])
        colour = cells[3].fill.fgColor.rgb if cells[3].fill.fill_type else None
        expected = {"b": "00C6EFCE", "a": "00FFC7CE", None: None}[row["better"]]
        assert colour == expected, row["label"]
    # at 1 km four new village stations cover more elderly: B is better there
    assert by_label["覆盖老年人口"][4].value == "B"
    assert by_label["方案站点床位数"][2].value == 100
    newly = [r[0] for r in wb["B 新增覆盖的村"].iter_rows(min_row=2, values_only=True)]
    assert newly == [v["code"] for v in cmp["newly_covered"]] and newly
    towns = wb["乡镇对比"]
    assert towns.max_row == len(cmp["townships"]) + 1
    sites = [r[1] for r in wb["B 方案站点"].iter_rows(min_row=2, values_only=True)]
    assert HOSTILE in sites
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)


def test_plan_workbook_and_geojson(store):
    d = plans.plan_dict(store, plans.get_plan(store, "甲"))
    wb = openpyxl.load_workbook(io.BytesIO(plan_xlsx(d)))
    summary = {r[0]: r[1] for r in wb["规划方案"].iter_rows(min_row=2, values_only=True)}
    assert summary["站点数"] == 4 and summary["床位数"] == 100 and summary["备注"] == "@SUM(A1)"
    assert wb["规划方案"]["B6"].data_type == "s"
    names = [r[1] for r in wb["站点"].iter_rows(min_row=2, values_only=True)]
    assert names[0] == HOSTILE and wb["站点"]["B2"].data_type == "s"
    gj = plan_geojson(d)
    assert [f["properties"]["name"] for f in gj["features"]] == [s["name"] for s in d["sites"]]
    assert gj["features"][0]["geometry"]["coordinates"] == [d["sites"][0]["lon"],
                                                           d["sites"][0]["lat"]]
