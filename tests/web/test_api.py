"""The JSON API on a real tiny workspace."""

from __future__ import annotations

import io

import pytest

from layers import open_store


@pytest.fixture
def client(tiny_app):
    return tiny_app.test_client()


def test_layers_index_lists_every_kind_with_counts_and_versions(client):
    body = client.get("/api/layers").get_json()
    by_kind = {row["kind"]: row for row in body["layers"]}
    assert by_kind["villages"]["features"] == 4 and by_kind["villages"]["version"] == 1
    assert by_kind["welfare_homes"]["loaded"] is True
    assert by_kind["cemeteries"]["loaded"] is False and by_kind["cemeteries"]["version"] is None
    assert by_kind["villages"]["label"] == "村(社区)"
    assert body["title"] == "测试县"


def test_layer_features_are_geojson_in_lonlat(client):
    r = client.get("/api/layers/villages")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    assert fc["version"] == 1
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert 103 < lon < 104 and 29 < lat < 31
    assert {f["properties"]["name"] for f in fc["features"]} == {"甲一村", "甲二村", "乙一村", "乙二村"}


def test_bbox_filters_features(client, tiny_workspace):
    villages = open_store(tiny_workspace).read("villages").set_index("code")
    # A box strictly inside 甲一村 (column 0, row 0) and away from its neighbours.
    minx, miny, maxx, maxy = villages.loc["511425102200"].geometry.bounds
    w, h = maxx - minx, maxy - miny
    bbox = f"{minx + w * .3},{miny + h * .3},{minx + w * .6},{miny + h * .6}"
    fc = client.get(f"/api/layers/villages?bbox={bbox}").get_json()
    assert [f["properties"]["code"] for f in fc["features"]] == ["511425102200"]


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "104,30,103,29"])
def test_bad_bbox_is_a_chinese_400(client, bbox):
    r = client.get(f"/api/layers/villages?bbox={bbox}")
    assert r.status_code == 400
    assert "bbox" in r.get_json()["error"] and "最小经度" in r.get_json()["error"]


def test_unknown_kind_and_missing_layer(client):
    r = client.get("/api/layers/hospitals")
    assert r.status_code == 400 and "未知的图层类型" in r.get_json()["error"]
    r = client.get("/api/layers/cemeteries")
    assert r.status_code == 404 and "公墓" in r.get_json()["error"]


def test_import_through_api_adds_a_version_and_keeps_the_old(client, tiny_workspace):
    csv = "名称,层级,床位数,经度,纬度\n新站,村级互助养老服务站,8,103.76,29.82\n".encode()
    r = client.post("/api/layers/elderly_service_points",
                    data={"file": (io.BytesIO(csv), "新站.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"]["version"] == 2
    store = open_store(tiny_workspace)
    assert list(store.read("elderly_service_points")["name"]) == ["新站"]
    assert len(store.read("elderly_service_points", version=1)) == 2
    versions = client.get("/api/layers/elderly_service_points/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["current"] for v in versions] == [False, True]


def test_rejected_api_import_lists_problems_and_changes_nothing(client, tiny_workspace):
    before = open_store(tiny_workspace).current_versions()
    csv = "名称,层级,床位数,经度,纬度\n坏站,不存在的层级,x,103.76,29.82\n".encode()
    r = client.post("/api/layers/elderly_service_points",
                    data={"file": (io.BytesIO(csv), "坏.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    problems = r.get_json()["problems"]
    assert {(p["file"], p["row"], p["field"]) for p in problems} == {
        ("坏.csv", 2, "层级"), ("坏.csv", 2, "床位数")}
    assert open_store(tiny_workspace).current_versions() == before


@pytest.mark.parametrize("bbox", ["nan,29,104,30", "103,29,inf,30", "103,-95,104,30",
                                  "1e400,29,104,30", "103,29,103,30"])
def test_non_finite_or_out_of_range_bbox_is_a_400(client, bbox):
    r = client.get(f"/api/layers/villages?bbox={bbox}")
    assert r.status_code == 400 and "bbox" in r.get_json()["error"]


@pytest.mark.parametrize("query", ["version=99999999999999999999", "version=-1", "version=²",
                                   "version=1.5", "limit=0", "limit=abc", "offset=-3",
                                   "limit=99999999"])
def test_malformed_numbers_are_400_never_500(client, query):
    r = client.get(f"/api/layers/villages?{query}")
    assert r.status_code == 400, query
    assert "应为" in r.get_json()["error"]


def test_features_come_in_pages_with_the_total_and_the_next_link(client):
    first = client.get("/api/layers/villages?limit=3").get_json()
    assert (first["numberMatched"], first["numberReturned"], len(first["features"])) == (4, 3, 3)
    nxt = client.get(first["next"]).get_json()
    assert nxt["numberReturned"] == 1 and "next" not in nxt
    codes = [f["properties"]["code"] for f in first["features"] + nxt["features"]]
    assert sorted(codes) == sorted(f["properties"]["code"] for f in
                                   client.get("/api/layers/villages").get_json()["features"])


def test_the_page_size_has_a_default_and_a_maximum(tiny_workspace):
    from fixtures import make_app  # create_app with an admin signed in (API token)

    app = make_app({"WORKSPACE": str(tiny_workspace), "API_PAGE_DEFAULT": 2,
                      "API_PAGE_MAX": 3})
    client = app.test_client()
    body = client.get("/api/layers/villages").get_json()
    assert body["numberReturned"] == 2 and body["limit"] == 2
    assert client.get("/api/layers/villages?limit=4").status_code == 400
