"""The XLSX reports say which year's elderly population a result used (issue 16)."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from geoservice.reports.coverage import coverage_csv, coverage_xlsx
from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store


def _summary_sheet(data: bytes) -> dict:
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0]}


def test_coverage_report_names_the_demand_year(demo_workspace):
    store = open_store(demo_workspace)
    today = run_coverage(store, coverage_params(layer="elderly_service_points"))
    ahead = run_coverage(store, coverage_params(layer="elderly_service_points", year="2030",
                                                growth="0.02"))
    d = ahead.summary["demand"]
    assert _summary_sheet(coverage_xlsx(today))["需求（60岁以上人口）"] == "当前数据"
    text = _summary_sheet(coverage_xlsx(ahead))["需求（60岁以上人口）"]
    assert text == f"2030 年（{d['source']}，基准年 {d['base_year']} 年）"
    assert "2%" in d["source"]
    # the CSV's comment lines keep the distance line and carry the demand too
    csv_text = coverage_csv(ahead).decode("utf-8-sig")
    assert "2030 年" in csv_text and "距离计算" in csv_text


def test_siting_report_names_the_demand_year(demo_workspace):
    from geoservice.reports.siting import siting_xlsx
    from geoservice.services.siting import run_siting, siting_params

    store = open_store(demo_workspace)
    run = run_siting(store, siting_params(layer="elderly_service_points", problem="mclp",
                                          add="1", year="2028"))
    d = run.summary["demand"]
    rows = _summary_sheet(siting_xlsx(run))
    assert rows["需求（60岁以上人口）"] == f"2028 年（{d['source']}，基准年 {d['base_year']} 年）"
