"""Proof on a county the service has never seen (issue 12): 竹山县 (Zhushan, Hubei, 420323).

Built by ``tests/second_county.py`` from the real roster and outline with its own seed,
independently of the demo county. Each test injects defects of one kind into the files
staff receive, takes them through the service as a user would (the import API, the
analysis APIs, the CLI, the pages) and checks each answer against the truth the injector
measured (in metres, in the county's own Gauss-Kruger zone) or against a computation
written here with shapely/pyproj/pandas, never with the code under test.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import second_county as sc
import shapely
from fixtures import make_app, run_cli

from layers import crs as crsmod
from layers.store import open_store

pytestmark = pytest.mark.slow


# --- the county, once per module ------------------------------------------------------------

@pytest.fixture
def workspace(county_workspace) -> Path:
    return county_workspace


@pytest.fixture
def client(workspace):
    return make_app({"WORKSPACE": str(workspace)}).test_client()


def upload(client, kind: str, path: Path, crs: str | None = None):
    data = {"file": (io.BytesIO(path.read_bytes()), path.name)}
    if crs:
        data["crs"] = crs
    return client.post(f"/api/layers/{kind}", data=data, content_type="multipart/form-data")


def findings_of(body: dict, kind: str) -> list[dict]:
    return [f for f in body["findings"] if f["type"] == kind]


# --- the clean county -------------------------------------------------------------------------

def test_the_clean_county_imports_without_a_warning(county, tmp_path):
    """Every file staff receive goes in through the import API with no warning at all: the
    checks below that do warn are caused by the injected defects, not by the county."""
    client = make_app({"WORKSPACE": str(tmp_path / "clean.gpkg")}).test_client()
    for kind, (path, crs) in sc.write_sources(county, tmp_path / "src").items():
        r = upload(client, kind, path, crs)
        assert r.status_code == 201, (kind, r.get_json())
        body = r.get_json()
        assert body["warning_count"] == 0, (kind, body["warnings"])
        assert body["version"]["features"] == len(county.layers[kind])


# --- boundary review: review what you are given -----------------------------------------------

def test_code_defects_are_imported_with_warnings_and_each_is_a_finding(county, client, tmp_path):
    v = county.villages
    towns = list(county.townships["code"])
    same_town = v[v["township_code"] == towns[0]]["code"].tolist()
    villages, mismatch = sc.inject_code_not_under_township(v, same_town[0], towns[1])
    villages, dup = sc.inject_duplicate_code(villages, same_town[1], same_town[2])
    villages, bad = sc.inject_out_of_range(villages, same_town[3])
    # a well-formed township code (a 镇, 100-199) that the townships layer does not have
    orphan_town = next(f"{sc.COUNTY_CODE}{n:03d}" for n in range(100, 200)
                       if f"{sc.COUNTY_CODE}{n:03d}" not in towns)
    third = v[v["township_code"] == towns[2]]["code"].tolist()
    villages, orphan = sc.inject_orphan(villages, third[:2], orphan_town)
    path = sc.write_polygons(villages, tmp_path / "村界_有缺陷.geojson", "villages")

    r = upload(client, "villages", path)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    # every defect warned, on its own feature (feature number = row + 1)
    warned_rows = {row for g in body["warnings"] for row in g["rows"]}
    assert mismatch["feature"] in warned_rows
    assert set(dup["features"]) <= warned_rows
    assert bad["row"] + 1 in warned_rows
    assert {i + 1 for i in orphan["rows"]} <= warned_rows
    orphan_msgs = [g for g in body["warnings"] if "不在乡镇(街道)图层" in g["message"]]
    assert len(orphan_msgs) == 1 and orphan_msgs[0]["rows"] == [i + 1 for i in orphan["rows"]]

    review = client.get("/api/boundaries?layer=villages").get_json()
    # each finding names the feature first (then, for a mismatch, the township it names)
    got = {k: sorted(f["codes"][0] for f in findings_of(review, k))
           for k in ("code_mismatch", "duplicate_code", "bad_code", "orphan")}
    assert got["code_mismatch"] == [mismatch["code"]]
    assert [f["codes"] for f in findings_of(review, "code_mismatch")] == [
        [mismatch["code"], mismatch["township_code"]]]
    assert got["duplicate_code"] == [dup["code"], dup["code"]]
    assert sorted(f["names"][0] for f in findings_of(review, "duplicate_code")) == sorted(
        dup["names"])
    assert bad["code"] in got["bad_code"]
    assert got["orphan"] == sorted(orphan["codes"])


def test_103_identical_problems_are_one_line(county, client, tmp_path):
    villages, short = sc.inject_short_codes(county.villages, "township_code", 103)
    path = sc.write_polygons(villages, tmp_path / "村界_乡镇代码6位.geojson", "villages")
    r = upload(client, "villages", path)
    assert r.status_code == 201, r.get_json()
    groups = [g for g in r.get_json()["warnings"] if g["count"] == 103]
    assert len(groups) == 1, r.get_json()["warnings"]
    g = groups[0]
    assert "103 个要素" in g["text"] and "6 位" in g["text"] and "9 位" in g["text"]
    assert g["rows"] == short["features"][: len(g["rows"])]
    assert g["rows_more"] == 103 - len(g["rows"])
    # the CLI says the same in one line
    res = run_cli("--workspace", client.application.config["WORKSPACE"], "import",
                  "villages", path)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "103 个要素" in ln]
    assert len(lines) == 1 and "6 位" in lines[0]


def test_geometry_defects_are_imported_and_measured(county, client, tmp_path):
    v = county.villages
    pairs = sc.neighbour_pairs(v, county.epsg)
    (a1, b1), (a2, b2) = pairs[0], next(p for p in pairs if not set(p) & set(pairs[0]))
    villages, overlap = sc.inject_overlap(v, a1, b1, county.epsg)
    villages, gap = sc.inject_gap(villages, a2, b2, county.epsg)
    bow_code = next(c for c in v["code"] if c not in (a1, b1, a2, b2)
                    and sc.border_edge(v, c, county.epsg) >= 0)
    villages, bow = sc.inject_bowtie(villages, bow_code, county.epsg)
    path = sc.write_polygons(villages, tmp_path / "村界_重叠缝隙.geojson", "villages")
    r = upload(client, "villages", path)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["warning_count"] == 1  # the bow-tie, repaired; overlaps/gaps are for review

    review = client.get("/api/boundaries?layer=villages").get_json()
    overlaps = [f for f in findings_of(review, "overlap") if set(f["codes"]) == {a1, b1}]
    assert len(overlaps) == 1
    assert overlaps[0]["area_m2"] == pytest.approx(overlap["overlap_m2"], rel=1e-3)
    gaps = [f for f in findings_of(review, "gap")
            if f["area_m2"] == pytest.approx(gap["gap_m2"], rel=1e-3)]
    assert len(gaps) == 1
    repaired = [f for f in findings_of(review, "invalid_geometry") if f["codes"] == [bow_code]]
    assert len(repaired) == 1 and "自动修复" in repaired[0]["message"]


def test_unreadable_files_are_refused_and_change_nothing(county, client, tmp_path):
    before = client.get("/api/layers/villages/versions").get_json()
    frame = county.villages.copy()
    frame["population"] = frame["population"].astype(object)
    frame.loc[frame.index[4], "population"] = "约两千"
    path = sc.write_polygons(frame, tmp_path / "村界_人口非数字.geojson", "villages")
    r = upload(client, "villages", path)
    assert r.status_code == 400
    body = r.get_json()
    assert any(p["row"] == 5 for p in body["problems"])
    assert client.get("/api/layers/villages/versions").get_json() == before


def test_an_outline_of_two_counties_is_refused_unless_one_is_named(county, workspace, tmp_path):
    two, truth = sc.outline_with_neighbour()
    path = sc.write_outline(two, tmp_path / "竹山竹溪县界.geojson")
    res = run_cli("--workspace", workspace, "boundaries", "--layer", "villages",
                  "--outline", path, "--json")
    assert res.returncode != 0
    assert "--outline-feature" in res.stderr
    for name, code in zip(truth["names"], truth["codes"], strict=True):
        assert name in res.stderr and code in res.stderr

    res = run_cli("--workspace", workspace, "boundaries", "--layer", "villages",
                  "--outline", path, "--outline-feature", sc.COUNTY_CODE, "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    # the clean villages tile the outline: no gap inside the county, the enclaves of 竹溪县
    # (holes of the outline) are not the county's gaps
    assert findings_of(body, "gap") == []
    assert body["summary"]["outline_given"] is True


# --- coverage: the same numbers as an independent computation ---------------------------------

def _metric_centres(villages: gpd.GeoDataFrame, epsg: int) -> np.ndarray:
    """The village's own centre when it has one, else the centroid taken in metres (or a
    point inside when the centroid is not)."""
    m = villages.to_crs(epsg)
    c = m.geometry.centroid
    inside = m.geometry.contains(c)
    xy = shapely.get_coordinates(np.where(inside, c.values,
                                          m.geometry.representative_point().values))
    if "center_lon" in villages.columns:
        own = gpd.GeoSeries(gpd.points_from_xy(villages["center_lon"].astype(float),
                                               villages["center_lat"].astype(float)),
                            crs=villages.crs).to_crs(epsg)
        given = villages["center_lon"].notna().to_numpy()
        xy[given] = shapely.get_coordinates(own.values[given])
    return xy


def test_coverage_equals_an_independent_computation(county, client, workspace):
    """Straight-line coverage of the elderly service points: covered, nearest_m, from
    centroids taken in metres; beds per 1,000 elderly counting every elderly-care bed.
    The layers as stored (the files round their coordinates)."""
    store = open_store(workspace)
    villages, points = store.read("villages"), store.read("elderly_service_points")
    radius = 2000.0
    body = client.get(f"/api/coverage?layer=elderly_service_points&radius={radius:g}").get_json()
    got = pd.DataFrame(body["villages"]).set_index("code")
    epsg = county.epsg
    cxy = _metric_centres(villages, epsg)
    fxy = shapely.get_coordinates(points.to_crs(epsg).geometry.values)
    d = np.sqrt(((cxy[:, None, :] - fxy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    want = pd.Series(d, index=villages["code"].to_numpy())
    assert np.allclose(got.loc[want.index, "nearest_m"].to_numpy(float), want.to_numpy(),
                       rtol=1e-9, atol=1e-6)
    assert (got.loc[want.index, "covered"].to_numpy(bool) == (want.to_numpy() <= radius)).all()

    # all elderly-care beds (welfare homes + service points) per township, by the village
    # polygon each facility lies in
    v = county.villages
    beds = pd.Series(0.0, index=county.townships["code"].to_numpy())
    for layer in (county.welfare_homes, county.elderly_service_points):
        hit = gpd.sjoin(layer[["beds", "geometry"]], v[["township_code", "geometry"]],
                        predicate="within")
        beds = beds.add(hit.groupby("township_code")["beds"].sum().astype(float), fill_value=0)
    elderly = v.groupby("township_code")["elderly_population"].sum().astype(float)
    towns = pd.DataFrame(body["townships"]).set_index("code")
    for code in county.townships["code"]:
        want_bpk = 1000.0 * beds.get(code, 0.0) / elderly[code]
        assert towns.loc[code, "care_beds_per_1000_elderly"] == pytest.approx(want_bpk, rel=1e-6)
    total = 1000.0 * beds.sum() / elderly.sum()
    assert body["summary"]["care_beds_per_1000_elderly"] == pytest.approx(total, rel=1e-6)


def test_the_cemetery_township_sheet_speaks_of_graves(county, client, workspace):
    r = client.get("/coverage/report.xlsx?layer=cemeteries")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    text = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows()
                    for c in row if c.value is not None)
    assert "墓穴" in text
    assert "床位" not in text
    body = client.get("/api/coverage?layer=cemeteries").get_json()
    cap = float(pd.to_numeric(county.cemeteries["capacity_graves"]).sum())
    used = float(pd.to_numeric(county.cemeteries["used_graves"]).sum())
    assert body["summary"]["capacity_graves"] == pytest.approx(cap)
    assert body["summary"]["remaining_graves"] == pytest.approx(cap - used)
    assert not any("beds" in k for k in body["summary"])
    for shading in ("covered", "access"):
        page = client.get(f"/coverage?layer=cemeteries&shading={shading}").get_data(as_text=True)
        assert "墓穴" in page and "床位" not in page
    res = run_cli("--workspace", workspace, "coverage", "--layer", "cemeteries")
    assert res.returncode == 0, res.stderr
    assert "墓穴" in res.stdout and "床位" not in res.stdout


# --- merges ---------------------------------------------------------------------------------

def test_a_township_merge_leaves_no_marker_error_of_its_own(county, client):
    """Merge the two townships the most boundary markers stand between: the markers are
    rewritten with the merge, so the next review finds what it found before, no more."""
    def marker_findings():
        body = client.get("/api/boundaries?layer=townships").get_json()
        return [f for f in body["findings"] if f["type"].startswith("marker_")
                or f["type"] == "duplicate_marker"]

    before = marker_findings()
    pairs = county.boundary_markers["codes"].value_counts()
    a, b = pairs.index[0].split(",")
    r = client.post("/api/boundaries/merge", json={
        "layer": "townships", "codes": f"{a},{b}", "name": "竹合镇", "apply": "1"})
    assert r.status_code == 201, r.get_json()
    applied = r.get_json()["applied"]
    written = {x["kind"] for x in applied["layers"]}
    assert {"townships", "villages", "boundary_markers"} <= written
    after = marker_findings()
    assert len(after) == len(before)
    assert not any(a in json.dumps(f, ensure_ascii=False) or b in json.dumps(
        f, ensure_ascii=False) for f in after)


def test_a_village_merge_gives_the_full_committee_name(county, client):
    v = county.villages
    a, b = sc.neighbour_pairs(v, county.epsg)[3]
    r = client.post("/api/boundaries/merge", json={
        "layer": "villages", "codes": f"{a},{b}", "name": "竹合村", "apply": "1"})
    assert r.status_code == 201, r.get_json()
    merged = client.get("/api/layers/villages").get_json()
    rows = [f["properties"] for f in merged["features"]
            if f["properties"]["name"] == "竹合村"]
    assert len(rows) == 1
    assert rows[0]["committee_name"] == "竹合村村民委员会"
    names = client.get("/api/placenames").get_json()
    assert "nan" not in json.dumps(names, ensure_ascii=False)


# --- place names: a label is judged by its name first ---------------------------------------

def test_labels_moved_away_are_misplaced_not_missing(county, client, tmp_path):
    """Correctly named labels moved 0.5, 2, 5, 10 and 20 km: each is its village's label,
    misplaced by the distance measured here; no village missing, no unknown label."""
    moves = sc.pick_label_moves(county)
    labels, truth = sc.move_labels(county.place_labels, county.villages, moves, county.epsg)
    path = sc.write_labels_csv(labels, tmp_path / "高德标注_移动.csv")
    r = upload(client, "place_labels", path, "gcj02")
    assert r.status_code == 201, r.get_json()

    # a tolerance below the smallest distance outside, so that every moved label counts
    tolerance = 100.0
    assert truth["distance_outside_m"].min() > tolerance
    body = client.get(f"/api/placenames?tolerance={tolerance:g}").get_json()
    by_code = {}
    for f in body["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    for t in truth.itertuples():
        found = [f for f in by_code.get(t.village_code, []) if f["type"] != "duplicate_name"]
        assert [f["type"] for f in found] == ["misplaced"], (t.moved_m, found)
        assert found[0]["distance_m"] == pytest.approx(t.distance_outside_m, abs=1.0)
    assert body["summary"]["counts"]["missing"] == 0
    assert body["summary"]["counts"]["unknown_label"] == 0
    assert body["summary"]["counts"]["misplaced"] == len(truth)
    assert body["summary"]["crs_suspect"] is None
    # with the default tolerance (300 m), the label 156 m outside is fine, the rest are not
    default = client.get("/api/placenames").get_json()
    tol = default["summary"]["tolerance_m"]
    far = set(truth.loc[truth["distance_outside_m"] > tol, "village_code"])
    assert {f["code"] for f in default["findings"] if f["type"] == "misplaced"} == far
    assert default["summary"]["counts"]["missing"] == 0

    # the CLI gives the same answer
    res = run_cli("--workspace", client.application.config["WORKSPACE"], "placenames",
                  "--tolerance", f"{tolerance:g}", "--json")
    assert res.returncode == 0, res.stderr
    cli = json.loads(res.stdout)
    assert cli["summary"]["counts"] == body["summary"]["counts"]
    key = ("type", "code", "label_name", "distance_m")
    assert sorted(tuple(str(f[k]) for k in key) for f in cli["findings"]) == sorted(
        tuple(str(f[k]) for k in key) for f in body["findings"])


@pytest.mark.parametrize(("actual", "declared"), [("gcj02", "cgcs2000"), ("bd09", "cgcs2000"),
                                                  ("cgcs2000", "gcj02")])
def test_a_label_file_in_the_wrong_system_is_noticed(county, client, tmp_path, actual, declared):
    labels, truth = sc.shift_label_file(county.place_labels, actual, declared, county.epsg)
    path = sc.write_labels_csv(labels, tmp_path / f"标注_{actual}_当作_{declared}.csv",
                               system=None)
    r = upload(client, "place_labels", path)
    assert r.status_code == 201, r.get_json()
    label = crsmod.SUSPECT_LABELS[actual]
    warned = [g for g in r.get_json()["warnings"] if "整体偏移" in g["message"]]
    assert len(warned) == 1 and label in warned[0]["message"]

    body = client.get("/api/placenames").get_json()
    s = body["summary"]
    assert s["crs_suspect"] == truth["suspect"]
    assert s["crs_offset_m"] == pytest.approx(truth["offset_m"], rel=0.10)
    # matched by name however far: no village is missing because of the shift
    assert s["counts"]["missing"] == 0 and s["counts"]["unknown_label"] == 0
    page = client.get("/placenames").get_data(as_text=True)
    assert f'data-suspect="{truth["suspect"]}"' in page
    # the warning comes before the findings
    assert page.index('id="crs-warning"') < page.index('id="findings-table"')
    assert label in page[page.index('id="crs-warning"'):page.index('id="findings-table"')]
