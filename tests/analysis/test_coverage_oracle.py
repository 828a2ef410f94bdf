"""Coverage, nearest distance and G2SFCA against computations written here (pyproj, numpy,
shapely) and against PySAL ``access``: on the demo county and on a county generated here
from a real outline that is not the demo's (洪雅县 511423, another Gauss-Kruger zone, its
own seed). Nothing below calls the code under test except to get its answer.

Village centres are the centroid in metres (Gauss-Kruger zone of the villages' centre),
a point inside the polygon when the centroid falls outside, or the village's own centre
columns when given. Everything is compared to 1e-9 relative.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from access import fca
from pyproj import Transformer

from geoservice.analysis.coverage import coverage, village_centres

OUTLINES = Path(__file__).resolve().parent.parent / "data" / "boundaries" / \
    "meishan_counties.geojson"
COUNTY = "511423"  # 洪雅县: west of the demo county, Gauss-Kruger zone 34 (CM 102E)
SEED = 511423
RTOL = 1e-9


# --- written out here, independently of geoservice ----------------------------------------

def gk_epsg(lon_min: float, lon_max: float) -> str:
    """CGCS2000 3-degree Gauss-Kruger zone (no prefix) of the bounding box's centre:
    zone 25 (CM 75E) is EPSG:4534, zone 45 (CM 135E) EPSG:4554."""
    zone = math.floor((lon_min + lon_max) / 2 / 3 + 0.5)
    return f"EPSG:{4534 + zone - 25}"


def project(epsg: str):
    tr = Transformer.from_crs("EPSG:4490", epsg, always_xy=True)
    return lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))


def polygon_centroid(geom, fwd) -> tuple[float, float]:
    """Area centroid of a (multi)polygon whose vertices are projected by ``fwd``: the
    shoelace sums over every ring, holes subtracted, relative to the first vertex."""
    parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    origin = fwd(np.asarray(parts[0].exterior.coords)[:1])[0]
    area = mx = my = 0.0
    for part in parts:
        rings = [(part.exterior, 1.0)] + [(r, -1.0) for r in part.interiors]
        for ring, role in rings:
            xy = fwd(np.asarray(ring.coords)) - origin
            xa, ya, xb, yb = xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]
            cross = xa * yb - xb * ya
            a = cross.sum() / 2
            sign = role if a > 0 else -role  # exterior counts positive, holes negative
            area += sign * a
            mx += sign * ((xa + xb) * cross).sum() / 6
            my += sign * ((ya + yb) * cross).sum() / 6
    return mx / area + origin[0], my / area + origin[1]


def expected_centres(villages: gpd.GeoDataFrame, epsg: str) -> np.ndarray:
    """Centres in metres: own centre columns, else the metric centroid if inside the
    metric polygon, else shapely's point on surface of the metric polygon."""
    fwd = project(epsg)
    out = np.empty((len(villages), 2))
    for i, geom in enumerate(villages.geometry):
        metric = shapely.transform(geom, fwd)
        c = shapely.Point(polygon_centroid(geom, fwd))
        if not metric.contains(c):
            c = metric.point_on_surface()
        out[i] = c.x, c.y
    if "center_lon" in villages.columns:
        lon = villages["center_lon"].to_numpy(dtype=float)
        lat = villages["center_lat"].to_numpy(dtype=float)
        own = np.isfinite(lon) & np.isfinite(lat)
        out[own] = fwd(np.column_stack([lon[own], lat[own]]))
    return out


def gaussian(d: np.ndarray, d0: float) -> np.ndarray:
    """Dai (2010): 1 at 0, 0 at d0 and beyond."""
    e = math.exp(-0.5)
    return np.where(d <= d0, (np.exp(-0.5 * (d / d0) ** 2) - e) / (1 - e), 0.0)


def dense_g2sfca(d: np.ndarray, demand: np.ndarray, supply: np.ndarray, d0: float):
    g = gaussian(d, d0)
    reach = g.T @ demand
    ratio = np.divide(supply, reach, out=np.zeros(len(supply)), where=reach > 0)
    return g @ ratio


def pysal_g2sfca(codes, d: np.ndarray, demand: np.ndarray, supply: np.ndarray, d0: float):
    i, j = np.nonzero(d <= d0)
    cost = pd.DataFrame({"origin": codes[i], "dest": j, "cost": d[i, j]})
    dem = pd.DataFrame({"elderly": demand}, index=pd.Index(codes, name="geoid"))
    sup = pd.DataFrame({"beds": supply}, index=pd.Index(np.arange(len(supply)), name="geoid"))
    ref = fca.two_stage_fca(dem, sup, cost, max_cost=d0, demand_index=True,
                            demand_name="elderly", supply_index=True, supply_name="beds",
                            cost_origin="origin", cost_dest="dest", cost_name="cost",
                            weight_fn=lambda x: gaussian(np.asarray(x, dtype=float), d0))
    return ref.reindex(codes).fillna(0.0).to_numpy()


# --- the two counties ----------------------------------------------------------------------

def generated_county() -> dict:
    """Villages (Voronoi cells of random seeds clipped to the real outline), townships by
    nearest township seat, facilities at random, some villages with their own centre."""
    rng = np.random.default_rng(SEED)
    outlines = gpd.read_file(OUTLINES).set_crs("EPSG:4490", allow_override=True)
    outline = shapely.make_valid(outlines.loc[outlines["code"] == COUNTY].geometry.iloc[0])
    minx, miny, maxx, maxy = outline.bounds
    fwd = project(gk_epsg(minx, maxx))
    area_m = shapely.transform(outline, fwd)

    def inside(n):
        bx0, by0, bx1, by1 = area_m.bounds
        got = np.empty((0, 2))
        while len(got) < n:
            cand = rng.uniform((bx0, by0), (bx1, by1), (4 * n, 2))
            got = np.vstack([got, cand[shapely.contains_xy(area_m, cand[:, 0], cand[:, 1])]])
        return got[:n]

    seeds = inside(160)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds),
                                                       ordered=True))
    cells = shapely.make_valid(shapely.intersection(cells, area_m))
    keep = ~shapely.is_empty(cells)
    seeds, cells = seeds[keep], cells[keep]
    seats = seeds[rng.choice(len(seeds), 9, replace=False)]
    town = np.argmin(((seeds[:, None, :] - seats[None]) ** 2).sum(axis=2), axis=1)
    serial = pd.Series(town).groupby(town).cumcount().to_numpy()
    tcodes = np.array([f"{COUNTY}{100 + t:03d}" for t in town])
    pop = rng.integers(600, 4200, len(seeds))
    villages = gpd.GeoDataFrame({
        "code": [f"{t}{200 + s:03d}" for t, s in zip(tcodes, serial, strict=True)],
        "name": [f"生成{i}村" for i in range(len(seeds))],
        "township_code": tcodes, "population": pop,
        "elderly_population": (pop * rng.uniform(0.15, 0.32, len(seeds))).astype(int),
    }, geometry=cells, crs=gk_epsg(minx, maxx)).to_crs("EPSG:4490")
    # A committee location for one village in ten (inside its village, off its centroid).
    own = rng.random(len(villages)) < 0.1
    committee = gpd.GeoSeries(shapely.point_on_surface(cells[own]),
                              crs=gk_epsg(minx, maxx)).to_crs("EPSG:4490")
    villages["center_lon"], villages["center_lat"] = np.nan, np.nan
    villages.loc[own, "center_lon"] = committee.x.to_numpy()
    villages.loc[own, "center_lat"] = committee.y.to_numpy()

    def points(n):
        return gpd.GeoSeries(shapely.points(inside(n)), crs=gk_epsg(minx, maxx)) \
            .to_crs("EPSG:4490").to_numpy()

    levels = rng.choice(["township_center", "village_station", "group_point"], 70)
    beds = pd.Series(rng.integers(0, 60, 70), dtype="Int64")
    beds[rng.random(70) < 0.1] = pd.NA  # beds not given
    stations = gpd.GeoDataFrame({"name": [f"站{i}" for i in range(70)], "level": levels,
                                 "beds": beds}, geometry=points(70), crs="EPSG:4490")
    homes = gpd.GeoDataFrame({
        "name": [f"院{i}" for i in range(8)], "kind": "township",
        "beds": rng.integers(30, 160, 8)}, geometry=points(8), crs="EPSG:4490")
    return {"villages": villages, "elderly_service_points": stations, "welfare_homes": homes}


@pytest.fixture(scope="module")
def counties():
    from geoservice.config import DEMO_WORKSPACE
    from layers import open_store

    s = open_store(DEMO_WORKSPACE)
    demo = {k: s.read(k) for k in ("villages", "welfare_homes", "elderly_service_points")}
    return {"demo": demo, "generated": generated_county()}


def _setup(county, layer):
    villages, facilities = county["villages"], county[layer]
    b = villages.total_bounds
    epsg = gk_epsg(b[0], b[2])
    c = expected_centres(villages, epsg)
    f = project(epsg)(shapely.get_coordinates(facilities.geometry.array))
    d = np.sqrt(((c[:, None, :] - f[None, :, :]) ** 2).sum(axis=2))
    return villages, facilities, epsg, c, d


# --- the tests -----------------------------------------------------------------------------

def test_the_generated_county_is_not_the_demo(counties):
    gen = counties["generated"]["villages"]
    assert gk_epsg(*gen.total_bounds[[0, 2]]) == "EPSG:4543"  # CM 102E; the demo is 105E
    assert len(gen) > 140 and gen["code"].str.startswith(COUNTY).all()
    assert gen["center_lon"].notna().sum() >= 5


@pytest.mark.parametrize("name", ["demo", "generated"])
def test_centres_are_taken_in_metres(counties, name):
    villages, _, epsg, expected, _ = _setup(counties[name], "elderly_service_points")
    got = project(epsg)(shapely.get_coordinates(village_centres(villages).array))
    assert np.abs(got - expected).max() < 1e-6  # a micrometre
    # ... and that is not what a centroid in degrees gives (about a millimetre to a metre).
    fwd = project(epsg)
    in_degrees = fwd(shapely.get_coordinates(shapely.centroid(villages.geometry.array)))
    plain = ~villages.get("center_lon", pd.Series(np.nan, index=villages.index)).notna() \
        .to_numpy()
    metric = np.array([shapely.transform(g, fwd) for g in villages.geometry])
    centroid_inside = shapely.contains_xy(metric, expected[:, 0], expected[:, 1]) & plain
    off = np.hypot(*(in_degrees - expected)[centroid_inside].T)
    assert off.max() > 1e-3


@pytest.mark.parametrize("name, layer, radius", [
    ("demo", "elderly_service_points", 800), ("demo", "elderly_service_points", 2000),
    ("demo", "welfare_homes", 15000), ("generated", "elderly_service_points", 1500),
    ("generated", "elderly_service_points", 5000), ("generated", "welfare_homes", 12000)])
def test_coverage_nearest_and_g2sfca_equal_the_references(counties, name, layer, radius):
    villages, facilities, epsg, centres, d = _setup(counties[name], layer)
    ours = coverage(villages, facilities, layer=layer, radius_m=radius)
    v = ours.villages

    # the centres the result reports are the metric ones
    back = Transformer.from_crs(epsg, "EPSG:4490", always_xy=True)
    lon, lat = back.transform(centres[:, 0], centres[:, 1])
    np.testing.assert_allclose(v["centre_lon"], lon, rtol=0, atol=1e-10)
    np.testing.assert_allclose(v["centre_lat"], lat, rtol=0, atol=1e-10)

    nearest = d.min(axis=1)
    np.testing.assert_allclose(v["nearest_m"].to_numpy(), nearest, rtol=RTOL, atol=0)
    covered = nearest <= radius
    assert 0 < covered.sum() < len(villages) or layer == "welfare_homes"
    assert (v["covered"].to_numpy() == covered).all()
    eld = villages["elderly_population"].to_numpy(dtype=float)
    assert ours.summary["covered_villages"] == covered.sum()
    assert ours.summary["covered_elderly"] == eld[covered].sum()

    beds = pd.to_numeric(facilities["beds"], errors="coerce").fillna(0).to_numpy(dtype=float)
    mine = dense_g2sfca(d, eld, beds, radius)
    pysal = pysal_g2sfca(villages["code"].to_numpy(), d, eld, beds, radius)
    assert np.count_nonzero(mine) >= 10  # not a comparison of zeros
    np.testing.assert_allclose(pysal, mine, rtol=RTOL, atol=0)
    np.testing.assert_allclose(v["access"].to_numpy(), mine, rtol=RTOL, atol=0)
    np.testing.assert_allclose(v["access"].to_numpy(), pysal, rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", ["demo", "generated"])
def test_presence_counts_facilities_inside_each_polygon(counties, name):
    villages, facilities = counties[name]["villages"], counties[name]["elderly_service_points"]
    ours = coverage(villages, facilities, layer="elderly_service_points", radius_m=2000)
    inside = np.array([sum(poly.intersects(p) for p in facilities.geometry)
                       for poly in villages.geometry])
    assert inside.sum() > 0
    assert (ours.villages["facilities_inside"].to_numpy() == inside).all()
