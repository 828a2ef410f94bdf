"""Fixtures for the ``layers`` tests: sample layers and writers for every input format.

Everything is built in ``tmp_path`` from fixed seeds, around Qingshen county (about
103.8E 29.8N, CGCS2000 3-degree Gauss-Kruger zone 35, central meridian 105E).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import Point, box

STORED = "EPSG:4490"
GK_PLAIN = "EPSG:4544"  # CGCS2000 3-degree GK, central meridian 105E, no zone prefix
GK_PREFIXED = "EPSG:4523"  # the same zone 35 with the zone number in front of the easting
GK_WRONG_ZONE = "EPSG:4543"  # zone 34, central meridian 102E
SEED = 20240611
GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid (to well under a millimetre)

TOWNSHIP = "511425102"
HOME_NAMES = ["青神县福利院", "汉阳镇敬老院", "西龙镇敬老院", "瑞峰镇敬老院", "南城镇敬老院"]


def distances_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distances in metres between matching lon/lat points."""
    return np.asarray(GEOD.inv(np.asarray(lon1, float), np.asarray(lat1, float),
                               np.asarray(lon2, float), np.asarray(lat2, float))[2])


def point_distances_m(gdf: gpd.GeoDataFrame, lon, lat) -> np.ndarray:
    assert gdf.crs.to_epsg() == 4490
    return distances_m(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), lon, lat)


class Files:
    """Writes input files into one temporary folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / name

    # --- tables ------------------------------------------------------------------------

    def csv(self, name: str, rows: list[list], header: list[str], *,
            encoding: str = "utf-8") -> Path:
        df = pd.DataFrame(rows, columns=header)
        path = self.path(name)
        path.write_bytes(df.to_csv(index=False, lineterminator="\n").encode(encoding))
        return path

    def text(self, name: str, text: str, *, encoding: str = "utf-8") -> Path:
        path = self.path(name)
        path.write_bytes(text.encode(encoding))
        return path

    def raw(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.write_bytes(data)
        return path

    def xlsx(self, name: str, rows: list[list], header: list[str]) -> Path:
        """An XLSX written cell by cell, keeping Python types (numbers stay numbers)."""
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "数据"
        ws.append(header)
        for row in rows:
            ws.append(row)
        path = self.path(name)
        wb.save(path)
        return path

    # --- vector formats ----------------------------------------------------------------

    def geojson(self, name: str, gdf: gpd.GeoDataFrame) -> Path:
        path = self.path(name)
        pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
        return path

    def geojson_raw(self, name: str, features: list[tuple[dict, dict | None]],
                    crs_name: str | None = None) -> Path:
        """GeoJSON from (properties, geometry) pairs, optionally with an old-style crs."""
        fc: dict = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": props, "geometry": geom}
            for props, geom in features]}
        if crs_name:
            fc["crs"] = {"type": "name", "properties": {"name": crs_name}}
        path = self.path(name)
        path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
        return path

    def gpkg(self, name: str, layers: dict[str, gpd.GeoDataFrame]) -> Path:
        path = self.path(name)
        for layer, gdf in layers.items():
            pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")
        return path

    def shapefile_zip(self, name: str, gdf: gpd.GeoDataFrame, *, encoding: str = "UTF-8",
                      cpg: str | None | bool = True, prj: bool = True,
                      folder_in_zip: str = "") -> Path:
        """A zipped Shapefile. ``cpg``: True writes the encoding's name, a string writes
        that text, False/None leaves the .cpg out."""
        stem = Path(name).stem
        work = self.folder / f"_{stem}_shp"
        work.mkdir()
        shp = work / f"{stem}.shp"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", encoding=encoding)
        cpg_file = shp.with_suffix(".cpg")
        if cpg is True:
            cpg_file.write_text(encoding, encoding="ascii")
        elif cpg:
            cpg_file.write_text(cpg, encoding="ascii")
        elif cpg_file.exists():
            cpg_file.unlink()
        if not prj and shp.with_suffix(".prj").exists():
            shp.with_suffix(".prj").unlink()
        path = self.path(name)
        with zipfile.ZipFile(path, "w") as zf:
            for f in sorted(work.iterdir()):
                zf.write(f, folder_in_zip + f.name)
        return path


@pytest.fixture
def files(tmp_path) -> Files:
    folder = tmp_path / "inputs"
    folder.mkdir()
    return Files(folder)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


@pytest.fixture
def home_points(rng) -> tuple[np.ndarray, np.ndarray]:
    """Five true CGCS2000 lon/lat positions in Qingshen."""
    lon = rng.uniform(103.70, 103.95, len(HOME_NAMES)).round(6)
    lat = rng.uniform(29.70, 29.95, len(HOME_NAMES)).round(6)
    return lon, lat


@pytest.fixture
def homes(home_points) -> gpd.GeoDataFrame:
    """Welfare homes with English field names, in CGCS2000."""
    lon, lat = home_points
    return gpd.GeoDataFrame({
        "name": HOME_NAMES,
        "kind": ["county", "township", "township", "regional", "township"],
        "beds": [120, 40, 36, 80, 30],
        "occupied_beds": [100, 22, 30, 51, 12],
        "accepts_disabled": ["是", "否", "否", "是", "否"],
    }, geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)], crs=STORED)


@pytest.fixture
def homes_zh(homes) -> gpd.GeoDataFrame:
    """The same homes with the Chinese column names people write (名称, 床位数 ...)."""
    return homes.rename(columns={"name": "名称", "kind": "类型", "beds": "床位数",
                                 "occupied_beds": "在住人数", "accepts_disabled": "失能照护"})


def village_grid(n_cols: int = 3, n_rows: int = 2, *, township: str = TOWNSHIP,
                 x0: float = 103.80, y0: float = 29.80, side: float = 0.02
                 ) -> gpd.GeoDataFrame:
    """Square villages of one township, codes township + 200, 201, ..."""
    rows = []
    for i in range(n_cols * n_rows):
        col, row = i % n_cols, i // n_cols
        rows.append({
            "code": f"{township}{200 + i:03d}", "name": f"第{i + 1}村",
            "township_code": township, "population": 1000 + 100 * i,
            "elderly_population": 200 + 10 * i,
            "geometry": box(x0 + col * side, y0 + row * side,
                            x0 + (col + 1) * side, y0 + (row + 1) * side),
        })
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=STORED)


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    return village_grid()


def to_gk(lon, lat, crs: str = GK_PLAIN) -> tuple[np.ndarray, np.ndarray]:
    t = Transformer.from_crs(STORED, crs, always_xy=True)
    x, y = t.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


@pytest.fixture
def gk():
    """Helpers for Gauss-Kruger coordinates and distances, as a namespace."""

    class GK:
        plain, prefixed, wrong_zone = GK_PLAIN, GK_PREFIXED, GK_WRONG_ZONE
        forward = staticmethod(to_gk)
        distances = staticmethod(distances_m)
        point_distances = staticmethod(point_distances_m)

    return GK


@pytest.fixture
def make_villages():
    """``make_villages(n_cols, n_rows, township=..., x0=..., y0=..., side=...)``."""
    return village_grid
