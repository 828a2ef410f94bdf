"""Plans (规划方案) on the web: the JSON API (create, list, each kind of site edit, the base
version conflict, approved plans refusing every change, roles, undo/restore, history,
downloads, the comparison) and the pages (list, a plan's page, the comparison, the plan
selector of the coverage and siting pages), hostile names shown as text.

Runs on the tiny workspace (four villages, tests/fixtures.py), once per store."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import geopandas as gpd
import pytest
from fixtures import PASSWORD, SIDE, X0, Y0, add_account, village_polygon
from openpyxl import load_workbook
from shapely.geometry import Point

from layers import open_store

LAYER = "elderly_service_points"
HOSTILE_PLAN = "<img src=x onerror=alert(1)>{{7*7}}'\"方案"
HOSTILE_SITE = "<script>alert('站')</script>${x}{{7*7}}"


def _lonlat(x: float, y: float) -> tuple[float, float]:
    p = gpd.GeoSeries([Point(x, y)], crs="EPSG:4544").to_crs("EPSG:4490").iloc[0]
    return round(p.x, 7), round(p.y, 7)


# 乙一村's centre (column 1, row 0): 2 km from the nearest service point; a site there
# covers it at a 500 m radius. A second spot in 甲二村 (column 0, row 1).
YI1 = _lonlat(*village_polygon(1, 0).centroid.coords[0])
JIA2 = _lonlat(X0 + 0.5 * SIDE, Y0 + 1.5 * SIDE)


@pytest.fixture
def app(tiny_app):
    return tiny_app


@pytest.fixture
def admin(app):
    return app.test_client()


def _store(app):
    return open_store(app.config["WORKSPACE"])


def _versions(app) -> dict:
    return {k: v.version for k, v in _store(app).current_versions().items()}


def _create(client, name="方案甲", **extra):
    r = client.post("/api/plans", json={"name": name, "layer": LAYER, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _ops(client, name, ops, base=None, status=200):
    body = {"ops": ops} if base is None else {"ops": ops, "base": base}
    r = client.post(f"/api/plans/{name}/sites", json=body)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def _add(client, plan="方案甲", where=YI1, **fields):
    return _ops(client, plan, [{"op": "add", "lon": where[0], "lat": where[1], **fields}])


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --- the API -------------------------------------------------------------------------------

def test_create_list_get_and_refusals(admin, app):
    body = _create(admin, target_year=2030, note="试点")
    assert body["name"] == "方案甲" and body["status"] == "draft" and body["status_label"] == "草稿"
    assert body["layer_label"] == "养老服务设施" and body["target_year"] == 2030
    assert body["sites"] == [] and body["site_count"] == 0 and body["read_only"] is False
    assert set(body["levels"]) == {"township_center", "village_station", "group_point"}
    _add(admin, beds=12)
    listed = admin.get("/api/plans").get_json()
    assert listed["count"] == 1
    row = listed["plans"][0]
    assert {k: row[k] for k in ("name", "layer", "layer_label", "target_year", "status",
                                "status_label", "site_count", "beds")} == {
        "name": "方案甲", "layer": LAYER, "layer_label": "养老服务设施", "target_year": 2030,
        "status": "draft", "status_label": "草稿", "site_count": 1, "beds": 12}
    assert row["updated_by"] == "admin" and row["updated_at"]
    got = admin.get("/api/plans/方案甲").get_json()
    assert got["site_count"] == 1 and got["version"] == _versions(app)["planned_sites"]
    # refusals: Chinese, nothing written
    before = _versions(app), len(_store(app).audit_rows())
    for data, status, words in (
            ({"name": "方案甲", "layer": LAYER}, 409, "已存在"),
            ({"name": "", "layer": LAYER}, 400, "不能为空"),
            ({"name": "现状", "layer": LAYER}, 400, "现状"),
            ({"name": "a/b", "layer": LAYER}, 400, "斜杠"),
            ({"name": "方案丙", "layer": "hospitals"}, 400, "layer"),
            ({"name": "方案丙", "layer": LAYER, "target_year": 1990}, 400, "target_year")):
        r = admin.post("/api/plans", json=data)
        assert r.status_code == status, (data, r.get_json())
        assert words in r.get_json()["error"] and _chinese(r.get_json()["error"])
    assert admin.post("/api/plans", data="[1]", content_type="application/json").status_code == 400
    r = admin.get("/api/plans/没有这个方案")
    assert r.status_code == 404 and "方案甲" in r.get_json()["error"]
    assert (_versions(app), len(_store(app).audit_rows())) == before


def test_every_kind_of_site_edit(admin, app):
    _create(admin)
    first = _add(admin, name="甲站", level="village_station", beds=8)
    assert first["counts"] == {"add": 1, "move": 0, "edit": 0, "remove": 0}
    v1 = first["version"]["version"]
    assert first["plan"]["version"] == v1 and first["version"]["kind"] == "planned_sites"
    (site,) = first["plan"]["sites"]
    assert (site["name"], site["level"], site["level_label"], site["beds"]) == \
        ("甲站", "village_station", "村级互助养老服务站", 8)
    assert (site["lon"], site["lat"]) == pytest.approx(YI1)
    second = _add(admin, where=JIA2)  # no name: numbered
    sid2 = [s for s in second["plan"]["sites"] if s["site_id"] != site["site_id"]][0]["site_id"]
    assert second["plan"]["site_count"] == 2
    moved = _ops(admin, "方案甲", [{"op": "move", "site_id": site["site_id"],
                                   "lon": YI1[0] + 0.001, "lat": YI1[1] + 0.002}],
                 base=second["plan"]["version"])
    s = [x for x in moved["plan"]["sites"] if x["site_id"] == site["site_id"]][0]
    assert (s["lon"], s["lat"]) == pytest.approx((YI1[0] + 0.001, YI1[1] + 0.002))
    edited = _ops(admin, "方案甲", [{"op": "edit", "site_id": site["site_id"], "name": "甲中心",
                                    "level": "乡镇养老服务中心", "beds": "30"}])
    s = [x for x in edited["plan"]["sites"] if x["site_id"] == site["site_id"]][0]
    assert (s["name"], s["level"], s["beds"]) == ("甲中心", "township_center", 30)
    assert edited["plan"]["beds"] == 30
    removed = _ops(admin, "方案甲", [{"op": "remove", "site_id": sid2}])
    assert [x["site_id"] for x in removed["plan"]["sites"]] == [site["site_id"]]
    assert removed["version"]["version"] == v1 + 4
    # all or nothing: one bad item refuses the list, naming it
    before = _versions(app)
    r = admin.post("/api/plans/方案甲/sites", json={"ops": [
        {"op": "add", "lon": JIA2[0], "lat": JIA2[1]}, {"op": "move", "site_id": 999,
                                                       "lon": 1, "lat": 2}]})
    assert r.status_code == 400 and "第 2 项" in r.get_json()["error"]
    for body in ({"ops": []}, {"ops": [{"op": "fly"}]}, {"ops": "add"}):
        r = admin.post("/api/plans/方案甲/sites", json=body)
        assert r.status_code == 400 and _chinese(r.get_json()["error"])
    assert _versions(app) == before


def test_a_stale_base_is_a_409_and_nothing_is_written(admin, app, tiny_workspace):
    plan = _create(admin)
    seen = _add(admin)["plan"]
    sid = seen["sites"][0]["site_id"]
    other = app.test_client(token=add_account(app, "规划员乙", "planner"))
    _ops(other, "方案甲", [{"op": "move", "site_id": sid, "lon": YI1[0] + 0.003,
                           "lat": YI1[1]}], base=seen["version"])
    before = _versions(app), len(_store(app).audit_rows())
    r = admin.post("/api/plans/方案甲/sites", json={
        "ops": [{"op": "edit", "site_id": sid, "name": "旧页面的修改"}], "base": seen["version"]})
    assert r.status_code == 409 and r.get_json()["status"] == 409
    assert "已被修改" in r.get_json()["error"] and "刷新" in r.get_json()["error"]
    assert (_versions(app), len(_store(app).audit_rows())) == before
    # another plan's change meanwhile is no conflict
    _create(admin, "方案乙")
    _add(admin, "方案乙", where=JIA2)
    now = admin.get("/api/plans/方案甲").get_json()
    _ops(admin, "方案甲", [{"op": "edit", "site_id": sid, "name": "新名称"}],
         base=now["version"] - 1)
    assert plan["name"] == "方案甲"


def test_an_approved_plan_refuses_every_change(admin, app):
    _create(admin)
    sid = _add(admin)["plan"]["sites"][0]["site_id"]
    planner = app.test_client(token=add_account(app, "规划员", "planner"))
    r = planner.post("/api/plans/方案甲", json={"status": "approved"})
    assert r.status_code == 403 and "管理员" in r.get_json()["error"]
    assert planner.post("/api/plans/方案甲", json={"status": "已提交"}).get_json()["status"] == \
        "submitted"
    approved = admin.post("/api/plans/方案甲", json={"status": "approved"}).get_json()
    assert approved["read_only"] is True and approved["status_label"] == "已批准"
    before = _versions(app), len(_store(app).audit_rows())
    calls = [
        ("/api/plans/方案甲/sites", {"ops": [{"op": "move", "site_id": sid, "lon": YI1[0],
                                              "lat": YI1[1] + 0.01}]}),
        ("/api/plans/方案甲/sites", {"ops": [{"op": "add", "lon": JIA2[0], "lat": JIA2[1]}]}),
        ("/api/plans/方案甲/sites", {"ops": [{"op": "remove", "site_id": sid}]}),
        ("/api/plans/方案甲/undo", {}),
        ("/api/plans/方案甲/restore", {"version": 1}),
        ("/api/plans/方案甲", {"note": "改备注"}),
        ("/api/plans/方案甲", {"target_year": 2031}),
    ]
    for client in (admin, planner):
        for url, body in calls:
            r = client.post(url, json=body)
            assert r.status_code == 409, (url, r.get_json())
            assert "已批准" in r.get_json()["error"] and "只读" in r.get_json()["error"]
    r = planner.post("/api/plans/方案甲", json={"status": "draft"})
    assert r.status_code == 409 and "管理员" in r.get_json()["error"]
    assert (_versions(app), len(_store(app).audit_rows())) == before  # nothing written
    # the page: the map and the tables, no editing controls
    page = admin.get("/plans/方案甲").get_data(as_text=True)
    assert "已批准，只读" in page and 'id="add-mode"' not in page and 'id="undo"' not in page
    assert 'id="sites-table"' in page and 'id="status-form"' in page  # an admin may reopen
    reopened = admin.post("/api/plans/方案甲", json={"status": "submitted"}).get_json()
    assert reopened["read_only"] is False
    _ops(admin, "方案甲", [{"op": "remove", "site_id": sid}])


def test_roles(app):
    admin = app.test_client()
    _create(admin)
    sid = _add(admin)["plan"]["sites"][0]["site_id"]
    viewer = app.test_client(token=add_account(app, "只读者", "viewer"))
    anonymous = app.test_client(token=None)
    before = _versions(app), len(_store(app).audit_rows())
    for url, body in (("/api/plans", {"name": "方案丁", "layer": LAYER}),
                      ("/api/plans/方案甲", {"note": "x"}),
                      ("/api/plans/方案甲/sites", {"ops": [{"op": "remove", "site_id": sid}]}),
                      ("/api/plans/方案甲/undo", {}),
                      ("/api/plans/方案甲/restore", {"version": 1})):
        r = viewer.post(url, json=body)
        assert r.status_code == 403, url
        assert "规划人员" in r.get_json()["error"] and "只读" in r.get_json()["error"]
        assert anonymous.post(url, json=body).status_code == 401
    assert viewer.get("/api/plans/方案甲/history").status_code == 403
    assert (_versions(app), len(_store(app).audit_rows())) == before
    # viewers read plans and see the page without editing controls
    assert viewer.get("/api/plans/方案甲").status_code == 200
    page = viewer.get("/plans/方案甲").get_data(as_text=True)
    assert 'id="add-mode"' not in page and 'id="status-form"' not in page
    assert 'id="history-table"' not in page and "规划人员" in page
    assert 'id="create-form"' not in viewer.get("/plans").get_data(as_text=True)
    planner = app.test_client(token=add_account(app, "规划员", "planner"))
    assert planner.post("/api/plans/方案甲/sites", json={
        "ops": [{"op": "edit", "site_id": sid, "beds": 5}]}).status_code == 200
    page = planner.get("/plans/方案甲").get_data(as_text=True)
    assert 'id="add-mode"' in page and 'id="undo"' in page and 'id="history-table"' in page


def test_undo_restore_and_history(admin, app):
    _create(admin)
    v_add = _add(admin, name="一号")["version"]["version"]
    sid = admin.get("/api/plans/方案甲").get_json()["sites"][0]["site_id"]
    _ops(admin, "方案甲", [{"op": "edit", "site_id": sid, "name": "二号"}])
    _ops(admin, "方案甲", [{"op": "edit", "site_id": sid, "name": "三号"}])
    undone = admin.post("/api/plans/方案甲/undo", json={}).get_json()
    assert [s["name"] for s in undone["plan"]["sites"]] == ["二号"]
    restored = admin.post("/api/plans/方案甲/restore", json={"version": v_add}).get_json()
    assert [s["name"] for s in restored["plan"]["sites"]] == ["一号"]
    assert restored["version"]["version"] == v_add + 4
    r = admin.post("/api/plans/方案甲/restore", json={"version": 999})
    assert r.status_code == 404 and _chinese(r.get_json()["error"])
    r = admin.post("/api/plans/方案甲/restore", json={})
    assert r.status_code == 400 and "version" in r.get_json()["error"]
    hist = admin.get("/api/plans/方案甲/history").get_json()
    assert hist["plan"] == "方案甲" and hist["count"] == len(hist["rows"]) == 6
    rows = hist["rows"]  # newest first
    assert [r["action"] for r in rows] == ["plan_restore", "plan_restore", "plan_edit",
                                           "plan_edit", "plan_edit", "plan_create"]
    assert rows[0]["action_label"] == "恢复方案站点" and rows[-1]["action_label"] == "新建规划方案"
    assert rows[0]["version_after"] == v_add + 4 and rows[0]["version_before"] == v_add + 3
    assert all(r["user"] == "admin" and r["time"] for r in rows)
    page = admin.get("/plans/方案甲").get_data(as_text=True)
    assert page.count("恢复到此版本") == 4  # every change but the current one
    # undo back past the first change: nothing before it
    second = _create(admin, "方案乙")
    assert second["version"] == v_add + 4
    r = admin.post("/api/plans/方案乙/undo", json={})
    assert r.status_code == 400 and "撤销" in r.get_json()["error"]


def test_geojson_and_xlsx_downloads(admin):
    _create(admin, target_year=2030)
    _add(admin, name="甲站", level="village_station", beds=8)
    r = admin.get("/api/plans/方案甲/sites.geojson")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    gj = r.get_json()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 1
    f = gj["features"][0]
    assert f["geometry"]["coordinates"] == pytest.approx(list(YI1))
    assert f["properties"]["name"] == "甲站" and f["properties"]["plan"] == "方案甲"
    r = admin.get("/plans/方案甲/sites.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    cd = r.headers["Content-Disposition"]
    assert cd.startswith('attachment; filename="plan_sites.xlsx"; filename*=UTF-8\'\'')
    assert unquote(cd.split("''", 1)[1]) == "规划方案_方案甲_站点.xlsx"
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["规划方案", "站点"]
    values = [c.value for row in wb["站点"].iter_rows() for c in row]
    assert "甲站" in values and "村级互助养老服务站" in values
    assert admin.get("/plans/没有/sites.xlsx").status_code == 404


def _summary(body: dict) -> dict:
    return body["summary"]


def test_compare_is_two_coverage_runs_and_the_route_is_not_captured(admin, app):
    _create(admin, target_year=2030)
    _create(admin, "方案乙", target_year=2030)
    _add(admin, "方案甲", where=YI1, beds=10)
    _add(admin, "方案乙", where=JIA2, beds=20)
    q = f"layer={LAYER}&radius=500&year=2030"
    cmp = admin.get("/api/plans/compare?a=方案甲&b=方案乙&radius=500&year=2030").get_json()
    for side, name in (("a", "方案甲"), ("b", "方案乙")):
        alone = admin.get(f"/api/coverage?{q}&plan={name}").get_json()
        assert cmp[side]["summary"] == _summary(alone), side
        assert cmp[side]["summary"]["inputs"]["plan"]["name"] == name
    assert set(cmp) == {"a", "b", "diff", "measures", "townships", "newly_covered",
                        "no_longer_covered", "parameters", "cost", "unit"}
    assert cmp["cost"] == cmp["a"]["summary"]["cost"] and cmp["unit"] == "m"
    assert cmp["parameters"]["radius"] == 500 and cmp["parameters"]["year_from"] == "given"
    assert cmp["measures"]["village_coverage"]["label"] == "村覆盖率"
    # no year: the plans' target year, said where it came from
    cmp2 = admin.get("/api/plans/compare?a=方案甲&b=方案乙&radius=500").get_json()
    assert cmp2["parameters"]["year"] == 2030 and cmp2["parameters"]["year_from"] == "plans"
    # /api/plans/compare is the comparison, never a plan called "compare"
    r = admin.get("/api/plans/compare")
    assert r.status_code == 400 and "参数 a、b" in r.get_json()["error"]
    r = admin.get("/api/plans/compare?a=方案甲&b=没有")
    assert r.status_code == 404 and "没有名为" in r.get_json()["error"]
    for url in ("/plans/compare", "/plans/compare?a=方案甲&b=方案乙&radius=500"):
        assert admin.get(url).status_code == 200, url


def test_compare_with_today_page_and_workbook(admin):
    _create(admin)
    _add(admin, where=YI1, beds=10)
    cmp = admin.get("/api/plans/compare?a=现状&b=方案甲&radius=500").get_json()
    assert cmp["a"]["name"] == "现状" and cmp["a"]["plan"] is None and cmp["a"]["sites"] == []
    assert cmp["a"]["county"]["plan_sites"] == 0 and cmp["b"]["county"]["plan_sites"] == 1
    assert [v["name"] for v in cmp["newly_covered"]] == ["乙一村"]
    assert cmp["no_longer_covered"] == []
    assert cmp["diff"]["covered_villages"] == 1
    assert cmp["parameters"]["year_from"] == "current"
    today = admin.get("/api/plans/compare?a=today&b=方案甲&radius=500").get_json()
    assert today["a"]["name"] == "现状"
    page = admin.get("/plans/compare?a=现状&b=方案甲&radius=500").get_data(as_text=True)
    for part in ('id="county-table"', 'id="township-table"', 'id="newly-covered"',
                 'id="no-longer-covered"', 'id="parameters-table"', "乙一村", "500 米",
                 "compareMaps", "/plans/compare.xlsx?", "gs-better"):
        assert part in page, part
    row = re.search(r'<tr data-key="covered_villages">(.*?)</tr>', page, re.S).group(1)
    assert 'class="gs-better"' in row and "+1" in row
    assert page.count('class="folium-map"') == 2
    assert page.count('src="/assets/leaflet/leaflet.js"') == 1  # loaded once for both maps
    r = admin.get("/plans/compare.xlsx?a=现状&b=方案甲&radius=500")
    assert r.status_code == 200 and 'filename="plans_compare.xlsx"' in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames[0] == "对比汇总"
    # a bad comparison is shown beside the form
    r = admin.get("/plans/compare?a=现状&b=没有")
    assert r.status_code == 404 and 'id="compare-error"' in r.get_data(as_text=True)


def test_pages_list_create_and_plan(admin, app):
    page = admin.get("/plans").get_data(as_text=True)
    assert "尚无规划方案" in page and 'id="create-form"' in page and 'id="compare-form"' in page
    assert 'href="/plans">规划方案</a>' in admin.get("/").get_data(as_text=True)  # the menu
    r = admin.post("/plans", data={"name": "方案甲", "layer": LAYER, "target_year": "2030",
                                   "note": ""})
    assert r.status_code == 303 and r.headers["Location"].startswith(
        "/plans/%E6%96%B9%E6%A1%88%E7%94%B2")
    r = admin.post("/plans", data={"name": "方案甲", "layer": LAYER})
    assert r.status_code == 409 and "已存在" in r.get_data(as_text=True)
    _add(admin, name="甲站", beds=6)
    page = admin.get("/plans").get_data(as_text=True)
    assert "方案甲" in page and "草稿" in page and "养老服务设施" in page
    page = admin.get("/plans/方案甲?created=1").get_data(as_text=True)
    for part in ('id="plan-config"', 'id="add-mode"', 'id="undo"', 'id="status-form"',
                 'id="history-table"', "甲站", "/plans/%E6%96%B9%E6%A1%88%E7%94%B2/sites.xlsx",
                 "sites.geojson", "按此方案计算覆盖", "在此方案基础上选址", "plans.js",
                 "plan=%E6%96%B9%E6%A1%88%E7%94%B2", 'id="created-note"'):
        assert part in page, part
    assert admin.get("/plans/没有这个方案").status_code == 404


def test_coverage_and_siting_pages_take_a_plan(admin):
    _create(admin, target_year=2030)
    _add(admin, where=YI1, beds=10)
    page = admin.get(f"/coverage?layer={LAYER}&radius=500&plan=方案甲").get_data(as_text=True)
    assert re.search(r'<option value="方案甲" data-layer="elderly_service_points" selected', page)
    line = re.search(r'id="plan-line">(.*?)</p>', page, re.S).group(1)
    assert "含规划方案“" in line and "1 处站点（计入 1 处），规划新增设施第 1 版" in line
    assert "plan=%E6%96%B9%E6%A1%88%E7%94%B2" in page  # the downloads keep the plan
    assert "不含方案（现状）" in admin.get("/coverage").get_data(as_text=True)
    page = admin.get(f"/siting?layer={LAYER}&plan=方案甲").get_data(as_text=True)
    assert re.search(r'<option value="方案甲" data-layer="elderly_service_points" selected', page)


def test_hostile_names_are_text_on_every_page(admin):
    created = _create(admin, HOSTILE_PLAN)
    assert created["name"] == HOSTILE_PLAN
    _add(admin, HOSTILE_PLAN, name=HOSTILE_SITE, beds=3)
    pages = ["/plans", f"/plans/{HOSTILE_PLAN}", f"/plans/compare?a=现状&b={HOSTILE_PLAN}",
             f"/coverage?plan={HOSTILE_PLAN}", f"/siting?plan={HOSTILE_PLAN}"]
    for url in pages:
        r = admin.get(url)
        assert r.status_code == 200, url
        html = r.get_data(as_text=True)
        assert "<img src=x" not in html and "<script>alert" not in html, url
        assert "{{7*7}}" in html, url  # shown as written, never evaluated
        assert "&lt;img src=x onerror=alert(1)&gt;" in html or "\\u003cimg" in html, url
    html = admin.get(f"/plans/{HOSTILE_PLAN}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;站&#39;)&lt;/script&gt;" in html  # the sites table
    assert "\\u003cscript\\u003e" in html  # the page script's data (JSON in the page)
    r = admin.get(f"/plans/{HOSTILE_PLAN}/sites.xlsx")
    assert r.status_code == 200 and '"' not in r.headers["Content-Disposition"].split("filename*")[1]


def test_session_posts_need_the_csrf_token(app):
    add_account(app, "周九", "planner")
    c = app.test_client(token=None)
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post("/login", data={"username": "周九", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    before = _versions(app)
    r = c.post("/api/plans", json={"name": "方案甲", "layer": LAYER})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    assert _versions(app) == before and admin_list(app) == []
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      c.get("/plans").get_data(as_text=True)).group(1)
    r = c.post("/api/plans", json={"name": "方案甲", "layer": LAYER},
               headers={"X-CSRFToken": token})
    assert r.status_code == 201 and r.get_json()["created_by"] == "周九"


def admin_list(app) -> list:
    return app.test_client().get("/api/plans").get_json()["plans"]


def test_the_coverage_map_draws_plan_sites_apart(tiny_workspace_master):
    """Facilities with a ``plan_site_id`` (an analysis "with a plan") are their own layer."""
    import pandas as pd

    from geoservice.services.coverage import coverage_params, run_coverage
    from maps import coverage_map, map_parts

    result = run_coverage(open_store(tiny_workspace_master), coverage_params(LAYER))
    plain = str(map_parts(coverage_map(result.villages, result.facilities, result.summary,
                                       title="t")).script)
    assert '"plan_sites"' not in plain
    fac = result.facilities.copy()
    fac["plan_site_id"] = pd.array([None] * (len(fac) - 1) + [7], dtype="Int64")
    fac.loc[fac.index[-1], "name"] = HOSTILE_SITE
    script = str(map_parts(coverage_map(result.villages, fac, result.summary,
                                        title="t")).script)
    assert '"plan_sites"' in script and script.count("#6a3d9a") > plain.count("#6a3d9a")
    assert "<script>alert" not in script and "&lt;script&gt;" in script


def test_compare_page_draws_heavy_villages_from_the_endpoint(demo_workspace):
    """A province-size village layer: both maps of the comparison draw every village from
    the geometry endpoint, each side's result joined by code (no polygons in the page)."""
    from fixtures import make_app

    from geoservice.services import plans as plan_svc
    from geoservice.services.accounts import cli_actor
    from layers import open_store

    store = open_store(demo_workspace)
    plan_svc.create_plan(store, cli_actor(), "大方案", "elderly_service_points")
    plan_svc.edit_sites(store, cli_actor(), "大方案", [
        {"op": "add", "lon": 103.85, "lat": 29.85, "name": "新站", "beds": "20"}])
    app = make_app({"WORKSPACE": str(demo_workspace), "MAP_GEOMETRY_MIN_VERTICES": 1000})
    html = app.test_client().get("/plans/compare?a=现状&b=大方案").get_data(as_text=True)
    assert html.count("L.geoserviceBulk(") == 2
    assert "/api/layers/villages/geometry?version=" in html
    for call in html.split("L.geoserviceBulk(")[1:]:
        assert '"coordinates"' not in call.split("\n")[0]
    villages = store.read("villages")
    for code in villages["code"]:
        assert html.count(f'["{code}",') == 2
