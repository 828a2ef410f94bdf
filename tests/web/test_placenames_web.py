"""The place-name API and page: same JSON as the function, uploads, errors in Chinese."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import load_workbook

from geoservice.services.placenames import run_placenames
from layers import open_store
from layers.crs import wgs_to_bd

GENERATED = Path(__file__).resolve().parents[2] / "layers" / "demo" / "source" / "generated"


def test_api_matches_the_function(demo_app, demo_workspace):
    client = demo_app.test_client()
    r = client.get("/api/placenames")
    assert r.status_code == 200
    body = r.get_json()
    direct = run_placenames(open_store(demo_workspace)).to_dict()
    assert body["findings"] == direct["findings"]
    assert body["summary"]["counts"] == direct["summary"]["counts"]
    assert body["summary"]["counts"]["wrong_name"] == 2
    assert len(body["romanization"]) == 58


def test_upload_a_baidu_label_file(demo_app, demo_workspace, tmp_path):
    store = open_store(demo_workspace)
    labels = store.read("place_labels")
    lon, lat = wgs_to_bd(labels.geometry.x.to_numpy(), labels.geometry.y.to_numpy())
    csv = "名称,经度,纬度\n" + "".join(f"{n},{x:.8f},{y:.8f}\n" for n, x, y in
                                      zip(labels["name"], lon, lat, strict=True))
    aliases = "代码,曾用名\n511425112201,双河村\n"
    client = demo_app.test_client()
    r = client.post("/api/placenames", data={
        "crs": "bd09", "file": (io.BytesIO(csv.encode("utf-8")), "baidu.csv"),
        "aliases": (io.BytesIO(aliases.encode("utf-8")), "aliases.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    stored = client.get("/api/placenames").get_json()
    assert body["summary"]["counts"] == stored["summary"]["counts"]
    assert body["summary"]["inputs"]["labels_crs"] == "bd09"
    # XLSX coordinates in the provider's own system (BD-09 here)
    r = client.post("/placenames/report.xlsx", data={
        "crs": "bd09", "file": (io.BytesIO(csv.encode("utf-8")), "baidu.csv")},
        content_type="multipart/form-data")
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["更正清单"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(2)]
    assert rows and all(x["坐标系"].startswith("BD-09") for x in rows)
    dup = [x for x in rows if x["类型"] == "重复标注"][0]
    assert any(abs(dup["经度"] - a) < 1e-5 and abs(dup["纬度"] - b) < 1e-5
               for a, b in zip(lon, lat, strict=True))
    # every label row carries the uploaded BD-09 numbers back, within 1 m
    from pyproj import Geod

    geod = Geod(ellps="GRS80")
    labelled = [x for x in rows if x["标注名称"]]
    assert len(labelled) == 7
    for x in labelled:
        same = [(a, b) for n, a, b in zip(labels["name"], lon, lat, strict=True)
                if n == x["标注名称"]]
        gaps = [geod.inv(a, b, x["经度"], x["纬度"])[2] for a, b in same]
        assert min(gaps) < 1.0, (x, gaps)


def test_xlsx_sheets_and_provider_coordinates(demo_app):
    r = demo_app.test_client().get("/placenames/report.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["更正清单", "名册问题", "罗马字母拼写", "汇总"]
    ws = wb["更正清单"]
    assert [c.value for c in ws[1]][:7] == ["类型", "标准名称", "区划代码", "所属乡镇", "标注名称",
                                            "建议名称", "坐标系"]
    assert ws.max_row - 1 == 10
    assert ws["G2"].value.startswith("GCJ-02")
    summary = {row[0].value: row[1].value for row in wb["汇总"].iter_rows(2)}
    assert summary["数据性质"].startswith("示例数据")
    assert summary["位置容差（米）"] == 300
    roman = [[c.value for c in row] for row in wb["罗马字母拼写"].iter_rows(2)]
    assert ["511425001202", "程家嘴村", "Chengjiazui Cun", "511425001"] in roman


def test_bad_input_is_a_chinese_400_and_changes_nothing(demo_app, demo_workspace):
    client = demo_app.test_client()
    before = open_store(demo_workspace).current_versions()
    r = client.get("/api/placenames?tolerance=abc")
    assert r.status_code == 400 and "tolerance" in r.get_json()["error"]
    r = client.post("/api/placenames", data={"crs": "gcj02"},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "文件" in r.get_json()["error"]
    bad = "名称,经度,纬度\n柳溪村,abc,30\n"
    r = client.post("/api/placenames", data={
        "crs": "gcj02", "file": (io.BytesIO(bad.encode("utf-8")), "bad.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.get_json().get("problems")
    r = client.post("/api/placenames", data={
        "crs": "gcj02",
        "file": (io.BytesIO((GENERATED / "place_labels_amap_gcj02.csv").read_bytes()), "a.csv"),
        "aliases": (io.BytesIO("代码,曾用名\n123,双河村\n".encode()), "al.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 400 and "第 2 行" in r.get_json()["error"]
    assert open_store(demo_workspace).current_versions() == before


def test_page_escapes_and_lists_findings(demo_app):
    r = demo_app.test_client().get("/placenames")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "地名核查" in html and "示例数据" in html
    assert html.count('class="gs-finding"') == 10
    assert "洪化村 → 鸿化村" in html
    assert "Chengjiazui Cun" in html


def test_page_upload_with_script_name_is_escaped(demo_app):
    csv = "名称,经度,纬度\n<script>alert(1)</script>村,103.86,29.85\n"
    r = demo_app.test_client().post("/placenames", data={
        "crs": "gcj02", "file": (io.BytesIO(csv.encode("utf-8")), "x.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_page_without_a_label_layer_still_offers_the_upload(tiny_app):
    """A workspace with villages but no place_labels layer: the page opens (roster checks,
    romanisation, the upload form) instead of a 404; the API still says what is missing."""
    client = tiny_app.test_client()
    r = client.get("/placenames")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="no-labels"' in html and 'id="upload-form"' in html
    assert 'data-type="missing"' not in html  # no labels at all is not "every village missing"
    assert "romanization-table" in html
    r = client.get("/api/placenames")
    assert r.status_code == 404 and "地名标注" in r.get_json()["error"]
    csv = "名称,经度,纬度\n不存在村,103.86,29.85\n"
    r = client.post("/placenames", data={
        "crs": "gcj02", "file": (io.BytesIO(csv.encode("utf-8")), "x.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-type="missing"' in html and 'data-type="unknown_label"' in html
    # after an upload the GET links are labelled as the workspace layer's results
    assert 'id="uploaded-download-hint"' in html


def test_label_source_is_described_in_chinese(demo_app):
    body = demo_app.test_client().get("/api/placenames").get_json()
    assert body["summary"]["inputs"]["labels_source"].startswith("工作空间“地名标注”图层")


def test_upload_errors_speak_of_the_check_in_chinese(demo_app):
    """A rejected label file is a failed check (not an import); unreadable aliases files say
    why in Chinese, without Python's English exception text."""
    client = demo_app.test_client()
    good = "名称,经度,纬度\n柳溪村,103.86,29.85\n".encode()
    r = client.post("/api/placenames", data={
        "crs": "gcj02", "file": (io.BytesIO("名称,经度,纬度\n柳溪村,abc,30\n".encode()), "b.csv")},
        content_type="multipart/form-data")
    body = r.get_json()
    assert r.status_code == 400 and body["error"].startswith("标注文件有 1 处问题，未进行核查")
    assert body["problems"][0]["row"] == 2 and body["problems"][0]["field"] == "经度"
    for raw, name, words in ((b"\xff\xfe\x00\x81", "a.csv", "编码"),
                             (b"garbage", "a.xlsx", "损坏"), (b"", "a.csv", "空文件")):
        r = client.post("/api/placenames", data={
            "crs": "gcj02", "file": (io.BytesIO(good), "x.csv"),
            "aliases": (io.BytesIO(raw), name)}, content_type="multipart/form-data")
        error = r.get_json()["error"]
        assert r.status_code == 400 and name in error and words in error
        assert not any(w in error for w in ("codec", "Excel", "engine", "decode"))
    # no CRS given and none to detect: the message names this check's option
    r = client.post("/api/placenames", data={
        "file": (io.BytesIO("名称,x,y\n柳溪村,5000,3000\n".encode()), "c.csv")},
        content_type="multipart/form-data")
    text = " ".join(p["message"] for p in r.get_json()["problems"])
    assert r.status_code == 400 and "--crs " not in text and "--labels-crs" in text
    # a coordinate that is not a number is reported as such, not as an unknown system
    r = client.post("/api/placenames", data={
        "file": (io.BytesIO("名称,x,y\n柳溪村,abc,30\n".encode()), "c.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 400
    assert [p["message"] for p in r.get_json()["problems"]] == ["坐标“abc”不是数字"]


def test_a_file_naming_another_system_than_the_one_chosen_is_refused(demo_app):
    """The demo export says 坐标系 = gcj02 in every row: choosing BD-09 on the form would put
    every label hundreds of metres off; a file mixing systems cannot be read as one."""
    client = demo_app.test_client()
    raw = (GENERATED / "place_labels_amap_gcj02.csv").read_bytes()
    r = client.post("/api/placenames", data={"crs": "bd09", "file": (io.BytesIO(raw), "a.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    problem = r.get_json()["problems"][0]
    assert problem["field"] == "坐标系" and "GCJ-02" in problem["message"] \
        and "BD-09" in problem["message"]
    mixed = raw.decode("utf-8-sig").replace("gcj02", "bd09", 3).encode("utf-8")
    r = client.post("/api/placenames", data={"file": (io.BytesIO(mixed), "m.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "多种坐标系" in r.get_json()["problems"][0]["message"]
    for crs in ("gcj02", ""):  # the same system, or automatic: checked as before
        r = client.post("/api/placenames", data={"crs": crs, "file": (io.BytesIO(raw), "a.csv")},
                        content_type="multipart/form-data")
        assert r.status_code == 200 and r.get_json()["summary"]["counts"]["misplaced"] == 2


def test_a_label_upload_obeys_the_configured_feature_limit(demo_workspace):
    from fixtures import make_app  # create_app with an admin signed in (API token)

    app = make_app({"WORKSPACE": str(demo_workspace), "IMPORT_MAX_FEATURES": 3})
    labels = open_store(demo_workspace).read("place_labels").head(5)
    csv = "名称,经度,纬度\n" + "".join(f"{n},{p.x:.8f},{p.y:.8f}\n" for n, p in
                                      zip(labels["name"], labels.geometry, strict=True))
    r = app.test_client().post("/api/placenames", data={
        "file": (io.BytesIO(csv.encode("utf-8")), "five.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 400
    assert "IMPORT_MAX_FEATURES" in json.dumps(r.get_json(), ensure_ascii=False)
