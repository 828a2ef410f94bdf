"""Import warnings on the upload page and in the import API (issue 12): a villages file
with code and geometry defects is imported, its warnings counted and grouped with their
rows above the success message, the per-row list downloadable as CSV, the audit row
counting them; a facility file in GCJ-02 imported as CGCS2000 is flagged.

On the second county (竹山县, ``tests/second_county.py``), not the demo.
"""

from __future__ import annotations

import csv
import io

import geopandas as gpd
import pytest
import second_county as sc
import shapely
from fixtures import make_app  # create_app with an admin signed in (API token)

from layers import open_store
from layers.crs import wgs_to_gcj

SHORT = "所属乡镇代码为 6 位，应为 9 位"


@pytest.fixture(scope="module")
def defects(county, tmp_path_factory):
    """The villages as GeoJSON bytes with 103 short township codes and a bow tie."""
    villages, short = sc.inject_short_codes(county.villages, "township_code", 103, seed=5)
    clean = villages["code"][villages["township_code"].str.len() == 9].iloc[10]
    villages, bow = sc.inject_bowtie(villages, clean, county.epsg)
    path = sc.write_polygons(villages, tmp_path_factory.mktemp("v") / "村界.geojson",
                             "villages")
    return path.read_bytes(), short, bow


@pytest.fixture
def workspace(county_workspace):
    return county_workspace


@pytest.fixture
def client(workspace):
    return make_app({"WORKSPACE": str(workspace)}).test_client()


def post(client, url, data: bytes, name: str, **form):
    return client.post(url, data={"file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def csv_rows(client, link) -> list[list[str]]:
    r = client.get(link)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))


def test_upload_page_shows_grouped_warnings_above_the_success(client, workspace, defects):
    data, short, bow = defects
    r = post(client, "/upload", data, "村界.geojson", kind="villages")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="import-warnings"' in html and 'id="import-ok"' in html
    assert html.index('id="import-warnings"') < html.index('id="import-ok"')
    assert "导入时发现 104 处警告（2 类）" in html and "有 104 处警告" in html
    assert html.count(SHORT) == 1 and "<td>103</td>" in html
    first = "、".join(str(f) for f in short["features"][:10])
    assert f"第 {first} 个要素等（另有 93 处见完整清单）" in html
    assert f"第 {bow['row'] + 1} 个要素" in html and "已自动修复" in html
    link = html.split('id="warnings-csv" href="')[1].split('"')[0]
    rows = csv_rows(client, link)
    assert rows[0][:5] == ["文件", "位置", "字段", "问题", "值"] and len(rows) == 105
    assert sorted(int(r[1].split()[1]) for r in rows[1:] if r[3] == SHORT) == short["features"]
    assert {r[4] for r in rows[1:] if r[3] == SHORT} == {"420323"}
    store = open_store(workspace)
    assert store.current_versions()["villages"].version == 2
    audit = max(store.audit_rows(), key=lambda a: a["id"])
    assert audit["result"] == "导入 244 个要素（104 处警告），成为第 2 版"


def test_import_api_returns_the_warnings_grouped(client, workspace, defects):
    data, short, bow = defects
    r = post(client, "/api/layers/villages", data, "村界.geojson")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["version"]["version"] == 2 and body["warning_count"] == 104
    groups = body["warnings"]
    assert [(g["count"], g["message"]) for g in groups] == [
        (103, SHORT), (1, "几何无效，已自动修复为有效的面")]
    assert groups[0]["rows"] == short["features"][:10] and groups[0]["rows_more"] == 93
    assert groups[0]["text"].startswith("村界.geojson，103 个要素：" + SHORT)
    assert groups[1]["rows"] == [bow["row"] + 1] and groups[1]["value"].startswith("自相交")
    assert len(csv_rows(client, body["warnings_csv"])) == 105
    assert len(r.get_data()) < 20_000  # grouped, never 104 copies


def test_a_gcj02_facility_file_read_as_cgcs2000_is_flagged(client, county, tmp_path):
    homes = county.elderly_service_points
    x, y = wgs_to_gcj(homes.geometry.x.to_numpy(), homes.geometry.y.to_numpy())
    amap = homes.set_geometry(gpd.GeoSeries(shapely.points(x, y), crs=homes.crs))
    path = sc.write_points_csv(amap, "elderly_service_points", tmp_path / "站点.csv")
    r = post(client, "/api/layers/elderly_service_points", path.read_bytes(), "站点.csv")
    assert r.status_code == 201
    body = r.get_json()
    assert body["warning_count"] == 1
    [g] = body["warnings"]
    assert g["rows"] == [] and "GCJ-02" in g["message"] and "设施整体偏移" in g["message"]
    path = sc.write_points_csv(homes, "elderly_service_points", tmp_path / "站点2.csv")
    r = post(client, "/api/layers/elderly_service_points", path.read_bytes(), "站点2.csv")
    body = r.get_json()
    assert (body["warning_count"], body["warnings"], body["warnings_csv"]) == (0, [], None)
    r = post(client, "/upload", path.read_bytes(), "站点2.csv", kind="elderly_service_points")
    assert 'id="import-ok"' in r.get_data(as_text=True)
    assert 'id="import-warnings"' not in r.get_data(as_text=True)
