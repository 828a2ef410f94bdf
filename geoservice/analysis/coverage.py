"""Coverage and accessibility: how well are the villages' elderly served, and where not.

Plain functions: GeoDataFrames in (stored CRS, EPSG:4490), a :class:`CoverageResult` out.
Distances are straight-line metres in the CGCS2000 Gauss-Kruger zone of the villages'
centre. Every pairwise step goes through a KD-tree or an STRtree, so cost grows near
N log N, not villages x facilities.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.spatial import cKDTree

from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import records
from geoservice.analysis.settings import coverage_defaults, load_defaults
from geoservice.analysis.vocabulary import WEIGHTINGS, level_field
from layers.crs import STORED_CRS, metric_crs
from layers.schema import KINDS

_ANY_GK = "EPSG:4544"  # an empty layer has no centre: any zone will do

_E_HALF = math.exp(-0.5)


@dataclass
class CoverageResult:
    """Villages (polygons, with ``covered``, ``nearest_m``, ``access`` ...), townships,
    the facilities used, and a summary with the inputs that produced them."""

    villages: gpd.GeoDataFrame
    townships: pd.DataFrame
    facilities: gpd.GeoDataFrame
    summary: dict
    uncovered: pd.DataFrame = field(default_factory=pd.DataFrame)

    def village_fields(self) -> list[str]:
        """The fields of a village row in :meth:`to_dict` (every column but the geometry)."""
        return [c for c in self.villages.columns if c != "geometry"]

    def to_dict(self, *, fields: list[str] | None = None, offset: int = 0,
                limit: int | None = None) -> dict:
        """The JSON shape of the CLI's ``--json`` and ``/api/coverage``.

        ``fields`` keeps only those fields of the village rows (in the order given);
        ``offset``/``limit`` return one page of the village rows. The summary, townships
        and uncovered villages are always whole. Unknown fields raise ``InvalidInput``.
        """
        columns = self.village_fields()
        if fields is not None:
            unknown = [f for f in fields if f not in columns]
            if unknown:
                raise InvalidInput(f"参数 fields 中的字段“{'、'.join(unknown)}”无效：村的字段有 "
                                   + "、".join(columns), name="fields")
            columns = list(dict.fromkeys(fields))
        stop = None if limit is None else offset + limit
        villages = pd.DataFrame(self.villages[columns].iloc[offset:stop])
        return {
            "summary": self.summary,
            "townships": records(self.townships),
            "villages": records(villages),
            "uncovered": records(self.uncovered),
        }


def gaussian_weight(d: np.ndarray, d0: float) -> np.ndarray:
    """Dai (2010) Gaussian weight: 1 at distance 0, 0 at ``d0`` and beyond."""
    d = np.asarray(d, dtype=float)
    w = (np.exp(-0.5 * (d / d0) ** 2) - _E_HALF) / (1.0 - _E_HALF)
    return np.where(d <= d0, w, 0.0)


def village_centres(villages: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """A point per village, in the villages' CRS.

    The village's own centre (``center_lon`` / ``center_lat``, e.g. the committee's
    location) when given; else its centroid, taken in metres in the CGCS2000 Gauss-Kruger
    zone of the villages (:func:`layers.crs.metric_crs`), when that lies inside the
    polygon; else a representative point (always inside). See :func:`village_centres_xy`
    for the same centres in metres, which is what the analyses measure from.
    """
    vill = villages.to_crs(STORED_CRS)
    _, lonlat = village_centres_xy(vill, metric_crs(vill) if len(vill) else _ANY_GK)
    points = gpd.GeoSeries(shapely.points(lonlat) if len(lonlat) else [], index=villages.index,
                           crs=STORED_CRS)
    return points if villages.crs is None or points.crs == villages.crs \
        else points.to_crs(villages.crs)


def village_centres_xy(vill: gpd.GeoDataFrame, gk: str) -> tuple[np.ndarray, np.ndarray]:
    """The centres of :func:`village_centres` as (metres in ``gk``, lon/lat stored CRS),
    two n x 2 arrays, for villages in the stored CRS.

    Computed in metres: the polygons are projected to ``gk`` and the centroid and the
    inside test are made there (a centroid taken in degrees is up to about a metre off
    for a village-sized polygon). The metre coordinates are the ones measured from; the
    lon/lat are their inverse projection, or the village's own centre as given.
    """
    geoms = _geoms(vill)
    if len(geoms) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    metric = shapely.transform(geoms, _transform(STORED_CRS, gk))
    points = shapely.centroid(metric)
    outside = ~shapely.contains(metric, points)
    points[outside] = shapely.point_on_surface(metric[outside])
    xy = shapely.get_coordinates(points)
    lon, lat = _transform(gk, STORED_CRS)(xy).T
    lonlat = np.column_stack([lon, lat])
    if {"center_lon", "center_lat"} <= set(vill.columns):
        own = np.column_stack([
            pd.to_numeric(vill["center_lon"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(vill["center_lat"], errors="coerce").to_numpy(dtype=float)])
        given = np.isfinite(own).all(axis=1)
        if given.any():
            lonlat[given] = own[given]
            xy[given] = _transform(STORED_CRS, gk)(own[given])
    return xy, lonlat


@functools.cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _transform(source: str, target: str):
    """A function (n x 2 array) -> (n x 2 array) from ``source`` to ``target``, as
    :func:`shapely.transform` takes it."""
    tr = _transformer(source, target)

    def apply(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return np.asarray(xy, dtype=float).reshape(0, 2)
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return apply


def _project_xy(points: np.ndarray, crs: str) -> np.ndarray:
    """Coordinates (n x 2) of stored-CRS points in ``crs``."""
    return _transform(STORED_CRS, crs)(shapely.get_coordinates(points))


def _geoms(gdf) -> np.ndarray:
    """Plain shapely geometries (no pandas ufunc dispatch in vectorised calls)."""
    return np.asarray(gdf.geometry.array, dtype=object)


def facility_supply(facilities: pd.DataFrame, layer: str) -> np.ndarray:
    """Supply of each facility: beds; for cemeteries the graves still free."""
    if layer == "cemeteries":
        cap = pd.to_numeric(facilities.get("capacity_graves"), errors="coerce")
        used = pd.to_numeric(facilities.get("used_graves"), errors="coerce")
        if cap is None:
            return np.zeros(len(facilities))
        free = cap.fillna(0) - (used.fillna(0) if used is not None else 0)
        return np.clip(free.to_numpy(dtype=float), 0, None)
    if "beds" not in facilities.columns:
        return np.zeros(len(facilities))
    return pd.to_numeric(facilities["beds"], errors="coerce").fillna(0).to_numpy(dtype=float)


def filter_facilities(facilities: gpd.GeoDataFrame, layer: str,
                      level: str | None) -> gpd.GeoDataFrame:
    """Keep one ``level`` (service points) or ``kind`` (homes, cemeteries) when given."""
    if not level:
        return facilities
    column = level_field(layer)
    if column not in facilities.columns:
        return facilities.iloc[0:0]
    return facilities[facilities[column] == level]


def g2sfca(demand_xy: np.ndarray, demand: np.ndarray, supply_xy: np.ndarray,
           supply: np.ndarray, d0: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian two-step floating catchment (Dai 2010) with catchment ``d0`` metres.

    Returns (A per demand point, R per supply point):
    R_j = S_j / sum_k G(d_kj) P_k (0 when nobody is in reach), A_i = sum_j G(d_ij) R_j.
    """
    n, m = len(demand_xy), len(supply_xy)
    if n == 0 or m == 0:
        return np.zeros(n), np.zeros(m)
    pairs = cKDTree(demand_xy).sparse_distance_matrix(
        cKDTree(supply_xy), d0, output_type="ndarray")
    w = gaussian_weight(pairs["v"], d0)
    g = sparse.csr_matrix((w, (pairs["i"], pairs["j"])), shape=(n, m))
    reach = g.T @ demand
    ratio = np.divide(supply, reach, out=np.zeros(m), where=reach > 0)
    return g @ ratio, ratio


def care_layers() -> list[str]:
    """The layers whose beds are elderly-care beds, counted together as the plans count
    them (``[coverage.beds] care_layers`` in defaults.toml)."""
    beds = load_defaults()["coverage"]["beds"]
    return list(beds.get("care_layers", ["welfare_homes", "elderly_service_points"]))


def _code_text(values) -> np.ndarray:
    """Codes as text (None where missing), whatever type the column came in."""
    col = pd.Series(np.asarray(values, dtype=object), dtype=object)
    given = col.notna().to_numpy()
    out = np.full(len(col), None, dtype=object)
    if given.any():
        text = col[given].astype(str).str.strip().str.replace(r"^(\d+)\.0$", r"\1",
                                                              regex=True)
        out[given] = np.where(text.to_numpy() == "", None, text.to_numpy())
    return out


class _Villages:
    """The villages for placing facilities: their polygons, and their codes, which may
    repeat (an imported layer with duplicate codes is accepted with a warning)."""

    def __init__(self, vill: gpd.GeoDataFrame):
        self.geoms = _geoms(vill)
        self.tree = shapely.STRtree(self.geoms)
        self.codes = _code_text(vill["code"].to_numpy())
        self.names = vill["name"].astype(str).to_numpy()
        self.towns = vill["township_code"].to_numpy()
        seen = pd.Series(self.codes[pd.notna(self.codes)])
        counts = seen.value_counts()
        self.duplicated = set(counts.index[counts > 1])
        first = ~pd.Series(self.codes).duplicated() & pd.notna(self.codes)
        self.position = dict(zip(self.codes[first.to_numpy()],
                                 np.flatnonzero(first.to_numpy()), strict=True))

    def place(self, points: np.ndarray, stated) -> dict:
        """The village each facility counts for: the polygon holding its point (first
        match on a shared edge), else the village its own ``village_code`` names when that
        code names exactly one village. Returns the village index per facility (-1: none),
        the polygon hits (for presence), and which facilities depend on a code naming
        several villages (``stated_ambiguous``: outside every polygon, not placed;
        ``in_ambiguous``: inside a village whose code repeats)."""
        n = len(points)
        if n:
            f_idx, v_idx = self.tree.query(points, predicate="intersects")
        else:
            f_idx, v_idx = np.array([], int), np.array([], int)
        village = np.full(n, -1)
        village[f_idx[::-1]] = v_idx[::-1]  # first match wins
        stated = _code_text(stated) if stated is not None else np.full(n, None, dtype=object)
        stated_ambiguous = np.zeros(n, dtype=bool)
        for i in np.flatnonzero((village < 0) & pd.notna(stated)):
            code = stated[i]
            if code in self.duplicated:
                stated_ambiguous[i] = True
            elif code in self.position:
                village[i] = self.position[code]
        in_ambiguous = np.zeros(n, dtype=bool)
        if self.duplicated:
            on = village >= 0
            in_ambiguous[on] = pd.Series(self.codes[village[on]], dtype=object) \
                .isin(self.duplicated).to_numpy()
        return {"village": village, "f_idx": f_idx, "v_idx": v_idx, "stated": stated,
                "stated_ambiguous": stated_ambiguous, "in_ambiguous": in_ambiguous}

    def column(self, values: np.ndarray, village: np.ndarray) -> np.ndarray:
        """``values`` of each facility's village (None where it has none)."""
        out = np.full(len(village), None, dtype=object)
        on = village >= 0
        out[on] = np.asarray(values, dtype=object)[village[on]]
        return out


def _facility_points(fac: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Geometries and the point each counts from (polygon cemeteries: a point inside)."""
    geoms = _geoms(fac)
    return geoms, np.where(shapely.get_type_id(geoms) == 0, geoms,
                           shapely.point_on_surface(geoms))


def _usable(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    fac = facilities.to_crs(STORED_CRS)
    return fac[fac.geometry.notna() & ~fac.geometry.is_empty]


def coverage(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, layer: str,
             radius_m: float, level: str | None = None,
             townships: gpd.GeoDataFrame | None = None, target: float | None = None,
             beds_target: float | None = None, weighting: str = "villages",
             care_facilities: dict[str, gpd.GeoDataFrame] | None = None,
             inputs: dict | None = None) -> CoverageResult:
    """Coverage of ``villages`` by the facilities of ``layer`` within ``radius_m`` metres.

    Parameters
    ----------
    villages : villages layer (code, name, township_code, population, elderly_population).
        Codes may repeat: where a result depends on such a code the summary says so
        (``code_warnings``, ``ambiguous_village_codes``) instead of picking one village.
    facilities : the facility layer (points), any level; filtered by ``level`` here.
    layer : ``welfare_homes``, ``elderly_service_points`` or ``cemeteries``.
    radius_m : service radius in metres (straight line), also the G2SFCA catchment.
    level : keep only facilities of this ``level`` (service points) or ``kind``.
    townships : for township names (optional).
    target : coverage share (0-1) to pass; default from ``defaults.toml``.
    weighting : which share the target is compared with: ``villages`` (share of villages
        covered, what plans quote), ``population`` or ``elderly``.
    beds_target : beds per 1,000 elderly to pass; default from ``defaults.toml``. It is
        compared with all elderly-care beds (``care_beds_per_1000_elderly``), as the plans
        count them; ``beds_per_1000_elderly`` is this layer's own figure, shown beside it.
    care_facilities : the elderly-care layers whose beds count together (``care_layers()``:
        welfare homes and elderly service points, every level), by layer name. Default:
        this layer alone, unfiltered, when it is one of them (the summary names the layers
        counted, ``care_beds_layers``). Not used for cemeteries, which count graves.
    inputs : extra provenance (layer versions ...) copied into the summary.
    """
    if radius_m is None or not np.isfinite(radius_m) or radius_m <= 0:
        raise InvalidInput(f"参数 radius_m（服务半径）应为正数（米），而不是 {radius_m}",
                           name="radius_m")
    if weighting not in WEIGHTINGS:
        raise InvalidInput(f"参数 weighting（加权方式）“{weighting}”无效：可选 "
                           + "、".join(f"{k}（{v[1]}）" for k, v in WEIGHTINGS.items()),
                           name="weighting")
    defaults = coverage_defaults(layer, level)
    target = defaults["target"] if target is None else float(target)
    beds_target = defaults["beds_per_1000"] if beds_target is None else float(beds_target)
    # Everything is measured in metres in the GK zone: village centres are computed there
    # (village_centres_xy), facilities are projected points; point in polygon is tested
    # in the stored CRS, where the polygons are.
    vill = villages.to_crs(STORED_CRS)
    gk = metric_crs(vill) if len(vill) else _ANY_GK
    places = _Villages(vill)
    fac = _usable(filter_facilities(facilities, layer, level))
    fac_geoms, fac_points = _facility_points(fac)
    cxy, clonlat = village_centres_xy(vill, gk)
    fxy = _project_xy(fac_points, gk)
    pop = pd.to_numeric(vill["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    eld = pd.to_numeric(vill["elderly_population"], errors="coerce").fillna(0) \
        .to_numpy(dtype=float)

    if len(fxy) and len(cxy):
        nearest, nearest_idx = cKDTree(fxy).query(cxy, k=1)
    else:
        nearest = np.full(len(cxy), np.inf)
        nearest_idx = np.full(len(cxy), -1)
    covered = nearest <= radius_m

    # Which village polygon holds each facility (a point on a shared edge counts for both
    # neighbours' presence); the village a facility counts for in its township's figures.
    placed = places.place(fac_points, fac.get("village_code"))
    inside_count = np.bincount(placed["v_idx"], minlength=len(vill))
    supply = facility_supply(fac, layer)
    fac_village = placed["village"]

    access, ratio = g2sfca(cxy, eld, fxy, supply, radius_m)

    out = gpd.GeoDataFrame({
        "code": vill["code"].to_numpy(),
        "name": vill["name"].to_numpy(),
        "township_code": vill["township_code"].to_numpy(),
        "population": pop.astype(int),
        "elderly_population": eld.astype(int),
        "covered": covered,
        "nearest_m": np.where(np.isfinite(nearest), nearest, np.nan),
        "nearest_facility": np.where(nearest_idx >= 0,
                                     fac["name"].to_numpy()[np.clip(nearest_idx, 0, None)]
                                     if len(fac) else None, None),
        "facilities_inside": inside_count,
        "has_facility": inside_count > 0,
        "access": access,
        "access_per_1000": access * 1000.0,
    }, geometry=_geoms(vill), crs=STORED_CRS)
    out["centre_lon"], out["centre_lat"] = clonlat[:, 0], clonlat[:, 1]

    facilities_out = gpd.GeoDataFrame({
        "name": fac["name"].to_numpy(),
        "supply": supply,
        "ratio": ratio,
        "village_code": places.column(places.codes, fac_village),
        "township_code": places.column(places.towns, fac_village),
        "village_code_ambiguous": placed["in_ambiguous"] | placed["stated_ambiguous"],
    }, geometry=fac_geoms, crs=STORED_CRS)
    for col in ("level", "kind", "beds", "capacity_graves", "used_graves"):
        if col in fac.columns:
            facilities_out[col] = fac[col].to_numpy()

    # The analysed layer, unfiltered, is placed once: reused when it is a care layer.
    done = {layer: (facilities, fac, placed)} if not level else {}
    care = None if layer == "cemeteries" else _care_beds(
        places, care_facilities if care_facilities is not None else
        ({layer: facilities} if layer in care_layers() else {}), done)
    notes = _CodeNotes(places)
    notes.facilities(layer, fac, placed)
    if care is not None:
        for name, (cfac, cplaced) in care["placed"].items():
            notes.facilities(name, cfac, cplaced)

    metric = WEIGHTINGS[weighting][0]
    town = _townships(out, facilities_out, townships, target, beds_target, layer, metric, care)
    summary = _summary(out, facilities_out, layer, radius_m, level, target, beds_target,
                       defaults, len(fac), weighting, care)
    summary["ambiguous_village_codes"] = notes.codes()
    summary["code_warnings"] = notes.messages(layer)
    summary["inputs"] = {**(inputs or {}), "date": dt.date.today().isoformat(),
                         "crs": f"{gk}（高斯-克吕格，米）"}
    unc = out.loc[~out["covered"], ["code", "name", "township_code", "elderly_population",
                                    "population", "nearest_m"]]
    unc = unc.sort_values(["elderly_population", "code"], ascending=[False, True])
    return CoverageResult(out, town, facilities_out, summary, pd.DataFrame(unc))


def _care_beds(places: _Villages, layers: dict[str, gpd.GeoDataFrame], done: dict) -> dict:
    """All elderly-care beds of ``layers`` (every level), each facility in the township of
    the village it counts for: per-facility township codes and beds, totals by layer.
    ``done``: layer -> (frame given, usable frame, placement) already worked out."""
    towns, beds, by_layer, placed_by_layer = [], [], {}, {}
    for name in care_layers():
        if name not in layers or layers[name] is None:
            continue
        if name in done and done[name][0] is layers[name]:
            _, fac, placed = done[name]
        else:
            fac = _usable(layers[name])
            _, points = _facility_points(fac)
            placed = places.place(points, fac.get("village_code"))
        b = facility_supply(fac, name)
        towns.append(places.column(places.towns, placed["village"]))
        beds.append(b)
        by_layer[name] = float(b.sum())
        placed_by_layer[name] = (fac, placed)
    return {
        "township_code": np.concatenate(towns) if towns else np.array([], dtype=object),
        "beds": np.concatenate(beds) if beds else np.zeros(0),
        "by_layer": by_layer,
        "placed": placed_by_layer,
    }


class _CodeNotes:
    """What depends on a village code that names several villages, said in Chinese
    (identical problems grouped, a few examples named)."""

    EXAMPLES = 5

    def __init__(self, places: _Villages):
        self.places = places
        self.inside: dict[tuple, tuple[str, str, str]] = {}   # (layer, row) -> (layer, name, code)
        self.outside: dict[tuple, tuple[str, str, str]] = {}

    def facilities(self, layer: str, fac: gpd.GeoDataFrame, placed: dict) -> None:
        """Note the facilities of ``layer`` that depend on a repeated code (each facility
        once, however many of the analysis' steps placed it)."""
        names = fac["name"].astype(str).to_numpy() if len(fac) else np.array([], dtype=object)
        rows = fac.index.to_numpy()
        for i in np.flatnonzero(placed["in_ambiguous"]):
            self.inside[(layer, rows[i])] = (layer, names[i],
                                             self.places.codes[placed["village"][i]])
        for i in np.flatnonzero(placed["stated_ambiguous"]):
            self.outside[(layer, rows[i])] = (layer, names[i], placed["stated"][i])

    def codes(self) -> list[dict]:
        p = self.places
        rows = []
        for code in sorted(p.duplicated):
            at = np.flatnonzero(p.codes == code)
            rows.append({"code": code, "villages": int(len(at)),
                         "names": [str(n) for n in p.names[at]],
                         "township_codes": [None if t is None else str(t)
                                            for t in p.towns[at]]})
        return rows

    def _examples(self, items: list[str]) -> str:
        more = "等" if len(items) > self.EXAMPLES else ""
        return "；".join(items[:self.EXAMPLES]) + more

    def messages(self, layer: str) -> list[str]:
        out = []
        dups = self.codes()
        if dups:
            listed = [f"{d['code']}（{'、'.join(d['names'])}）" for d in dups]
            out.append(f"村(社区)图层中有 {len(dups)} 个代码对应多个村(社区)：{self._examples(listed)}。"
                       "结果按村分行列出，但这些村按代码无法区分，请按名称和位置核对，并在村(社区)图层中更正代码")
        if self.inside:
            listed = [f"{KINDS[k].label}“{n}”：{c}" for k, n, c in self.inside.values()]
            out.append(f"{len(self.inside)} 处设施位于代码重复的村(社区)内：{self._examples(listed)}。"
                       "按位置计入了所在乡镇，但结果中的所在村代码不能唯一确定是哪个村")
        if self.outside:
            what = "墓穴" if layer == "cemeteries" else "床位"
            listed = [f"{KINDS[k].label}“{n}”：{c}" for k, n, c in self.outside.values()]
            out.append(f"{len(self.outside)} 处设施不在任何村(社区)范围内，而其填写的所在村代码对应多个村："
                       f"{self._examples(listed)}。无法确定其所在村和乡镇，未计入任何乡镇的{what}"
                       "（仍计入全县合计）")
        return out


def _rate(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _graves(fac: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """Capacity, used and remaining graves per cemetery (remaining = capacity - used,
    never below 0: what :func:`facility_supply` gives)."""
    def num(col):
        if col not in fac.columns:
            return np.zeros(len(fac))
        return pd.to_numeric(fac[col], errors="coerce").fillna(0).to_numpy(dtype=float)

    return {"capacity_graves": num("capacity_graves"), "used_graves": num("used_graves"),
            "remaining_graves": fac["supply"].to_numpy(dtype=float)}


def _summary(v: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, layer: str, radius_m: float, level,
             target, beds_target, defaults: dict, n_fac: int, weighting: str,
             care: dict | None) -> dict:
    n = len(v)
    elderly = float(v["elderly_population"].sum())
    covered_elderly = float(v.loc[v["covered"], "elderly_population"].sum())
    village_coverage = _rate(v["covered"].sum(), n)
    out = {
        "layer": layer,
        "level": level,
        "weighting": weighting,
        "radius_m": float(radius_m),
        "facilities": int(n_fac),
        "villages": int(n),
        "covered_villages": int(v["covered"].sum()),
        "village_coverage": village_coverage,
        "presence_villages": int(v["has_facility"].sum()),
        "presence_coverage": _rate(v["has_facility"].sum(), n),
        "population": int(v["population"].sum()),
        "covered_population": int(v.loc[v["covered"], "population"].sum()),
        "population_coverage": _rate(v.loc[v["covered"], "population"].sum(),
                                     v["population"].sum()),
        "elderly_population": int(elderly),
        "covered_elderly": int(covered_elderly),
        "elderly_coverage": _rate(covered_elderly, elderly),
        "target": target,
        "target_metric": WEIGHTINGS[weighting][0],
        "target_source": defaults["target_source"],
        "radius_source": defaults["radius_source"],
    }
    if layer == "cemeteries":
        # Graves, not beds: no beds figure and no beds target for a cemetery layer.
        out.update({k: float(x.sum()) for k, x in _graves(fac).items()})
    else:
        beds = float(fac["supply"].sum())
        care_total = float(care["beds"].sum())
        care_bpk = _rate(care_total * 1000.0, elderly)
        unassigned = float(care["beds"][pd.isna(care["township_code"])].sum())
        out.update({
            # this layer (and level) alone: the per-layer figure
            "beds": beds,
            "beds_per_1000_elderly": _rate(beds * 1000.0, elderly),
            # all elderly-care beds together, as the plans count them
            "care_beds": care_total,
            "care_beds_by_layer": dict(care["by_layer"]),
            "care_beds_layers": list(care["by_layer"]),
            "care_beds_per_1000_elderly": care_bpk,
            "care_beds_unassigned": unassigned,
            "beds_target": beds_target,
            "beds_target_source": defaults["beds_source"],
            "meets_beds_target": None if care_bpk is None else bool(care_bpk >= beds_target),
        })
        missing = [k for k in care_layers() if k not in care["by_layer"]]
        out["care_beds_note"] = (
            f"养老床位只计入了{'、'.join(KINDS[k].label for k in care['by_layer']) or '（无）'}："
            f"未提供{'、'.join(KINDS[k].label for k in missing)}图层" if missing else None)
    achieved = out[out["target_metric"]]
    out["meets_target"] = bool(achieved is not None and achieved >= target)
    return out


def _townships(v: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, townships, target: float,
               beds_target: float, layer: str, metric: str, care: dict | None) -> pd.DataFrame:
    # Sums per township by bincount over factorised codes (sorted as groupby sorts them;
    # a village without a township code is left out, as groupby leaves it out).
    codes, uniques = pd.factorize(v["township_code"], sort=True)
    keep = codes >= 0
    idx = codes[keep]
    n = len(uniques)

    def total(values) -> np.ndarray:
        values = np.asarray(values)[keep]
        if values.dtype == bool:
            return np.bincount(idx[values], minlength=n).astype(np.int64)
        return np.bincount(idx, weights=values, minlength=n).round().astype(np.int64)

    def per_township(town_codes, values) -> np.ndarray:
        at = uniques.get_indexer(pd.Index(town_codes, dtype=object)) if n and len(town_codes) \
            else np.full(len(town_codes), -1)
        on = at >= 0
        return np.bincount(at[on], weights=np.asarray(values, dtype=float)[on],
                           minlength=n).astype(float)

    covered = v["covered"].to_numpy(dtype=bool)
    pop = v["population"].to_numpy()
    eld = v["elderly_population"].to_numpy()
    g = pd.DataFrame({
        "villages": np.bincount(idx, minlength=n).astype(np.int64),
        "covered_villages": total(covered),
        "presence_villages": total(v["has_facility"].to_numpy(dtype=bool)),
        "population": total(pop),
        "covered_population": total(np.where(covered, pop, 0)),
        "elderly_population": total(eld),
        "covered_elderly": total(np.where(covered, eld, 0)),
    }, index=uniques.rename("township_code"))
    fac_town = fac["township_code"].to_numpy()
    g["facilities"] = per_township(fac_town, np.ones(len(fac))).astype(int)
    g["village_coverage"] = g["covered_villages"] / g["villages"]
    g["presence_coverage"] = g["presence_villages"] / g["villages"]
    g["population_coverage"] = (g["covered_population"] / g["population"]).where(
        g["population"] > 0)
    g["elderly_coverage"] = (g["covered_elderly"] / g["elderly_population"]).where(
        g["elderly_population"] > 0)
    g["meets_target"] = g[metric] >= target
    has_elderly = g["elderly_population"] > 0
    if layer == "cemeteries":
        for key, values in _graves(fac).items():
            g[key] = per_township(fac_town, values)
    else:
        g["beds"] = per_township(fac_town, fac["supply"].to_numpy(dtype=float))
        g["beds_per_1000_elderly"] = (g["beds"] * 1000 / g["elderly_population"]).where(
            has_elderly)
        g["care_beds"] = per_township(care["township_code"], care["beds"])
        g["care_beds_per_1000_elderly"] = (
            g["care_beds"] * 1000 / g["elderly_population"]).where(has_elderly)
        g["meets_beds_target"] = g["care_beds_per_1000_elderly"] >= beds_target
    g = g.reset_index().rename(columns={"township_code": "code"})
    names = {}
    if townships is not None and len(townships):
        names = dict(zip(townships["code"], townships["name"], strict=False))
    g.insert(1, "name", g["code"].map(names))
    return g
