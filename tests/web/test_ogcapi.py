"""OGC API - Features under /ogcapi with the Flask test client (the GDAL client is in
test_ogcapi_gdal.py)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pytest
import shapely
from fixtures import make_app  # create_app with an admin signed in (API token)
from shapely.geometry import box

from layers import open_store

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GK = "http://www.opengis.net/def/crs/EPSG/0/4544"  # Qingshen: CGCS2000 GK CM 105E
BBOX = (103.80, 29.78, 103.90, 29.86)
RESULTS = ["coverage_villages", "boundary_findings", "boundary_lines", "placename_findings"]


@pytest.fixture(scope="module")
def workspace(module_demo_workspace):
    return module_demo_workspace


@pytest.fixture(scope="module")
def client(workspace):
    """One app for the module: the collections (results included) are computed once."""
    return make_app({"WORKSPACE": str(workspace), "API_PAGE_DEFAULT": 20,
                       "API_PAGE_MAX": 100}).test_client()


@pytest.fixture(scope="module")
def villages(workspace) -> gpd.GeoDataFrame:
    return open_store(workspace).read("villages")


def get(client, url, status=200):
    r = client.get(url)
    assert r.status_code == status, (url, r.get_data(as_text=True))
    return r


def rels(doc) -> dict[str, dict]:
    return {link["rel"]: link for link in doc["links"]}


def items(client, query: str, cid: str = "villages", status=200):
    return get(client, f"/ogcapi/collections/{cid}/items?{query}", status)


def codes(body) -> set[str]:
    return {f["properties"]["code"] for f in body["features"]}


# --- landing, conformance, collections ------------------------------------------------

def test_landing_page_links(client):
    doc = get(client, "/ogcapi").get_json()
    links = rels(doc)
    for rel in ("service-desc", "service-doc", "conformance", "data", "self"):
        assert rel in links, rel
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["data"]["href"].endswith("/ogcapi/collections?f=json")
    assert "OGC API" in doc["title"]


def test_conformance_declares_core_geojson_html_openapi_crs(client):
    classes = get(client, "/ogcapi/conformance").get_json()["conformsTo"]
    for c in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
              "ogcapi-features-1/1.0/conf/html", "ogcapi-features-1/1.0/conf/oas30",
              "ogcapi-features-2/1.0/conf/crs"):
        assert any(x.endswith(c) for x in classes), c


def test_collections_have_every_stored_kind_and_the_results(client, workspace):
    doc = get(client, "/ogcapi/collections").get_json()
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(open_store(workspace).current_versions()) | set(RESULTS) == set(by_id)
    v = by_id["villages"]
    assert v["title"] == "村(社区)" and "第 1 版" in v["description"]
    minx, miny, maxx, maxy = v["extent"]["spatial"]["bbox"][0]
    assert 103 < minx < maxx < 105 and 29 < miny < maxy < 31
    assert v["extent"]["spatial"]["crs"] == CRS84
    created = open_store(workspace).current_versions()["villages"].created
    assert v["extent"]["temporal"]["interval"][0][0].startswith(created[:19])
    assert v["crs"] == [CRS84, EPSG4490, GK]
    assert v["storageCrs"] == EPSG4490
    links = {(link["rel"], link["type"]) for link in v["links"]}
    assert ("items", "application/geo+json") in links
    assert ("http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json") \
        in links
    assert "默认参数" in by_id["coverage_villages"]["description"]


def test_one_collection_and_its_queryables(client):
    doc = get(client, "/ogcapi/collections/villages").get_json()
    assert doc["id"] == "villages" and doc["versions"] == [1]
    q = get(client, "/ogcapi/collections/coverage_villages/queryables")
    assert q.mimetype == "application/schema+json"
    props = q.get_json()["properties"]
    assert props["covered"] == {"title": "是否覆盖", "type": "boolean"}
    assert props["nearest_m"]["type"] == "number"
    assert props["township_code"]["type"] == "string"


# --- items ----------------------------------------------------------------------------

def test_items_page_default_limit_and_next_prev_links(client, villages):
    r = items(client, "")
    assert r.mimetype == "application/geo+json"
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    body = r.get_json()
    assert body["numberMatched"] == len(villages) == 58
    assert body["numberReturned"] == 20  # API_PAGE_DEFAULT
    links = rels(body)
    assert "prev" not in links
    seen, url = [], links["next"]["href"]
    seen += [f["id"] for f in body["features"]]
    while url:
        page = get(client, url).get_json()
        seen += [f["id"] for f in page["features"]]
        assert "prev" in rels(page)
        url = rels(page).get("next", {}).get("href")
    assert sorted(seen) == sorted(villages["code"])


def test_limit_and_offset(client):
    body = items(client, "limit=5&offset=55").get_json()
    assert body["numberReturned"] == 3 and "next" not in rels(body)
    prev = parse_qs(urlsplit(rels(body)["prev"]["href"]).query)
    assert prev["offset"] == ["50"] and prev["limit"] == ["5"]
    for bad in ("limit=0", "limit=101", "limit=abc", "offset=-1", "limit=1e3"):
        err = items(client, bad, status=400).get_json()
        assert set(err) == {"code", "description"} and "参数" in err["description"]


def test_feature_ids_are_codes_and_stable(client, villages):
    first = items(client, "limit=3").get_json()["features"]
    assert [f["id"] for f in first] == list(villages["code"][:3])
    one = get(client, f"/ogcapi/collections/villages/items/{first[1]['id']}").get_json()
    assert one["id"] == first[1]["id"] and one["geometry"] == first[1]["geometry"]
    again = items(client, "limit=3").get_json()["features"]
    assert [f["id"] for f in again] == [f["id"] for f in first]
    # without a code: the 1-based position in the version
    points = items(client, "limit=2", "welfare_homes").get_json()["features"]
    assert [f["id"] for f in points] == [1, 2]
    assert get(client, "/ogcapi/collections/welfare_homes/items/2").get_json()["id"] == 2
    err = get(client, "/ogcapi/collections/villages/items/000", 404).get_json()
    assert err["code"] == "NotFound" and "000" in err["description"]


def test_axis_order_follows_each_crs(client, villages):
    """CRS84 lon/lat, EPSG:4490 lat/lon, the GK zone northing/easting (EPSG order)."""
    code = villages["code"].iloc[0]
    stored = villages.geometry.iloc[0]
    url = f"/ogcapi/collections/villages/items/{code}"
    lonlat = get(client, url).get_json()["geometry"]
    assert shapely.equals_exact(shapely.geometry.shape(lonlat), stored, tolerance=0)
    r = get(client, f"{url}?crs={EPSG4490}")
    assert r.headers["Content-Crs"] == f"<{EPSG4490}>"
    latlon = shapely.geometry.shape(r.get_json()["geometry"])
    assert shapely.equals_exact(latlon, shapely.transform(stored, lambda xy: xy[:, ::-1]),
                                tolerance=0)
    x, y = lonlat["coordinates"][0][0]
    assert 103 < x < 105 and 29 < y < 31
    lat, lon = r.get_json()["geometry"]["coordinates"][0][0]
    assert (lat, lon) == (y, x)
    r = get(client, f"{url}?crs=[EPSG:4544]")
    assert r.headers["Content-Crs"] == f"<{GK}>"
    north, east = r.get_json()["geometry"]["coordinates"][0][0]
    assert 3_000_000 < north < 3_500_000 and 300_000 < east < 700_000
    gk = gpd.GeoSeries([stored], crs=4490).to_crs(4544).iloc[0]
    e0, n0 = shapely.get_coordinates(gk)[0]
    assert (north, east) == pytest.approx((n0, e0), abs=1e-6)
    # the collection's items in EPSG:4490 are the same features, swapped
    body = items(client, f"limit=100&crs={EPSG4490}").get_json()
    assert len(body["features"]) == 58


def test_bbox_in_either_crs_finds_what_geopandas_finds(client, villages):
    want = set(villages.loc[villages.intersects(box(*BBOX)), "code"])
    assert 0 < len(want) < 58
    minlon, minlat, maxlon, maxlat = BBOX
    by_crs84 = items(client, "limit=100&bbox=" + ",".join(map(str, BBOX))).get_json()
    assert codes(by_crs84) == want and by_crs84["numberMatched"] == len(want)
    explicit = items(client, f"limit=100&bbox-crs={CRS84}&bbox=" +
                     ",".join(map(str, BBOX))).get_json()
    assert codes(explicit) == want
    by_4490 = items(client, f"limit=100&bbox-crs={EPSG4490}"
                    f"&bbox={minlat},{minlon},{maxlat},{maxlon}").get_json()
    assert codes(by_4490) == want
    # the same box in the GK zone (northing/easting), slightly inside the geographic one
    gk = gpd.GeoSeries([box(*BBOX)], crs=4490).to_crs(4544).iloc[0]
    e0, n0, e1, n1 = gk.bounds
    inner = box(e0 + 200, n0 + 200, e1 - 200, n1 - 200)
    want_gk = set(villages.loc[villages.to_crs(4544).intersects(inner), "code"])
    by_gk = items(client, f"limit=100&bbox-crs={GK}"
                  f"&bbox={n0 + 200},{e0 + 200},{n1 - 200},{e1 - 200}").get_json()
    assert codes(by_gk) == want_gk
    # the bbox swapped by mistake (lon/lat given for EPSG:4490) is out of range: 400
    items(client, f"bbox-crs={EPSG4490}&bbox={minlon},{minlat},{maxlon},{maxlat}", status=400)


@pytest.mark.parametrize("query", [
    "bbox=nan,29,104,30", "bbox=103,29,104", "bbox=104,29,103,30", "bbox=a,b,c,d",
    "bbox=103,29,104,inf", "crs=EPSG:3857", "crs=http://example.com/crs", "bbox-crs=foo",
    "datetime=yesterday", "datetime=2024-13-01", "datetime=../..", "datetime=2025-01-02/2024-01-01",
    "version=0", "version=abc", "f=xml", "foo=1", "population=abc", "covered=maybe",
    "limit=-1",
])
def test_malformed_input_is_a_chinese_400(client, query):
    r = items(client, query, status=400)
    body = r.get_json()
    assert set(body) == {"code", "description"}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["description"])


def test_unknown_parameters_are_refused_everywhere(client):
    for url in ("/ogcapi?x=1", "/ogcapi/conformance?x=1", "/ogcapi/collections?x=1",
                "/ogcapi/collections/villages?x=1", "/ogcapi/collections/villages/items/1?x=1",
                "/ogcapi/openapi?x=1"):
        err = get(client, url, 400).get_json()
        assert "未知的查询参数" in err["description"], url


def test_unknown_collection_is_404(client):
    err = get(client, "/ogcapi/collections/nothing/items", 404).get_json()
    assert err["code"] == "NotFound" and "nothing" in err["description"]
    get(client, "/ogcapi/collections/nothing", 404)


def test_filter_by_field(client, villages):
    town = villages["township_code"].iloc[0]
    body = items(client, f"limit=100&township_code={town}").get_json()
    assert codes(body) == set(villages.loc[villages["township_code"] == town, "code"])
    name = villages["name"].iloc[3]
    assert codes(items(client, f"name={name}").get_json()) == {villages["code"].iloc[3]}
    cov = items(client, "limit=100&covered=false", "coverage_villages").get_json()
    assert cov["numberMatched"] > 0
    assert all(f["properties"]["covered"] is False for f in cov["features"])
    everything = items(client, "limit=100", "coverage_villages").get_json()
    covered = items(client, "limit=100&covered=true", "coverage_villages").get_json()
    assert covered["numberMatched"] + cov["numberMatched"] == everything["numberMatched"]
    pop = int(villages["population"].iloc[0])
    assert villages["code"].iloc[0] in codes(items(client, f"population={pop}").get_json())
    # filters keep their place in the paging links
    page = items(client, f"limit=2&township_code={town}").get_json()
    assert f"township_code={town}" in rels(page)["next"]["href"]


def test_results_carry_what_people_look_at(client):
    cov = items(client, "limit=1", "coverage_villages").get_json()["features"][0]
    assert {"covered", "nearest_m", "access"} <= set(cov["properties"])
    assert cov["id"] == cov["properties"]["code"]
    for cid in ("boundary_findings", "boundary_lines", "placename_findings"):
        body = items(client, "limit=100", cid).get_json()
        assert body["numberMatched"] == len(body["features"]) > 0, cid
        for f in body["features"]:
            assert all(not isinstance(v, (list, dict)) for v in f["properties"].values())
    get(client, "/ogcapi/collections/coverage_villages/items?version=1", 400)


def test_datetime_filters_by_the_version_date(client, workspace):
    # The dates of the demo's villages version (whenever the demo was last built).
    created = dt.datetime.fromisoformat(
        open_store(workspace).current_versions()["villages"].created).astimezone(dt.UTC)
    day, after = created.date(), created.date() + dt.timedelta(days=1)
    assert items(client, f"datetime={day}").get_json()["numberMatched"] == 58
    assert items(client, f"datetime={day.year}-01-01/..").get_json()["numberMatched"] == 58
    until = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert items(client, f"datetime=../{until}").get_json()["numberMatched"] == 58
    assert items(client, "datetime=2020-01-01/2021-01-01").get_json()["numberMatched"] == 0
    assert items(client, f"datetime={after}").get_json()["numberMatched"] == 0


def test_version_n_reads_an_old_layer_version(tiny_workspace):
    store = open_store(tiny_workspace)
    old = store.read("villages")
    changed = old.iloc[:2].copy()
    changed["name"] = ["新甲一村", "新甲二村"]
    store.write("villages", changed, source="test", source_crs="EPSG:4490")
    c = make_app({"WORKSPACE": str(tiny_workspace)}).test_client()
    now = items(c, "").get_json()
    assert now["numberMatched"] == 2
    then = items(c, "version=1").get_json()
    assert then["numberMatched"] == len(old) == 4
    assert "version=1" in rels(then)["self"]["href"]
    assert get(c, "/ogcapi/collections/villages/items/511425102200?version=1").get_json()[
        "properties"]["name"] == "甲一村"
    assert get(c, "/ogcapi/collections/villages/items/511425102200").get_json()[
        "properties"]["name"] == "新甲一村"
    doc = get(c, "/ogcapi/collections/villages?version=1").get_json()
    assert doc["version"] == 1 and doc["versions"] == [1, 2]
    err = get(c, "/ogcapi/collections/villages/items?version=9", 404).get_json()
    assert "第 9 版" in err["description"]


def test_results_follow_a_new_layer_version(tiny_workspace):
    c = make_app({"WORKSPACE": str(tiny_workspace)}).test_client()
    assert items(c, "", "coverage_villages").get_json()["numberMatched"] == 4
    store = open_store(tiny_workspace)
    store.write("villages", store.read("villages").iloc[:3], source="test",
                source_crs="EPSG:4490")
    assert items(c, "", "coverage_villages").get_json()["numberMatched"] == 3


# --- HTML and OpenAPI -----------------------------------------------------------------

def test_html_views_use_local_assets_only(client):
    for url in ("/ogcapi?f=html", "/ogcapi/conformance?f=html", "/ogcapi/collections?f=html",
                "/ogcapi/collections/villages?f=html",
                "/ogcapi/collections/villages/queryables?f=html",
                "/ogcapi/collections/villages/items?f=html&limit=5",
                "/ogcapi/collections/boundary_lines/items/1?f=html",
                "/ogcapi/openapi?f=html"):
        r = get(client, url)
        assert r.mimetype == "text/html", url
        html = r.get_data(as_text=True)
        assert "<html lang=\"zh-CN\">" in html
        for src in ("cdn", "unpkg", "jsdelivr", "googleapis", "https://"):
            assert src not in html, (url, src)
    html = get(client, "/ogcapi/collections/villages/items?f=html&limit=5").get_data(
        as_text=True)
    assert "leaflet" in html.lower() and "符合条件 58 个" in html


def test_a_browser_gets_html_and_gdal_gets_json(client):
    r = client.get("/ogcapi/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.mimetype == "text/html"
    r = client.get("/ogcapi/collections",
                   headers={"Accept": "application/geo+json, application/json"})
    assert r.mimetype == "application/json"
    assert client.get("/ogcapi/collections").mimetype == "application/json"


def test_openapi_document_is_generated_from_the_collections(client):
    r = get(client, "/ogcapi/openapi")
    assert r.content_type.startswith("application/vnd.oai.openapi+json")
    doc = r.get_json()
    assert doc["openapi"].startswith("3.0")
    paths = doc["paths"]
    for cid in ("villages", *RESULTS):
        assert f"/collections/{cid}/items" in paths
        assert f"/collections/{cid}/items/{{featureId}}" in paths
    params = {p["name"]: p for p in paths["/collections/villages/items"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["limit"]["schema"]["default"] == 20
    assert {"bbox", "bbox-crs", "crs", "datetime", "version", "township_code"} <= set(params)
    assert "version" not in {p["name"] for p in
                             paths["/collections/coverage_villages/items"]["get"]["parameters"]}
    html = get(client, "/ogcapi/openapi?f=html").get_data(as_text=True)
    assert "/collections/villages/items" in html and "<script" not in html.split("<body")[1]


def test_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(get(client, "/ogcapi/openapi").get_json())


def test_a_field_named_like_a_parameter_is_not_a_filter(client):
    """place_labels has a field ``crs`` (the provider's CRS): ``crs`` stays the output CRS."""
    props = get(client, "/ogcapi/collections/place_labels/queryables").get_json()["properties"]
    assert "crs" not in props and "source" in props
    r = items(client, f"limit=1&crs={EPSG4490}", "place_labels")
    assert r.headers["Content-Crs"] == f"<{EPSG4490}>"
    assert "crs" in r.get_json()["features"][0]["properties"]


def test_an_unknown_path_under_the_service_is_an_ogc_404(client):
    r = client.get("/ogcapi/no/such/thing")
    assert r.status_code == 404 and r.get_json()["code"] == "NotFound"
