"""GET /api/search: every named feature of the workspace's current layers by name, code,
full pinyin or pinyin initials, ranked (geoservice/services/search.py, web/search.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from fixtures import make_app

from layers import open_store

HOSTILE = '</script><img src=x onerror="alert(1)">${x}{{7*7}}&amp;`'


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def search(client, q, **args):
    r = client.get("/api/search", query_string={"q": q, **args})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"]


def test_ranking_exact_prefix_initials_substring(client):
    got = search(client, "汉阳")
    names = [(r["name"], r["kind"]) for r in got]
    assert names[0] == ("汉阳镇", "townships")  # the name starts with it, shortest first
    assert all("汉阳" in n for n, _ in names)
    assert search(client, "汉阳镇")[0]["name"] == "汉阳镇"  # exact first
    first = got[0]
    assert first["kind_label"] == "乡镇(街道)" and first["layer"] == "townships"
    assert first["code"] == "511425102" and first["initials"] == "hyz"
    assert 103 < first["lon"] < 104.2 and 29.6 < first["lat"] < 30.1
    # initials: "hy" finds 汉阳镇 first (initials prefix before substring matches)
    hy = search(client, "HY")  # case-insensitive
    assert hy[0]["name"] == "汉阳镇"
    ranks = [0 if r["initials"].startswith("hy") else 1 for r in hy]
    assert ranks == sorted(ranks)
    # full pinyin, facilities too
    assert [r["kind"] for r in search(client, "fuliyuan")] == ["welfare_homes"]


def test_codes_and_limit(client, module_demo_workspace):
    villages = open_store(module_demo_workspace).read("villages")
    code = villages["code"].iloc[5]
    got = search(client, code)
    assert got[0]["code"] == code and got[0]["name"] == villages["name"].iloc[5]
    assert got[0]["index"] == 5
    prefix = search(client, code[:9], limit=100)  # a township's code and its villages'
    assert len(prefix) > 5 and all(r["code"].startswith(code[:9]) for r in prefix)
    assert prefix[0]["kind"] == "townships"  # the exact code first
    assert len(search(client, code[:9], limit=3)) == 3
    for bad in ("0", "201", "x"):
        r = client.get("/api/search", query_string={"q": "hy", "limit": bad})
        assert r.status_code == 400 and "limit" in r.get_json()["error"]
    r = client.get("/api/search?q=%20")
    assert r.status_code == 400 and "搜索内容" in r.get_json()["error"]
    assert search(client, "没有这样的名字") == []


def test_read_access(module_demo_workspace, client):
    closed = make_app({"WORKSPACE": str(module_demo_workspace), "ANONYMOUS_READ": 0})
    r = closed.test_client(token=None).get("/api/search?q=hy")
    assert r.status_code == 401 and "登录" in r.get_json()["error"]
    assert closed.test_client().get("/api/search?q=hy").status_code == 200  # signed in


def test_new_version_and_hostile_names(app, client, module_demo_workspace):
    assert search(client, "zzxx") == []
    store = open_store(module_demo_workspace)
    gdf = gpd.GeoDataFrame({"name": ["中正新兴养老院", HOSTILE], "level": "town_center",
                            "beds": 5},
                           geometry=shapely.points([103.8, 103.81], [29.8, 29.81]), crs=4490)
    store.write("elderly_service_points", gdf, source="test", source_crs="EPSG:4490")
    got = search(client, "zzxx")  # the index of the new version, not the cached old one
    assert [(r["name"], r["kind"], r["lon"], r["lat"]) for r in got] == \
        [("中正新兴养老院", "elderly_service_points", 103.8, 29.8)]
    assert [k for k in app.extensions["geoservice_search"]
            if k[0] == "elderly_service_points"] == [
                ("elderly_service_points", store.current_versions()["elderly_service_points"].version)]
    r = client.get("/api/search", query_string={"q": "onerror"})
    assert r.mimetype == "application/json"
    body = json.loads(r.data)
    assert body["results"][0]["name"] == HOSTILE  # the name as stored, a JSON string
    assert r.headers["Content-Type"].startswith("application/json")  # never HTML
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
