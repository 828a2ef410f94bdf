"""The coverage workbook's township sheet: beds per 1,000 elderly as the plans count it
(all elderly-care beds) beside the layer's own figure, against the target; a cemetery's
sheet speaks of graves. Expected numbers come from the raw layers (shapely, pandas)."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from geoservice.reports.coverage import coverage_xlsx
from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store
from layers.demo import DEMO_WORKSPACE


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("coverage_report") / "demo.gpkg"
    path.write_bytes(DEMO_WORKSPACE.read_bytes())
    return open_store(path)


def per_township(villages, frames, column) -> pd.Series:
    def town(geom):
        for poly, code in zip(villages.geometry, villages["township_code"], strict=True):
            if poly.covers(geom):
                return code
        return None

    rows = [(town(g), v) for fac in frames for g, v in zip(fac.geometry, fac[column],
                                                           strict=True)]
    df = pd.DataFrame(rows, columns=["township", "value"])
    df["value"] = pd.to_numeric(df["value"], errors="coerce").fillna(0)
    return df.groupby("township")["value"].sum().reindex(
        sorted(villages["township_code"].unique()), fill_value=0)


def sheets(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    towns = pd.read_excel(io.BytesIO(data), sheet_name="乡镇", dtype={"乡镇代码": str})
    head = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=2, values_only=True) if r[0]}
    return towns.set_index("乡镇代码"), head


def test_township_sheet_has_all_care_beds_beside_the_layers(store):
    result = run_coverage(store, coverage_params(layer="welfare_homes", level="township"))
    towns, head = sheets(coverage_xlsx(result))
    v = store.read("villages")
    homes, points = store.read("welfare_homes"), store.read("elderly_service_points")
    elderly = v.groupby("township_code")["elderly_population"].sum().sort_index() \
        .astype(float)
    care = per_township(v, [homes, points], "beds")
    own = per_township(v, [homes[homes["kind"] == "township"]], "beds")
    assert (care > own).any()
    pd.testing.assert_series_equal(towns["养老床位数(全部)"], care, check_names=False,
                                   check_index_type=False)
    pd.testing.assert_series_equal(towns["每千名老年人床位"], care * 1000 / elderly,
                                   check_names=False, check_index_type=False,
                                   check_dtype=False)
    pd.testing.assert_series_equal(towns["本图层每千名老年人床位"], own * 1000 / elderly,
                                   check_names=False, check_index_type=False,
                                   check_dtype=False)
    assert towns["床位达标"].tolist() == ["是" if x >= 35 else "否"
                                       for x in care * 1000 / elderly]
    county = care.sum() * 1000 / elderly.sum()
    assert head["每千名老年人床位"] == pytest.approx(county)
    assert head["床位目标(每千名老年人)"] == 35
    assert head["床位是否达标"] == ("是" if county >= 35 else "否")
    assert head["养老床位数(全部：福利院/特困供养机构+养老服务设施)"] == care.sum()
    assert head["本图层床位数(福利院/特困供养机构，乡镇敬老院)"] == own.sum()
    assert head["床位计入的图层"] == "福利院/特困供养机构（第 1 版）、养老服务设施（第 1 版）"


def test_cemetery_sheets_speak_of_graves(store):
    result = run_coverage(store, coverage_params(layer="cemeteries"))
    towns, head = sheets(coverage_xlsx(result))
    assert not [c for c in towns.columns if "床位" in c]
    assert not [k for k in head if "床位" in str(k)]
    v, cem = store.read("villages"), store.read("cemeteries")
    cap = per_township(v, [cem], "capacity_graves")
    used = per_township(v, [cem], "used_graves")
    assert towns["设计墓穴数"].tolist() == cap.tolist()
    assert towns["已用墓穴数"].tolist() == used.tolist()
    assert towns["剩余墓穴数"].tolist() == (cap - used).tolist()
    assert head["设计墓穴数"] == cap.sum() and head["剩余墓穴数"] == (cap - used).sum()
