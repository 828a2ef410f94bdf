"""Reports of analyses on a travel cost (issue 15): every workbook, CSV and printed map
names the cost, its unit and (on roads) the network with its default speeds; distances are
headed in metres or minutes; the walk to the road per village; an OD matrix file's name is
never a formula."""

from __future__ import annotations

import csv
import io
import shutil
import tomllib
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from geoservice.config import DEMO_WORKSPACE
from geoservice.reports.coverage import coverage_csv, coverage_xlsx
from geoservice.reports.printmap import coverage_sheet, siting_sheet
from geoservice.reports.siting import siting_csv, siting_xlsx
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.siting import run_siting, siting_params
from layers import open_store

LAYER = "elderly_service_points"
GK = "EPSG:4544"  # the demo county's Gauss-Kruger zone (CM 105E)
DEFAULTS = tomllib.loads(
    (DEMO_WORKSPACE.parents[2] / "geoservice/analysis/defaults.toml").read_text("utf-8"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("costreports") / "qingshen.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    s = open_store(path)
    assert "roads" in s.current_versions(), "the demo county has no roads layer"
    return s


@pytest.fixture(scope="module")
def timed(store):
    """Coverage by travel time along the roads, three cutoffs."""
    return run_coverage(store, coverage_params(LAYER, cost="network", cost_field="time",
                                               method="2sfca", cutoffs="5,10,15"))


@pytest.fixture(scope="module")
def straight(store):
    return run_coverage(store, coverage_params(LAYER, "2000"))


def _summary(data: bytes) -> dict:
    ws = load_workbook(io.BytesIO(data))["汇总"]
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0]}


def _sheet(data: bytes, name: str) -> pd.DataFrame:
    rows = list(load_workbook(io.BytesIO(data))[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_time_cost_rows_and_headers(store, timed):
    data = coverage_xlsx(timed)
    s = _summary(data)
    assert s["服务半径(分钟)"] == DEFAULTS["coverage"]["radius_min"][LAYER]
    assert "服务半径(米)" not in s
    assert s["半径来源"] == f"默认值（defaults.toml [coverage.radius_min] {LAYER}）"
    assert s["出行成本"] == "沿道路网（roads 图层）的通行时间（分钟）"
    assert s["可达性方法"] == "两步移动搜索法（2SFCA，Luo & Wang 2003）"
    assert "W(d) = 1" in s["可达性公式"]
    # the network, counted here from the roads layer and the settings file
    roads = store.read("roads")
    km = roads.to_crs(GK).length.sum() / 1000
    assert s["道路网"].startswith(f"道路图层（第 1 版）：{len(roads)} 条道路，")
    assert s["道路网"].endswith(f"共 {km:,.1f} 千米")
    net = DEFAULTS["network"]
    assert s["道路连通容差"].startswith(f"{net['snap_tolerance_m']:g} 米")
    assert s["村/设施到道路的步行速度"] == f"{net['access_speed_kmh']:g} 千米/小时"
    labels = {"expressway": "高速公路", "national": "国道", "provincial": "省道",
              "county": "县道", "township": "乡道", "village": "村道", "other": "其他"}
    assert s["各等级默认车速（道路未填设计时速时）"] == "，".join(
        f"{labels[k]} {v:g}" for k, v in net["speed_kmh"].items()) + " 千米/小时"
    assert s["距离计算"].startswith("沿道路网最短路径（通行时间")

    # one row per cutoff, counted here from the villages' nearest facility
    v = timed.villages
    eld = v["elderly_population"].astype(float)
    pop = v["population"].astype(float)
    for c in (5, 10, 15):
        within = v["nearest_m"] <= c
        assert s[f"{c} 分钟内"] == (
            f"老年人口 {eld[within].sum() / eld.sum():.1%}（{int(eld[within].sum()):,} 人）；"
            f"人口 {pop[within].sum() / pop.sum():.1%}（{int(pop[within].sum()):,} 人）；"
            f"村 {within.mean():.1%}（{int(within.sum())} 个）")

    # the village sheet: minutes, and the walk to the road
    sheet = _sheet(data, "村(社区)")
    assert "到最近设施通行时间(分钟)" in sheet.columns
    assert "到最近设施距离(米)" not in sheet.columns
    assert np.allclose(sheet["到最近设施通行时间(分钟)"].astype(float), v["nearest_m"])
    # each village's distance to its nearest road, measured here with shapely
    centres = gpd.GeoSeries(gpd.points_from_xy(v["centre_lon"], v["centre_lat"]),
                            crs="EPSG:4490").to_crs(GK)
    lines = roads.to_crs(GK).geometry.union_all()
    expect = np.array([p.distance(lines) for p in centres])
    assert np.allclose(sheet["到道路距离(米)"].astype(float), expect, atol=0.01)
    ws = load_workbook(io.BytesIO(data))["村(社区)"]
    header = [c.value for c in ws[1]]
    col = header.index("到最近设施通行时间(分钟)") + 1
    assert ws.cell(2, col).number_format == "0.0"
    assert ws.cell(2, header.index("到道路距离(米)") + 1).number_format == "0"
    uncovered = _sheet(data, "未覆盖村(按老年人口)")
    assert "到最近设施通行时间(分钟)" in uncovered.columns


def test_csv_names_the_cost(timed):
    text = coverage_csv(timed).decode("utf-8-sig")
    assert "# 出行成本: 沿道路网（roads 图层）的通行时间（分钟）" in text
    assert "# 服务半径(分钟): 15" in text and "# 可达性方法: 两步移动搜索法" in text
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert {"到最近设施通行时间(分钟)", "到道路距离(米)"} <= set(frame.columns)


def test_straight_line_reports_keep_their_rows(straight):
    data = coverage_xlsx(straight)
    s = _summary(data)
    assert s["服务半径(米)"] == 2000 and s["出行成本"] == "直线距离（米）"
    assert s["距离计算"].startswith("直线距离，EPSG:4544")
    assert "道路网" not in s and not any(k.endswith("分钟内") for k in s)
    assert s["可达性方法"].startswith("高斯两步移动搜索法")
    sheet = _sheet(data, "村(社区)")
    assert "到最近设施距离(米)" in sheet.columns and "到道路距离(米)" not in sheet.columns


def test_siting_on_time_names_minutes_and_green_field(store):
    run = run_siting(store, siting_params(LAYER, "20", problem="pmedian", add="2",
                                          cost="network", cost_field="time",
                                          ignore_existing="1"))
    data = siting_xlsx(run)
    s = _summary(data)
    assert s["服务半径(分钟)"] == 20 and s["出行成本"].endswith("通行时间（分钟）")
    assert s["不考虑现有设施"].startswith("是（")
    assert "各等级默认车速（道路未填设计时速时）" in s
    ws = load_workbook(io.BytesIO(data))["汇总"]
    labels = [r[0] for r in ws.iter_rows(values_only=True)]
    assert "老年人口加权总通行时间(人·分钟)" in labels
    assert "老年人平均到最近设施通行时间(分钟)" in labels
    assert "老年人平均到最近设施距离(米)" not in labels
    villages = _sheet(data, "村")
    assert {"新增前到最近设施通行时间(分钟)", "新增后到最近设施通行时间(分钟)",
            "到道路距离(米)"} <= set(villages.columns)
    after = villages["新增后到最近设施通行时间(分钟)"].astype(float)
    assert np.allclose(after, run.result.villages["nearest_m_after"].astype(float))
    text = siting_csv(run).decode("utf-8-sig")
    assert "# 不考虑现有设施: 是（" in text and "# 服务半径(分钟): 20" in text

    today = run_siting(store, siting_params(LAYER, "2000", add="2"))
    assert _summary(siting_xlsx(today))["不考虑现有设施"] == "否"


def test_printed_map_names_the_cost_and_unit(store, timed):
    sheet = coverage_sheet(timed, {"title": "青神县"})
    info = dict(sheet.info)
    assert info["服务半径(分钟)"] == "15" and info["出行成本"].endswith("（分钟）")
    assert "村道 20" in info["各等级默认车速（道路未填设计时速时）"]
    assert info["5 分钟内"].startswith("老年人口 ")
    # along the roads the radius is no circle: none is drawn
    assert not any(layer.label and layer.label.startswith("服务半径") for layer in sheet.layers)

    run = run_siting(store, siting_params(LAYER, "3000", add="2", cost="network"))
    info = dict(siting_sheet(run, {"title": "青神县"}).info)
    assert info["服务半径(米)"] == "3,000"
    assert info["出行成本"] == "沿道路网（roads 图层）的道路里程（米）"


def test_a_matrix_file_name_is_never_a_formula(store, tmp_path):
    villages = store.read("villages")
    names = list(store.read(LAYER)["name"])
    path = tmp_path / "=cmd.csv"
    rows = [(code, name, 3.0 + (i + j) % 5) for i, code in enumerate(villages["code"])
            for j, name in enumerate(names)]
    pd.DataFrame(rows, columns=["村代码", "设施", "时间"]).to_csv(path, index=False)
    result = run_coverage(store, coverage_params(LAYER, "5", cost_unit="min",
                                                 matrix_path=path, matrix_name="=cmd.csv"))
    data = coverage_xlsx(result)
    wb = load_workbook(io.BytesIO(data))
    assert not [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    cell = next(r[1] for r in wb["汇总"].iter_rows() if r[0].value == "OD 矩阵文件")
    assert cell.value == "=cmd.csv" and cell.data_type == "s" and cell.quotePrefix
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
    assert _summary(data)["出行成本"] == "OD 矩阵“=cmd.csv”的出行成本（分钟）"
    # CSV: the name stays inside a # comment line, never a field of its own
    text = coverage_csv(result).decode("utf-8-sig")
    lines = text.split("\r\n")
    assert "# OD 矩阵文件: =cmd.csv" in lines
    for row in csv.reader(io.StringIO(text, newline="")):
        assert not any(f.startswith(("=", "+", "-", "@")) for f in row), row
