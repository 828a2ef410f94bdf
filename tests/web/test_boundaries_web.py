"""Boundary review through the API, the downloads and the pages: one result, three ways."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
from fixtures import GK, X0, Y0
from openpyxl import load_workbook
from shapely.geometry import box

from geoservice.analysis.boundaries import review
from geoservice.services.params import DEFAULT, GIVEN
from layers import import_file, open_store

OVERLAP_M2 = 10.0 * 4000.0  # 乙镇 moved 10 m west over 甲镇, 4 km tall


@pytest.fixture
def overlap_workspace(tiny_workspace, tmp_path):
    """The tiny workspace with a second townships version that overlaps by 10 m."""
    towns = gpd.GeoDataFrame(
        {"code": ["511425102", "511425108"], "name": ["甲镇", "<b>乙</b>镇"]},
        geometry=[box(X0, Y0, X0 + 2000, Y0 + 4000), box(X0 + 1990, Y0, X0 + 4000, Y0 + 4000)],
        crs=GK).to_crs("EPSG:4490")
    path = tmp_path / "towns_overlap.geojson"
    towns.to_file(path, driver="GeoJSON")
    import_file(open_store(tiny_workspace), "townships", path)
    return tiny_workspace


@pytest.fixture
def clean_client(tiny_app):
    return tiny_app.test_client()


@pytest.fixture
def client(overlap_workspace):
    from fixtures import make_app  # create_app with an admin signed in (API token)

    return make_app({"WORKSPACE": str(overlap_workspace)}).test_client()


def test_api_matches_the_function(client, overlap_workspace):
    body = client.get("/api/boundaries?layer=townships").get_json()
    overlaps = [f for f in body["findings"] if f["type"] == "overlap"]
    assert len(overlaps) == 1
    assert overlaps[0]["area_m2"] == pytest.approx(OVERLAP_M2, abs=0.01)
    assert overlaps[0]["codes"] == ["511425102", "511425108"]
    s = open_store(overlap_workspace)
    direct = review(s.read("townships"), layer="townships", county_code="511425").to_dict()
    assert body["findings"] == direct["findings"]
    assert body["boundary_lines"] == direct["boundary_lines"]
    assert body["summary"]["counts"] == direct["summary"]["counts"]
    assert body["summary"]["inputs"]["layer_versions"] == {"townships": 2}
    assert body["summary"]["tolerances"]["area_m2"] == 1.0


def test_villages_review_uses_the_townships(client):
    body = client.get("/api/boundaries?layer=villages").get_json()
    counts = body["summary"]["counts"]
    # 乙镇 grew by 10 m: its area is 0.5% more than its two villages' (tolerance 0.1%).
    assert counts["area_mismatch"] == 1 and counts["not_nested"] == 0
    mism = [f for f in body["findings"] if f["type"] == "area_mismatch"][0]
    assert mism["area_m2"] == pytest.approx(OVERLAP_M2, abs=0.01)
    # The 10 m strip 乙镇 took from 甲镇 is still covered by 甲镇's villages: no gap.
    assert counts["gap"] == 0 and counts["overlap"] == 0
    assert body["summary"]["inputs"]["layer_versions"] == {"villages": 1, "townships": 2}


def test_tolerance_parameters_and_errors(client):
    body = client.get("/api/boundaries?layer=townships&width=20").get_json()
    assert body["summary"]["counts"]["sliver"] == 1 and body["summary"]["counts"]["overlap"] == 0
    from_ = body["summary"]["inputs"]["tolerances_from"]
    assert from_["sliver_width_m"] == GIVEN and from_["area_m2"] == DEFAULT
    assert body["summary"]["tolerances_source"] == "defaults.toml [boundaries]"
    body = client.get("/api/boundaries?area_sum=1%25&layer=villages").get_json()
    assert body["summary"]["tolerances"]["area_sum_rel"] == pytest.approx(0.01)
    assert body["summary"]["counts"]["area_mismatch"] == 0
    for query, word in (("layer=roads", "layer"), ("area=abc", "area"), ("snap=-1", "snap")):
        r = client.get(f"/api/boundaries?{query}")
        assert r.status_code == 400 and word in r.get_json()["error"], query
    r = client.get("/api/boundaries/lines?format=dxf")
    assert r.status_code == 400 and "format" in r.get_json()["error"]


def test_line_exports(clean_client, tmp_path):
    client = clean_client
    body = client.get("/api/boundaries").get_json()
    n = len(body["boundary_lines"])
    gj = json.loads(client.get("/api/boundaries/lines?format=geojson").data)
    assert len(gj["features"]) == n
    shared = [f for f in gj["features"] if f["properties"]["kind"] == "共有界线"]
    assert len(shared) == 1 and shared[0]["properties"]["length_m"] == pytest.approx(
        4000.0, abs=0.01)
    assert shared[0]["properties"]["name_b"] == "乙镇"

    gpkg = tmp_path / "lines.gpkg"
    gpkg.write_bytes(client.get("/api/boundaries/lines?format=gpkg").data)
    assert len(pyogrio.read_dataframe(gpkg)) == n

    r = client.get("/api/boundaries/lines?format=shp")
    assert "attachment" in r.headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(r.data))
    names = set(zf.namelist())
    assert {"boundary_lines.shp", "boundary_lines.dbf", "boundary_lines.cpg",
            "fields_zh.csv"} <= names
    assert zf.read("boundary_lines.cpg").decode().strip().upper().replace("-", "") == "UTF8"
    assert "单位甲名称" in zf.read("fields_zh.csv").decode("utf-8-sig")
    zpath = tmp_path / "lines.zip"
    zpath.write_bytes(r.data)
    shp = gpd.read_file(f"zip://{zpath}!boundary_lines.shp")
    assert len(shp) == n and "甲镇" in set(shp["name_a"])

    wb = load_workbook(io.BytesIO(client.get("/api/boundaries/lines?format=xlsx").data))
    ws = wb["界线登记表"]
    assert [c.value for c in ws[1]][:4] == ["界线编号", "界线类型", "单位甲代码", "单位甲名称"]
    assert ws.max_row == n + 1


def test_xlsx_report(client):
    r = client.get("/boundaries/report.xlsx?layer=townships&area=2")
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["汇总", "问题清单", "界线登记表"]
    summary = {row[0].value: row[1].value for row in wb["汇总"].iter_rows(min_row=2)}
    assert summary["审查图层"] == "乡镇(街道)（第 2 版）"
    assert str(summary["面积容差（平方米，小于此值的缝隙/重叠视为噪声）"]).startswith(f"2（{GIVEN}")
    assert summary["界线捕捉容差（米）"] == f"1（{DEFAULT}，defaults.toml [boundaries]）"
    findings = list(wb["问题清单"].iter_rows(values_only=True))
    assert findings[0][0] == "问题类型" and findings[1][0] == "重叠"


def test_page_lists_findings_escaped(client):
    html = client.get("/boundaries").get_data(as_text=True)
    assert 'id="findings-table"' in html and "重叠" in html
    assert "<b>乙</b>镇" not in html and "&lt;b&gt;乙&lt;/b&gt;镇" in html
    assert "面积容差" in html
    # Overlapping by 10 m (more than the snap tolerance) the two share no line:
    assert "<td>12.000</td>" in html  # the whole edge of 甲镇 is outer


def test_page_labels_shared_lines(clean_client):
    html = clean_client.get("/boundaries").get_data(as_text=True)
    # The label is built in the map script (JSON-escaped there); the browser test reads it.
    assert 'gs-line-label\\" data-km=\\"4.000\\"\\u003e4.00 \\u5343\\u7c73' in html
    assert "<td>4.000</td>" in html
    assert "未发现问题" in html


def test_demo_page_shows_marker_findings(demo_app):
    c = demo_app.test_client()
    html = c.get("/boundaries").get_data(as_text=True)
    assert "示例数据" in html and "界桩偏离界线" in html and "界桩编号重复" in html
    body = c.get("/api/boundaries").get_json()
    assert body["summary"]["counts"]["marker_off_line"] == 1
    assert body["summary"]["counts"]["duplicate_marker"] == 1


def test_merge_api_simulates_then_applies(client, overlap_workspace):
    store = open_store(overlap_workspace)
    form = {"codes": "511425102200,511425102201", "name": "甲合村"}
    r = client.post("/api/boundaries/merge", json=form)
    body = r.get_json()
    assert r.status_code == 200 and body["applied"] is None
    assert body["figures"]["population"] == 3500 and body["figures"]["elderly_population"] == 800
    assert body["figures"]["area_m2_after"] == pytest.approx(8_000_000.0, abs=0.1)
    assert body["new_code"] == "511425102200"
    assert store.current_versions()["villages"].version == 1  # nothing stored
    r = client.post("/api/boundaries/merge", json={**form, "apply": True})
    assert r.status_code == 201 and r.get_json()["applied"]["version"] == 2
    assert len(store.read("villages")) == 3 and len(store.read("villages", version=1)) == 4
    bad = client.post("/api/boundaries/merge", json={"codes": "511425102200", "name": "x"})
    assert bad.status_code == 400 and "codes" in bad.get_json()["error"]
    bad = client.post("/api/boundaries/merge",
                      json={"codes": "511425102200,511425108200", "name": "x"})
    assert bad.status_code == 400 and "同一乡镇" in bad.get_json()["error"]
    assert store.current_versions()["villages"].version == 2


def test_merge_page_before_after_and_apply(client, overlap_workspace):
    r = client.get("/boundaries/merge?codes=511425102200,511425102201&name=甲合村")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "合并前" in html and "合并后" in html and 'id="apply"' in html
    assert open_store(overlap_workspace).current_versions()["villages"].version == 1
    r = client.post("/boundaries/merge", data={"codes": "511425102200,511425102201",
                                               "name": "甲合村", "apply": "1",
                                               "layer": "villages"})
    assert r.status_code == 200 and "已应用" in r.get_data(as_text=True)
    assert open_store(overlap_workspace).current_versions()["villages"].version == 2


TOWNSHIP_MERGE = {"layer": "townships", "codes": "511425217,511425218", "name": "白罗乡"}


def test_township_merge_applies_to_villages_too(demo_app, demo_workspace):
    c = demo_app.test_client()
    store = open_store(demo_workspace)
    body = c.post("/api/boundaries/merge", json=TOWNSHIP_MERGE).get_json()
    moved = {r["old_code"]: r["new_code"] for r in body["villages_recoded"]}
    old = store.read("villages")
    assert set(moved) == set(old.loc[old["township_code"].isin(["511425217", "511425218"]),
                                     "code"])
    assert store.current_versions()["villages"].version == 1  # a simulation writes nothing
    r = c.post("/api/boundaries/merge", json={**TOWNSHIP_MERGE, "apply": True})
    applied = r.get_json()["applied"]
    assert r.status_code == 201 and applied["version"] == 2
    assert applied["villages"]["version"] == 2
    v = store.read("villages")
    assert len(v) == 58 and v["code"].is_unique
    assert set(v["township_code"]) <= set(store.read("townships")["code"])
    assert (v["code"].str[:9] == v["township_code"]).all()
    assert dict(zip(old["code"], old["name"], strict=True))["511425218204"] == "西坝村"
    assert v.set_index("code").loc[moved["511425218204"], "name"] == "西坝村"
    counts = c.get("/api/boundaries?layer=villages").get_json()["summary"]["counts"]
    assert counts["orphan"] == 0 and counts["code_mismatch"] == 0
    assert counts["duplicate_code"] == 0
    # Facilities that sat in a recoded village follow it.
    codes = set(v["code"])
    for kind in ("welfare_homes", "elderly_service_points", "cemeteries"):
        assert set(store.read(kind)["village_code"].dropna()) <= codes, kind
    assert store.current_versions()["elderly_service_points"].version == 2


def test_failed_township_merge_changes_nothing(demo_app, demo_workspace, monkeypatch):
    """The villages table fails to be written half way through the merge: neither layer
    changes, on either store, and no table of the failed versions is left behind."""
    import sqlite3

    import pyogrio

    if str(demo_workspace).startswith("postgresql://"):
        from layers.store.postgis import PostgisStore

        real_insert = PostgisStore._insert_version

        def failing_insert(self, conn, kind, *args, **kw):
            if kind == "villages":
                raise OSError("磁盘已满（测试）")
            return real_insert(self, conn, kind, *args, **kw)

        monkeypatch.setattr(PostgisStore, "_insert_version", failing_insert)
    else:
        real = pyogrio.write_dataframe

        def failing(df, path, layer=None, **kw):
            if layer and layer.startswith("villages_"):
                raise OSError("磁盘已满（测试）")
            return real(df, path, layer=layer, **kw)

        monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    r = demo_app.test_client().post("/api/boundaries/merge",
                                    json={**TOWNSHIP_MERGE, "apply": True})
    assert r.status_code == 500 and "工作空间未改变" in r.get_json()["error"]
    store = open_store(demo_workspace)
    versions = store.current_versions()
    assert versions["townships"].version == 1 and versions["villages"].version == 1
    assert [v.version for v in store.versions("townships")] == [1]
    if str(demo_workspace).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(demo_workspace)) as con:
            tables = {t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'geoservice'")}
    else:
        with sqlite3.connect(demo_workspace) as con:
            tables = {t for (t,) in con.execute("SELECT table_name FROM gpkg_contents")}
    assert {"townships_v1", "villages_v1"} <= tables
    assert "townships_v2" not in tables and "villages_v2" not in tables


def test_merge_xlsx_download(demo_app):
    c = demo_app.test_client()
    html = c.get("/boundaries/merge?layer=townships&codes=511425217,511425218&name=白罗乡") \
        .get_data(as_text=True)
    assert 'id="merge-xlsx"' in html and 'id="merge-recoded"' in html
    r = c.get("/boundaries/merge/report.xlsx?layer=townships&codes=511425217,511425218"
              "&name=白罗乡")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["合并汇总", "合并前", "合并后", "村代码调整"]
    summary = {row[0].value: row[1].value for row in wb["合并汇总"].iter_rows(min_row=2)}
    assert summary["新代码"] == "511425217" and summary["图层"] == "乡镇(街道)（第 1 版）"
    recode = list(wb["村代码调整"].iter_rows(values_only=True))
    assert recode[0][:3] == ("名称", "原代码", "新代码")
    assert ("西坝村", "511425218204", "511425217200") in [row[:3] for row in recode]
    r = c.get("/boundaries/merge/report.xlsx?codes=511425102201&name=x")
    assert r.status_code == 400 and "codes" in r.get_data(as_text=True)


def test_village_page_draws_township_lines_thicker(demo_app):
    html = demo_app.test_client().get("/boundaries?layer=villages").get_data(as_text=True)
    assert "乡镇界（跨乡镇的村界线，粗线）" in html
    assert '"kind": "township"' in html
    town = demo_app.test_client().get("/boundaries?layer=townships").get_data(as_text=True)
    assert '"kind": "township"' not in town
