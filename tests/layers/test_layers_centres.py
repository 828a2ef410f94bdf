"""Villages' own centre columns, and survey tables whose X is the northing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Geod, Transformer
from shapely.geometry import Point, box

from geoservice.analysis.coverage import village_centres
from layers import read_layer
from layers.crs import wgs_to_gcj

GEOD = Geod(ellps="GRS80")


def test_committee_location_in_gcj02_is_converted_with_the_polygons(tmp_path):
    true_lon, true_lat = 103.8105, 29.8105
    poly = box(103.80, 29.80, 103.82, 29.82)
    glon, glat = wgs_to_gcj([true_lon], [true_lat])
    ring = np.array(poly.exterior.coords)
    rx, ry = wgs_to_gcj(ring[:, 0], ring[:, 1])
    wkt = "POLYGON ((" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in zip(rx, ry, strict=True)) + "))"
    df = pd.DataFrame({"村代码": ["511425001200"], "名称": ["柳溪村"], "乡镇代码": ["511425001"],
                       "人口": [2000], "60岁以上人口": [500], "村委会经度": [glon[0]],
                       "村委会纬度": [glat[0]], "wkt": [wkt]})
    path = tmp_path / "villages.csv"
    df.to_csv(path, index=False)
    gdf = read_layer(path, "villages", crs="gcj02")
    _, _, d = GEOD.inv(gdf["center_lon"][0], gdf["center_lat"][0], true_lon, true_lat)
    assert d < 1.0
    # The analyses use it as the village centre instead of the centroid.
    c = village_centres(gdf)
    assert abs(c[0].x - true_lon) < 1e-7 and abs(c[0].y - true_lat) < 1e-7


def test_village_without_centre_columns_has_none(tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["511425001200"], "name": ["柳溪村"],
                            "township_code": ["511425001"], "population": [10],
                            "elderly_population": [2]},
                           geometry=[box(103.80, 29.80, 103.82, 29.82)], crs="EPSG:4490")
    path = tmp_path / "v.geojson"
    gdf.to_file(path, driver="GeoJSON")
    out = read_layer(path, "villages")
    assert "center_lon" not in out.columns
    # The centroid is taken in metres (CGCS2000 GK zone 35, CM 105E), not in degrees:
    # project the corners, shoelace centroid, back to lon/lat (written out here).
    fwd = Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)
    x, y = fwd.transform([103.80, 103.82, 103.82, 103.80], [29.80, 29.80, 29.82, 29.82])
    x, y = np.asarray(x) - x[0], np.asarray(y) - y[0]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    cx = ((x + np.roll(x, -1)) * cross).sum() / (3 * cross.sum())
    cy = ((y + np.roll(y, -1)) * cross).sum() / (3 * cross.sum())
    x0, y0 = fwd.transform(103.80, 29.80)
    lon, lat = Transformer.from_crs("EPSG:4544", "EPSG:4490", always_xy=True).transform(
        cx + x0, cy + y0)
    got = village_centres(out)[0]
    assert got.distance(Point(lon, lat)) < 1e-10  # ~0.01 mm
    assert Point(103.81, 29.81).distance(Point(lon, lat)) > 2e-8  # degrees: ~5 mm off


def test_survey_table_with_x_as_northing(tmp_path):
    # 8-digit prefixed eastings in the Y column, northings in the X column (survey habit).
    pts = gpd.GeoSeries([Point(103.85, 29.83), Point(103.9, 29.78)], crs="EPSG:4490")
    gk = pts.to_crs("EPSG:4523")
    df = pd.DataFrame({"名称": ["甲", "乙"], "类型": ["县级福利院", "乡镇敬老院"],
                       "X坐标": gk.y.round(3), "Y坐标": gk.x.round(3)})
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False)
    out = read_layer(path, "welfare_homes")
    assert out.attrs["source_crs"] == "EPSG:4523"
    for got, want in zip(out.geometry, pts, strict=True):
        _, _, d = GEOD.inv(got.x, got.y, want.x, want.y)
        assert d < 0.01
