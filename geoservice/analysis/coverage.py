"""Coverage and accessibility: how well are the villages' elderly served, and where not.

Plain functions: GeoDataFrames in (stored CRS, EPSG:4490), a :class:`CoverageResult` out.
Distances are straight-line metres in the CGCS2000 Gauss-Kruger zone of the villages'
centre. Every pairwise step goes through a KD-tree or an STRtree, so cost grows near
N log N, not villages x facilities.
"""

from __future__ import annotations

import datetime as dt
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
from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import WEIGHTINGS, level_field
from layers.crs import STORED_CRS, metric_crs

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
    location) when given; else its centroid when that lies inside the polygon; else a
    representative point (always inside). Taken in the villages' CRS (the stored lon/lat):
    at village scale that centroid is within centimetres of the one in metres.
    """
    geoms = _geoms(villages)
    points = shapely.centroid(geoms)
    outside = ~shapely.contains(geoms, points)
    points[outside] = shapely.point_on_surface(geoms[outside])
    if {"center_lon", "center_lat"} <= set(villages.columns):
        lon = pd.to_numeric(villages["center_lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(villages["center_lat"], errors="coerce").to_numpy(dtype=float)
        given = np.isfinite(lon) & np.isfinite(lat)
        if given.any():
            own = gpd.GeoSeries(shapely.points(lon[given], lat[given]), crs="EPSG:4490")
            points[given] = _geoms(own.to_crs(villages.crs))
    return gpd.GeoSeries(points, index=villages.index, crs=villages.crs)


def _project_xy(points: np.ndarray, crs: str) -> np.ndarray:
    """Coordinates (n x 2) of stored-CRS points in ``crs``."""
    xy = shapely.get_coordinates(points)
    if len(xy) == 0:
        return xy.reshape(0, 2)
    x, y = Transformer.from_crs(STORED_CRS, crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


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


def coverage(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, layer: str,
             radius_m: float, level: str | None = None,
             townships: gpd.GeoDataFrame | None = None, target: float | None = None,
             beds_target: float | None = None, weighting: str = "villages",
             inputs: dict | None = None) -> CoverageResult:
    """Coverage of ``villages`` by the facilities of ``layer`` within ``radius_m`` metres.

    Parameters
    ----------
    villages : villages layer (code, name, township_code, population, elderly_population).
    facilities : the facility layer (points), any level; filtered by ``level`` here.
    layer : ``welfare_homes``, ``elderly_service_points`` or ``cemeteries``.
    radius_m : service radius in metres (straight line), also the G2SFCA catchment.
    level : keep only facilities of this ``level`` (service points) or ``kind``.
    townships : for township names (optional).
    target : coverage share (0-1) to pass; default from ``defaults.toml``.
    weighting : which share the target is compared with: ``villages`` (share of villages
        covered, what plans quote), ``population`` or ``elderly``.
    beds_target : beds per 1,000 elderly to pass; default from ``defaults.toml``.
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
    # Topology (centres, point in polygon) in the stored CRS; distances in metres in the
    # GK zone, projecting points only: polygons are never reprojected.
    vill = villages.to_crs(STORED_CRS)
    gk = metric_crs(vill)
    fac = filter_facilities(facilities, layer, level).to_crs(STORED_CRS)
    fac = fac[fac.geometry.notna() & ~fac.geometry.is_empty]
    # Polygon cemeteries count from a point inside them.
    fac_geoms = _geoms(fac)
    fac_points = np.where(shapely.get_type_id(fac_geoms) == 0, fac_geoms,
                          shapely.point_on_surface(fac_geoms))
    centres = village_centres(vill)
    cxy = _project_xy(_geoms(centres), gk)
    fxy = _project_xy(fac_points, gk)
    pop = pd.to_numeric(vill["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    eld = pd.to_numeric(vill["elderly_population"], errors="coerce").fillna(0) \
        .to_numpy(dtype=float)

    if len(fxy):
        nearest, nearest_idx = cKDTree(fxy).query(cxy, k=1)
    else:
        nearest = np.full(len(cxy), np.inf)
        nearest_idx = np.full(len(cxy), -1)
    covered = nearest <= radius_m

    # Which village polygon holds each facility (STRtree; a point on a shared edge
    # counts for both neighbours).
    tree = shapely.STRtree(_geoms(vill))
    f_idx, v_idx = tree.query(fac_points, predicate="intersects") if len(fac_points) else \
        (np.array([], int), np.array([], int))
    inside_count = np.bincount(v_idx, minlength=len(vill))
    supply = facility_supply(fac, layer)
    fac_village = np.full(len(fac), -1)
    fac_village[f_idx[::-1]] = v_idx[::-1]  # first match wins

    access, ratio = g2sfca(cxy, eld, fxy, supply, radius_m)

    out = gpd.GeoDataFrame({
        "code": vill["code"].to_numpy(),
        "name": vill["name"].to_numpy(),
        "township_code": vill["township_code"].to_numpy(),
        "population": pop.astype(int),
        "elderly_population": eld.astype(int),
        "covered": covered,
        "nearest_m": np.where(np.isfinite(nearest), np.round(nearest, 3), np.nan),
        "nearest_facility": np.where(nearest_idx >= 0,
                                     fac["name"].to_numpy()[np.clip(nearest_idx, 0, None)]
                                     if len(fac) else None, None),
        "facilities_inside": inside_count,
        "has_facility": inside_count > 0,
        "access": access,
        "access_per_1000": access * 1000.0,
    }, geometry=_geoms(vill), crs=STORED_CRS)
    centre_xy = shapely.get_coordinates(_geoms(centres))
    out["centre_lon"], out["centre_lat"] = centre_xy[:, 0], centre_xy[:, 1]

    facilities_out = gpd.GeoDataFrame({
        "name": fac["name"].to_numpy(),
        "supply": supply,
        "ratio": ratio,
        "village_code": np.where(fac_village >= 0,
                                 vill["code"].to_numpy()[np.clip(fac_village, 0, None)]
                                 if len(vill) else None, None),
        "township_code": np.where(fac_village >= 0,
                                  vill["township_code"].to_numpy()[np.clip(fac_village, 0, None)]
                                  if len(vill) else None, None),
    }, geometry=fac_geoms, crs=STORED_CRS)
    for col in ("level", "kind", "beds"):
        if col in fac.columns:
            facilities_out[col] = fac[col].to_numpy()

    metric = WEIGHTINGS[weighting][0]
    town = _townships(out, facilities_out, townships, target, beds_target, layer, metric)
    beds_total = float(supply.sum())
    summary = _summary(out, beds_total, layer, radius_m, level, target, beds_target,
                       defaults, len(fac), weighting)
    summary["inputs"] = {**(inputs or {}), "date": dt.date.today().isoformat(),
                         "crs": f"{gk}（高斯-克吕格，米）"}
    unc = out.loc[~out["covered"], ["code", "name", "township_code", "elderly_population",
                                    "population", "nearest_m"]]
    unc = unc.sort_values(["elderly_population", "code"], ascending=[False, True])
    return CoverageResult(out, town, facilities_out, summary, pd.DataFrame(unc))


def _rate(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _summary(v: gpd.GeoDataFrame, beds: float, layer: str, radius_m: float, level, target,
             beds_target, defaults: dict, n_fac: int, weighting: str) -> dict:
    n = len(v)
    elderly = float(v["elderly_population"].sum())
    covered_elderly = float(v.loc[v["covered"], "elderly_population"].sum())
    village_coverage = _rate(v["covered"].sum(), n)
    bpk = None if layer == "cemeteries" else _rate(beds * 1000.0, elderly)
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
        "beds": beds,
        "beds_per_1000_elderly": bpk,
        "target": target,
        "target_metric": WEIGHTINGS[weighting][0],
        "target_source": defaults["target_source"],
        "beds_target": None if layer == "cemeteries" else beds_target,
        "beds_target_source": defaults["beds_source"],
        "meets_beds_target": (None if bpk is None else bool(bpk >= beds_target)),
        "radius_source": defaults["radius_source"],
    }
    achieved = out[out["target_metric"]]
    out["meets_target"] = bool(achieved is not None and achieved >= target)
    return out


def _townships(v: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, townships, target: float,
               beds_target: float, layer: str, metric: str) -> pd.DataFrame:
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
    fac_town = uniques.get_indexer(fac["township_code"].to_numpy()) if n else \
        np.full(len(fac), -1)
    on = fac_town >= 0
    g["beds"] = np.bincount(fac_town[on], weights=fac["supply"].to_numpy(dtype=float)[on],
                            minlength=n).astype(float)
    g["facilities"] = np.bincount(fac_town[on], minlength=n).astype(int)
    g["village_coverage"] = g["covered_villages"] / g["villages"]
    g["presence_coverage"] = g["presence_villages"] / g["villages"]
    g["population_coverage"] = (g["covered_population"] / g["population"]).where(
        g["population"] > 0)
    g["elderly_coverage"] = (g["covered_elderly"] / g["elderly_population"]).where(
        g["elderly_population"] > 0)
    if layer == "cemeteries":
        g["beds_per_1000_elderly"] = np.nan
    else:
        g["beds_per_1000_elderly"] = (g["beds"] * 1000 / g["elderly_population"]).where(
            g["elderly_population"] > 0)
    g["meets_target"] = g[metric] >= target
    g["meets_beds_target"] = g["beds_per_1000_elderly"] >= beds_target
    g = g.reset_index().rename(columns={"township_code": "code"})
    names = {}
    if townships is not None and len(townships):
        names = dict(zip(townships["code"], townships["name"], strict=False))
    g.insert(1, "name", g["code"].map(names))
    return g
