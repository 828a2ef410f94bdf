"""OGC API - Features read by a real client: GDAL's ogrinfo / ogr2ogr (Debian gdal-bin)
against a live server on the demo county, compared with geopandas on the stored layer.

GDAL 3.6's OAPIF driver always asks for CRS84 (it has no CRS Part 2 support; that came in
3.7), so the EPSG:4490 checks read the items URL with GDAL's GeoJSON driver, the way a
client of Part 2 would: ``bbox-crs`` and ``crs`` in the query, lat/lon coordinates back.
These tests fail, never skip, when gdal-bin is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from urllib.parse import quote

import geopandas as gpd
import pytest
import shapely
from fixtures import LiveServer
from shapely.geometry import box

from geoservice import create_app
from layers import open_store

pytestmark = pytest.mark.slow

EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
BBOX = (103.80, 29.78, 103.90, 29.86)  # min lon, min lat, max lon, max lat
COLLECTIONS = ["townships", "villages", "welfare_homes", "elderly_service_points",
               "place_labels", "coverage_villages", "boundary_findings", "boundary_lines",
               "placename_findings"]


def gdal(tool: str, *args: str, timeout: float = 120) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} 未安装：请安装 Debian 的 gdal-bin（apt-get install -y gdal-bin）"
    done = subprocess.run([path, *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def workspace(module_demo_workspace):
    return module_demo_workspace


@pytest.fixture(scope="module")
def server(workspace):
    with LiveServer(create_app({"WORKSPACE": str(workspace)})) as live:
        yield live


@pytest.fixture(scope="module")
def villages(workspace) -> gpd.GeoDataFrame:
    return open_store(workspace).read("villages")


def codes_in(ogrinfo_output: str) -> list[str]:
    return re.findall(r"^\s+code \(String\) = (\d+)$", ogrinfo_output, flags=re.M)


def expected_codes(villages: gpd.GeoDataFrame, bbox=BBOX) -> set[str]:
    return set(villages.loc[villages.intersects(box(*bbox)), "code"])


def test_ogrinfo_lists_the_collections(server):
    out = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{server.url}/ogcapi")
    listed = re.findall(r"^\d+: (\w+) \(title: ", out, flags=re.M)
    for cid in COLLECTIONS:
        assert cid in listed, out
    assert "villages (title: 村(社区))" in out


def test_ogrinfo_reads_every_village(server, villages):
    # PAGE_SIZE 25: 58 villages come in three pages, by following the next links
    out = gdal("ogrinfo", "-ro", "-al", "-q", "-oo", "PAGE_SIZE=25",
               f"OAPIF:{server.url}/ogcapi", "villages")
    assert out.count("OGRFeature(villages)") == len(villages) == 58
    assert sorted(codes_in(out)) == sorted(villages["code"])


def test_ogrinfo_bbox_in_crs84_finds_what_geopandas_finds(server, villages):
    out = gdal("ogrinfo", "-ro", "-al", "-q", "-oo", "PAGE_SIZE=1000",
               "-spat", *map(str, BBOX), f"OAPIF:{server.url}/ogcapi", "villages")
    want = expected_codes(villages)
    assert 0 < len(want) < len(villages)
    assert set(codes_in(out)) == want


def test_gdal_bbox_in_epsg4490_finds_the_same_features(server, villages):
    minlon, minlat, maxlon, maxlat = BBOX
    url = (f"{server.url}/ogcapi/collections/villages/items?limit=1000"
           f"&bbox={minlat},{minlon},{maxlat},{maxlon}&bbox-crs={quote(EPSG4490, safe='')}")
    out = gdal("ogrinfo", "-ro", "-al", "-q", url)
    assert set(codes_in(out)) == expected_codes(villages)


def test_gdal_reads_epsg4490_output_as_lat_lon(server, villages):
    """With crs=EPSG:4490 the coordinates come lat/lon: GDAL's GeoJSON driver (which
    assumes lon/lat) sees them swapped, exactly."""
    url = (f"{server.url}/ogcapi/collections/villages/items?limit=1000"
           f"&crs={quote(EPSG4490, safe='')}")
    data = json.loads(gdal("ogr2ogr", "-f", "GeoJSON", "/vsistdout/", url))
    got = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
           for f in data["features"]}
    assert len(got) == len(villages)
    for code, geom in zip(villages["code"], villages.geometry, strict=True):
        swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
        assert shapely.equals_exact(got[code], swapped, tolerance=0), code


def test_ogr2ogr_copies_a_collection_with_identical_geometry(server, villages, tmp_path):
    out = tmp_path / "villages.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(out), "-oo", "PAGE_SIZE=20",
         f"OAPIF:{server.url}/ogcapi", "villages")
    copied = gpd.read_file(out).set_index("code")
    assert len(copied) == len(villages)
    for code, geom in zip(villages["code"], villages.geometry, strict=True):
        assert shapely.equals_exact(copied.geometry[code], geom, tolerance=0), code
    assert copied.loc["511425001008", "name"] == \
        villages.set_index("code").loc["511425001008", "name"]


def test_ogr2ogr_copies_a_result_collection(server, tmp_path):
    out = tmp_path / "coverage.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server.url}/ogcapi",
         "coverage_villages")
    copied = gpd.read_file(out)
    assert len(copied) == 58
    assert {"covered", "nearest_m", "access"} <= set(copied.columns)
