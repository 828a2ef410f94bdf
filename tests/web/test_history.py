"""版本历史 and 操作记录: the diff against an independent computation, restore (allowed,
refused, audited), the history and version-map pages, /audit with filters, XLSX, /api/audit."""

from __future__ import annotations

import io

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely.affinity import translate
from shapely.geometry import Point, box

from geoservice import create_app
from geoservice.services import accounts
from geoservice.services.layers import import_layer
from layers import open_store

GK = "EPSG:4544"  # the tiny workspace lies in this zone (tests/fixtures.py)


@pytest.fixture
def setup(tiny_workspace):
    """The tiny workspace with three accounts and their API tokens, and the app."""
    store = open_store(tiny_workspace)
    tokens = {}
    for name, role in (("管理员甲", "admin"), ("界线乙", "boundary"), ("规划丙", "planner")):
        accounts.add_user(store, name, role, "password-123")
        tokens[role] = accounts.new_token(store, name)
    app = create_app({"WORKSPACE": str(tiny_workspace)})
    return app, store, tokens


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _gk(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.to_crs(GK)


def _edited_villages(store):
    """Version 1 of villages edited in known ways, written as version 2 by 界线乙."""
    old = _gk(store.read("villages", version=1))
    new = old.copy()
    codes = list(old["code"])
    removed = codes[0]
    changed = codes[1]
    moved = codes[2]
    nudged = codes[3]  # moved by less than the tolerance: not reported
    new = new[new["code"] != removed].copy()
    new.loc[new["code"] == changed, "population"] = 4321
    new.loc[new["code"] == moved, "geometry"] = new.loc[new["code"] == moved, "geometry"].map(
        lambda g: translate(g, 30.0, 40.0))  # 50 m
    new.loc[new["code"] == nudged, "geometry"] = new.loc[new["code"] == nudged, "geometry"].map(
        lambda g: translate(g, 0.3, 0.4))  # 0.5 m
    added = gpd.GeoDataFrame(
        {"code": ["511425108299"], "name": ["新增村"], "township_code": ["511425108"],
         "population": [100], "elderly_population": [20]},
        geometry=[box(390_000, 3_300_000, 391_000, 3_301_000)], crs=GK)
    new = gpd.GeoDataFrame(
        pd.concat([new, added], ignore_index=True), crs=GK)
    store.write("villages", new.to_crs("EPSG:4490"), source="edited.geojson",
                source_crs="EPSG:4490", user="界线乙")
    return old, new, {"removed": removed, "changed": changed, "moved": moved, "nudged": nudged,
                      "added": "511425108299"}


def _expected(old, new, tolerance):
    """The diff computed independently: by code, Hausdorff distance in EPSG:4544."""
    o = old.set_index("code")
    n = new.set_index("code")
    added = sorted(set(n.index) - set(o.index))
    removed = sorted(set(o.index) - set(n.index))
    changed, moved = {}, {}
    for code in sorted(set(o.index) & set(n.index)):
        fields = [f for f in ("name", "township_code", "population", "elderly_population")
                  if str(o.at[code, f]) != str(n.at[code, f])]
        if fields:
            changed[code] = fields
        d = o.at[code, "geometry"].hausdorff_distance(n.at[code, "geometry"])
        if d > tolerance:
            moved[code] = d
    return added, removed, changed, moved


def test_diff_by_code_matches_an_independent_computation(setup):
    app, store, tokens = setup
    old, new, edits = _edited_villages(store)
    client = app.test_client()
    r = client.get("/api/layers/villages/versions/1/diff", headers=auth(tokens["planner"]))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    added, removed, changed, moved = _expected(old, new, 1.0)
    assert body["match"] == "code" and body["version"] == 1 and body["current"] == 2
    assert sorted(f["key"] for f in body["added"]) == added == [edits["added"]]
    assert sorted(f["key"] for f in body["removed"]) == removed == [edits["removed"]]
    got_changed = {c["key"]: [f["field"] for f in c["fields"]] for c in body["changed"]}
    assert got_changed == changed == {edits["changed"]: ["population"]}
    change = body["changed"][0]["fields"][0]
    assert change["label"] == "户籍人口"  # the field's Chinese label
    assert change["new"] == 4321 and change["old"] != 4321
    got_moved = {m["key"]: m["moved_m"] for m in body["moved"]}
    assert set(got_moved) == set(moved) == {edits["moved"]}
    assert got_moved[edits["moved"]] == pytest.approx(moved[edits["moved"]], abs=0.05)
    assert got_moved[edits["moved"]] == pytest.approx(50.0, abs=0.1)
    assert body["counts"] == {"added": 1, "removed": 1, "changed": 1, "moved": 1,
                              "unchanged": 1}
    # a tolerance below the nudge reports it too; the parameter is checked
    r = client.get("/api/layers/villages/versions/1/diff?tolerance=0.1",
                   headers=auth(tokens["planner"]))
    assert {m["key"] for m in r.get_json()["moved"]} == {edits["moved"], edits["nudged"]}
    r = client.get("/api/layers/villages/versions/1/diff?tolerance=abc",
                   headers=auth(tokens["planner"]))
    assert r.status_code == 400 and "tolerance" in r.get_json()["error"]
    r = client.get("/api/layers/villages/versions/9/diff", headers=auth(tokens["planner"]))
    assert r.status_code == 404 and "第 9 版" in r.get_json()["error"]


def test_diff_by_name_and_position(setup):
    app, store, tokens = setup
    old = _gk(store.read("elderly_service_points", version=1))
    new = old.copy()
    first, second = old["name"].iloc[0], old["name"].iloc[1]
    new.loc[new["name"] == first, "beds"] = 99
    new.loc[new["name"] == second, "geometry"] = [Point(p.x + 120, p.y) for p in
                                                   new.loc[new["name"] == second, "geometry"]]
    extra = gpd.GeoDataFrame({"name": ["新站"], "level": ["village_station"], "beds": [3]},
                             geometry=[Point(381_000, 3_301_000)], crs=GK)
    new = gpd.GeoDataFrame(pd.concat([new, extra], ignore_index=True), crs=GK)
    store.write("elderly_service_points", new.to_crs("EPSG:4490"), source="pts.csv",
                source_crs="EPSG:4490", user="规划丙")
    r = app.test_client().get("/api/layers/elderly_service_points/versions/1/diff",
                              headers=auth(tokens["planner"]))
    body = r.get_json()
    assert body["match"] == "name"
    assert [f["name"] for f in body["added"]] == ["新站"] and body["removed"] == []
    assert [(c["name"], [f["field"] for f in c["fields"]]) for c in body["changed"]] == \
        [(first, ["beds"])]
    assert [m["name"] for m in body["moved"]] == [second]
    assert body["moved"][0]["moved_m"] == pytest.approx(120.0, abs=0.1)


def _features(store, kind, version=None):
    gdf = store.read(kind, version=version).sort_values("code").reset_index(drop=True)
    return gdf


def test_restore_makes_a_new_version_equal_to_the_old_one_and_is_audited(setup):
    app, store, tokens = setup
    _edited_villages(store)
    client = app.test_client()
    r = client.post("/api/layers/villages/versions/1/restore", headers=auth(tokens["boundary"]))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["version"]["version"] == 3 and body["version"]["current"]
    assert body["version"]["user"] == "界线乙"
    old, now = _features(store, "villages", 1), _features(store, "villages")
    assert list(now.columns) == list(old.columns)
    assert now.drop(columns="geometry").equals(old.drop(columns="geometry"))
    assert all(a.equals_exact(b, 1e-9) for a, b in zip(old.geometry, now.geometry, strict=True))
    assert [v.version for v in store.versions("villages")] == [1, 2, 3]  # nothing removed
    row = store.audit_rows(action="restore")[0]
    assert (row["user"], row["layer"], row["version_before"], row["version_after"]) == \
        ("界线乙", "villages", 2, 3)
    assert row["params"] == {"restored": 1}


def test_restore_refused_for_a_role_without_the_layer_changes_nothing(setup):
    app, store, tokens = setup
    _edited_villages(store)
    before = [v.to_dict() for v in store.versions("villages")]
    audit_before = len(store.audit_rows())
    client = app.test_client()
    r = client.post("/api/layers/villages/versions/1/restore", headers=auth(tokens["planner"]))
    assert r.status_code == 403 and "界线审查人员" in r.get_json()["error"]
    r = client.post("/layers/villages/history/restore", data={"version": "1"},
                    headers=auth(tokens["planner"]))
    assert r.status_code == 403
    r = client.post("/api/layers/villages/versions/1/restore")  # nobody
    assert r.status_code == 401
    assert [v.to_dict() for v in store.versions("villages")] == before
    assert len(store.audit_rows()) == audit_before


def test_history_page_lists_versions_and_restores_from_its_form(setup):
    app, store, tokens = setup
    _edited_villages(store)
    client = app.test_client()
    page = client.get("/layers/villages/history", headers=auth(tokens["boundary"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "版本历史" in html
    assert 'id="version-1"' in html and 'id="version-2"' in html
    assert "当前版本" in html and "edited.geojson" in html and "界线乙" in html
    assert 'id="restore-1"' in html and "/layers/villages/versions/1/map" in html
    # a planner sees the history, not the restore button
    html = client.get("/layers/villages/history", headers=auth(tokens["planner"])) \
        .get_data(as_text=True)
    assert 'id="restore-1"' not in html and 'id="restore-hint"' in html
    # the diff on the page
    html = client.get("/layers/villages/history?diff=1", headers=auth(tokens["planner"])) \
        .get_data(as_text=True)
    assert 'id="count-added">1<' in html and 'id="count-moved">1<' in html
    assert "新增村" in html
    # restore through the page's form
    r = client.post("/layers/villages/history/restore", data={"version": "1"},
                    headers=auth(tokens["boundary"]))
    assert r.status_code == 303 and "restored=3" in r.headers["Location"]
    assert store.current_versions()["villages"].version == 3
    # the version's own map
    r = client.get("/layers/villages/versions/1/map", headers=auth(tokens["planner"]))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "第 1 版" in html and "leaflet" in html.lower()
    assert client.get("/layers/villages/versions/7/map",
                      headers=auth(tokens["planner"])).status_code == 404
    assert client.get("/layers/nothing/history", headers=auth(tokens["planner"])).status_code == 400


def _make_activity(store, folder):
    sources = folder / "src"
    from fixtures import write_sources

    paths = write_sources(sources)
    admin = accounts.actor_of(store.user("管理员甲"), "10.0.0.1")
    boundary = accounts.actor_of(store.user("界线乙"), "10.0.0.2")
    planner = accounts.actor_of(store.user("规划丙"), "10.0.0.3")
    import_layer(store, boundary, "villages", paths["villages"])
    import_layer(store, planner, "welfare_homes", paths["welfare_homes"])
    import_layer(store, admin, "townships", paths["townships"])
    from geoservice.services.layers import restore_version

    restore_version(store, boundary, "villages", 1)


def test_audit_api_and_page_filter_and_scope(setup, tiny_workspace, tmp_path):
    app, store, tokens = setup
    _make_activity(store, tmp_path)
    client = app.test_client()
    rows = client.get("/api/audit", headers=auth(tokens["admin"])).get_json()["rows"]
    assert [r["action"] for r in rows] == ["restore", "import", "import", "import"]
    assert rows[0]["action_label"] == "恢复旧版本" and rows[0]["layer_label"]
    # filters: user, action, layer, date
    def get(q, who="admin"):
        r = client.get(f"/api/audit?{q}", headers=auth(tokens[who]))
        assert r.status_code == 200, r.get_json()
        return r.get_json()["rows"]

    assert {r["user"] for r in get("user=界线乙")} == {"界线乙"} and len(get("user=界线乙")) == 2
    assert [r["layer"] for r in get("action=import")] == ["townships", "welfare_homes",
                                                          "villages"]
    assert [r["action"] for r in get("layer=villages")] == ["restore", "import"]
    today = rows[0]["time"][:10]
    assert len(get(f"since={today}&until={today}")) == 4
    assert get("until=2000-01-01") == [] and get("since=2999-01-01") == []
    assert client.get("/api/audit?action=drop", headers=auth(tokens["admin"])).status_code == 400
    assert client.get("/api/audit?since=yesterday",
                      headers=auth(tokens["admin"])).status_code == 400
    # a planner sees their own rows and their layers' rows only
    assert {(r["user"], r["layer"]) for r in get("", "planner")} == {("规划丙", "welfare_homes")}
    assert {(r["user"], r["layer"]) for r in get("", "boundary")} == \
        {("界线乙", "villages"), ("管理员甲", "townships")}  # townships: their role's layer
    # nobody: refused
    assert client.get("/api/audit").status_code == 401
    assert client.get("/audit").status_code in (302, 401)
    # the page
    html = client.get("/audit?action=import&layer=villages",
                      headers=auth(tokens["admin"])).get_data(as_text=True)
    assert "操作记录" in html and html.count('data-action="import"') == 1
    assert 'data-layer="villages"' in html and "10.0.0.2" in html
    # XLSX with the same filters
    r = client.get("/audit/report.xlsx?user=界线乙", headers=auth(tokens["admin"]))
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    values = list(ws.values)
    assert values[0][:2] == ("时间", "用户") and len(values) == 3
    assert {v[1] for v in values[1:]} == {"界线乙"}
