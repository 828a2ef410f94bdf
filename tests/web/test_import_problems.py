"""Hostile and heavy uploads through the pages and the API (issue 11): limits from the
settings, capped problem lists with the count of each kind and the whole list as CSV,
messages without server paths, and nothing stored."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile

import pytest
from fixtures import make_app  # create_app with an admin signed in (API token)

from geoservice.config import ConfigError, import_limits, load
from layers import open_store


def zeros_zip(size: int, names=("layer.shp", "layer.shx")) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in names:
            zf.writestr(n, b"x" * 100)
        with zf.open("layer.dbf", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 24)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros in about 1 MB."""
    data = zeros_zip(1 << 30)
    assert len(data) < 2 * 1024 * 1024
    return data


def bad_csv(n: int) -> bytes:
    rows = ["名称,层级,经度,纬度"]
    rows += [f"站{i},村级互助养老服务站,abc,29.8" for i in range(n)]
    rows += ["=HYPERLINK(\"http://x\"),村级互助养老服务站,103.8,99"]
    return ("\n".join(rows) + "\n").encode()


def versions(path) -> dict:
    store = open_store(path)
    return {k: [v.to_dict() for v in store.versions(k)] for k in store.current_versions()}


def post(client, url, data: bytes, name: str, **form):
    return client.post(url, data={"file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


@pytest.fixture
def app(tiny_workspace):
    return make_app({"WORKSPACE": str(tiny_workspace), "PROBLEMS_SHOWN": 10})


def test_settings_reach_the_readers():
    limits = import_limits({"IMPORT_MAX_FEATURES": "7", "ZIP_MAX_RATIO": 20})
    assert limits.max_features == 7 and limits.zip_max_ratio == 20
    assert limits.zip_max_uncompressed_mb == 1000 and limits.zip_max_members == 1000
    with pytest.raises(ConfigError):
        load({"WORKSPACE": "x.gpkg", "IMPORT_MAX_FEATURES": 0})


def test_api_lists_the_first_problems_counts_and_links_the_whole_list(app, tiny_workspace):
    before = versions(tiny_workspace)
    client = app.test_client()
    r = post(client, "/api/layers/elderly_service_points", bad_csv(500), "坏站点.csv")
    assert r.status_code == 400
    body = r.get_json()
    assert body["problem_count"] == 501 and body["problems_truncated"] is True
    groups = body["problem_groups"]
    assert [(g["count"], g["rows"][:2], g["rows_more"]) for g in groups] == [
        (500, [2, 3], 490), (1, [502], 0)]
    assert len(body["problems"]) == 10 and body["problems_shown"] == 10
    assert body["problems"][0]["file"] == "坏站点.csv"
    counts = {c["kind"]: c["count"] for c in body["problem_counts"]}
    assert counts["经度：坐标“…”不是数字"] == 500 and sum(counts.values()) == 501
    assert "501 处问题" in body["error"]
    assert len(r.get_data()) < 20_000
    full = client.get(body["problems_csv"])
    assert full.status_code == 200 and full.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(full.get_data().decode("utf-8-sig"))))
    assert len(rows) == 502 and rows[0][:4] == ["文件", "位置", "字段", "问题"]
    assert not any(f.startswith(("=", "+", "-", "@")) for row in rows for f in row)
    assert versions(tiny_workspace) == before


def test_problem_list_links_are_unguessable_and_expire(app):
    client = app.test_client()
    for token in ("0" * 32, "..%2F..%2Fetc%2Fpasswd", "abc"):
        r = client.get(f"/upload/problems/{token}.csv")
        assert r.status_code == 404


def test_upload_page_caps_the_list_with_counts_and_a_csv_link(app, tiny_workspace):
    before = versions(tiny_workspace)
    client = app.test_client()
    r = post(client, "/upload", bad_csv(300), "坏站点.csv", kind="elderly_service_points")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    # identical problems are one row of the table, with the first lines and 等
    assert "共 301 处问题（2 类）" in html and 'id="problem-groups"' in html
    assert html.count("“abc”不是数字") == 1 and "<td>300</td>" in html
    assert "第 " + "、".join(str(n) for n in range(2, 12)) + " 行等（另有 290 处见完整清单）" in html
    assert "第 302 行" in html and "超出中国范围" in html
    link = html.split('id="problems-csv" href="')[1].split('"')[0]
    rows = list(csv.reader(io.StringIO(client.get(link).get_data().decode("utf-8-sig"))))
    assert len(rows) == 302
    assert versions(tiny_workspace) == before


def test_a_zip_bomb_upload_is_refused_unopened_and_stores_nothing(app, tiny_workspace, bomb,
                                                                 monkeypatch):
    from layers import readers

    extracted = []
    real = readers._copy_member
    monkeypatch.setattr(readers, "_copy_member",
                        lambda zf, member, *a: extracted.append(member) or real(zf, member, *a))
    before = versions(tiny_workspace)
    client = app.test_client()
    r = post(client, "/api/layers/welfare_homes", bomb, "福利院.zip")
    assert r.status_code == 400
    body = r.get_json()
    assert "压缩炸弹" in body["problems"][0]["message"]
    assert body["problems"][0]["file"] == "福利院.zip"
    assert extracted == []  # refused from the archive's directory: nothing inflated
    r = post(client, "/upload", bomb, "福利院.zip", kind="welfare_homes")
    assert r.status_code == 400 and "压缩炸弹" in r.get_data(as_text=True)
    assert extracted == [] and versions(tiny_workspace) == before


def test_zip_limits_come_from_the_settings(tiny_workspace):
    data = zeros_zip(1 << 24)  # 16 MB of zeros
    app = make_app({"WORKSPACE": str(tiny_workspace), "ZIP_MAX_UNCOMPRESSED_MB": 8,
                      "ZIP_MAX_RATIO": 5000})
    r = post(app.test_client(), "/api/layers/welfare_homes", data, "a.zip")
    assert r.status_code == 400 and "上限 8 MB" in r.get_json()["problems"][0]["message"]


def test_a_member_outside_the_archive_is_refused(app, tiny_workspace):
    before = versions(tiny_workspace)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in ("a.shp", "a.shx", "a.dbf"):
            zf.writestr(n, b"x" * 100)
        zf.writestr("../../etc/cron.d/x", "x")
    r = post(app.test_client(), "/api/layers/welfare_homes", buf.getvalue(), "a.zip")
    assert r.status_code == 400
    assert "“..”" in r.get_json()["problems"][0]["message"]
    assert versions(tiny_workspace) == before


def test_feature_limit_from_the_settings(tiny_workspace):
    before = versions(tiny_workspace)
    app = make_app({"WORKSPACE": str(tiny_workspace), "IMPORT_MAX_FEATURES": 3})
    rows = "名称,经度,纬度\n" + "".join(f"院{i},103.8,29.8\n" for i in range(4))
    r = post(app.test_client(), "/api/layers/welfare_homes", rows.encode(), "院.csv")
    assert r.status_code == 400
    message = r.get_json()["problems"][0]["message"]
    assert "4 行" in message and "上限 3 行" in message and "IMPORT_MAX_FEATURES" in message
    assert versions(tiny_workspace) == before


@pytest.mark.parametrize(("name", "data"), [
    ("x.zip", None), ("x.geojson", b'{"type": "FeatureCollection", "features": [{"type":'),
    ("x.gpkg", b"SQLite format 3\0" + b"x" * 4000), ("x.xlsx", b"PK\x03\x04broken")],
    ids=["shp", "geojson", "gpkg", "xlsx"])
def test_messages_show_no_server_path(app, name, data):
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n in ("a.shp", "a.shx", "a.dbf"):
                zf.writestr(n, b"garbage" * 30)
        data = buf.getvalue()
    r = post(app.test_client(), "/api/layers/welfare_homes", data, name)
    assert r.status_code == 400
    body = r.get_json()
    text = body["error"] + " ".join(p["text"] for p in body["problems"])
    assert tempfile.gettempdir() not in text and "upload." not in text and "/" not in text
    assert "not recognized" not in text and "sqlite" not in text.lower()
    assert body["problems"][0]["file"] == name


def test_placenames_label_upload_is_capped_too(tiny_workspace):
    app = make_app({"WORKSPACE": str(tiny_workspace), "PROBLEMS_SHOWN": 5})
    client = app.test_client()
    rows = "名称,经度,纬度\n" + "".join(f"村{i},abc,29.8\n" for i in range(40))
    r = post(client, "/api/placenames", rows.encode(), "标注.csv", crs="gcj02")
    assert r.status_code == 400
    body = r.get_json()
    assert body["problem_count"] == 40 and len(body["problems"]) == 5
    assert client.get(body["problems_csv"]).status_code == 200
    r = post(client, "/placenames", rows.encode(), "标注.csv", crs="gcj02")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "仅列出前 5 处" in html and "/upload/problems/" in html
    assert html.count("“abc”不是数字</td>") == 5
