"""Pages rendered by the app: home map, upload form, errors; offline and escaped."""

from __future__ import annotations

import io
import json
import re

import geopandas as gpd
from fixtures import make_app  # create_app with an admin signed in (API token)
from shapely.geometry import box

from layers import open_store
from maps.assets import external_links


def test_home_page_embeds_map_without_iframe_or_cdn(tiny_app):
    html = tiny_app.test_client().get("/").get_data(as_text=True)
    assert "<iframe" not in html
    assert 'class="folium-map"' in html
    assert external_links(html) == []
    assert not re.search(r"https?://(cdn|unpkg|code\.jquery|cdnjs|netdna)", html)
    for kind_label in ("村(社区)", "乡镇(街道)", "福利院/特困供养机构", "养老服务设施"):
        assert kind_label in html
    assert "/assets/leaflet/leaflet.js" in html


def test_assets_are_served_with_cache_headers(tiny_app):
    client = tiny_app.test_client()
    for url in ("/assets/leaflet/leaflet.js", "/assets/leaflet/leaflet.css",
                "/assets/jquery/jquery.min.js", "/assets/leaflet/images/layers.png",
                "/assets/geoservice/map.css"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "max-age=86400" in r.headers["Cache-Control"]
    assert client.get("/assets/leaflet/../../../../etc/passwd").status_code == 404
    assert client.get("/assets/nothing/x.js").status_code == 404


def test_basemap_is_a_setting(tiny_workspace):
    app = make_app({"WORKSPACE": str(tiny_workspace),
                      "BASEMAP_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png",
                      "BASEMAP_ATTRIBUTION": "内网底图"})
    html = app.test_client().get("/").get_data(as_text=True)
    assert "127.0.0.1:9/tiles/{z}/{x}/{y}.png" in html and json.dumps("内网底图") in html
    plain = make_app({"WORKSPACE": str(tiny_workspace)}).test_client().get("/")
    assert "L.tileLayer" not in plain.get_data(as_text=True)


def test_text_from_data_is_escaped(tiny_workspace, tmp_path):
    evil = '<img src=x onerror="alert(1)">'
    gdf = gpd.GeoDataFrame(
        {"code": ["511425102"], "name": [evil]},
        geometry=[box(103.7, 29.8, 103.72, 29.82)], crs="EPSG:4490")
    path = tmp_path / "t.geojson"
    gdf.to_file(path, driver="GeoJSON")
    from layers import import_file

    import_file(open_store(tiny_workspace), "townships", path)
    html = make_app({"WORKSPACE": str(tiny_workspace)}).test_client().get("/")
    text = html.get_data(as_text=True)
    assert evil not in text
    assert "<img src=x" not in text
    assert "&amp;lt;img" in text or "\\u0026lt;img" in text or "&lt;img" in text


def test_upload_page_imports_and_reports_problems(tiny_app, tiny_workspace):
    client = tiny_app.test_client()
    page = client.get("/upload").get_data(as_text=True)
    assert "导入图层" in page and "gcj02" in page

    good = "名称,性质,设计墓穴数,已用墓穴数,经度,纬度\n青山公墓,公益性,500,120,103.75,29.83\n"
    r = client.post("/upload", data={"kind": "cemeteries", "crs": "",
                                     "file": (io.BytesIO(good.encode("gbk")), "公墓.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    assert "已导入“公墓”：第 1 版，共 1 个要素" in r.get_data(as_text=True)
    assert open_store(tiny_workspace).read("cemeteries")["kind"].tolist() == ["public_welfare"]

    bad = "名称,性质,经度,纬度\n<b>坏</b>,公益性,29.83,103.75\n"
    r = client.post("/upload", data={"kind": "cemeteries", "crs": "",
                                     "file": (io.BytesIO(bad.encode()), "bad.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert "导入被拒绝" in text and "颠倒" in text and "bad.csv" in text
    assert open_store(tiny_workspace).current_versions()["cemeteries"].version == 1


def test_upload_without_file_or_with_bad_extension(tiny_app):
    client = tiny_app.test_client()
    r = client.post("/upload", data={"kind": "villages"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "请选择要导入的文件" in r.get_data(as_text=True)
    r = client.post("/upload", data={"kind": "villages",
                                     "file": (io.BytesIO(b"x"), "a.docx")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "不支持的文件格式" in r.get_data(as_text=True)


def test_unknown_page_is_chinese_404(tiny_app):
    r = tiny_app.test_client().get("/nowhere")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)


def test_a_bad_parameter_on_a_page_offers_the_way_back(demo_app):
    # Pages with a form keep it: the error beside the form, the map drawn with defaults.
    for url, form in (("/coverage?radius=abc", "coverage-form"),
                      ("/boundaries?area=abc", "boundaries-form")):
        r = demo_app.test_client().get(url)
        text = r.get_data(as_text=True)
        assert r.status_code == 400, url
        assert 'id="param-error"' in text and "不是数字" in text and f'id="{form}"' in text
        assert "leaflet" in text.lower()
    # Elsewhere the error page offers the way back.
    r = demo_app.test_client().post("/boundaries/merge", data={"codes": "511425102201"})
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="go-back"' in text and "返回上一页修改参数" in text
    missing = demo_app.test_client().get("/no-such-page").get_data(as_text=True)
    assert 'id="go-back"' not in missing
