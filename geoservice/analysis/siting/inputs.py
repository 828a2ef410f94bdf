"""The inputs of a siting run as arrays: village centres and weights, existing facilities
and their beds, candidates (a layer or the village centres), all in the villages'
CGCS2000 Gauss-Kruger zone; and the coverage pairs from a KD-tree (never a dense matrix)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geoservice.analysis.cost import Costs, CostSource, StraightCosts
from geoservice.analysis.coverage import _geoms, _project_xy, village_centres_xy
from geoservice.analysis.errors import InvalidInput
from layers.crs import STORED_CRS, metric_crs


@dataclass
class Inputs:
    vill: gpd.GeoDataFrame
    gk: str
    cxy: np.ndarray          # village centres, metres
    clonlat: np.ndarray      # village centres, lon/lat
    w: dict                  # weight name -> per-village array
    fxy: np.ndarray          # existing facilities, metres
    fcap: np.ndarray         # their beds
    kxy: np.ndarray          # candidates, metres
    klonlat: np.ndarray
    kid: np.ndarray
    kname: np.ndarray
    kvillage: np.ndarray     # village code the candidate lies in (or None)
    kvillage_name: np.ndarray  # that village's name, by position ("" outside every village)
    kself: bool              # candidates are the village centres themselves
    # travel cost from the villages to "facilities" and "candidates" (analysis.cost);
    # straight-line metres unless the run asks for another cost
    cost: Costs | None = None

    def __post_init__(self):
        if self.cost is None:
            self.cost = StraightCosts(self.cxy, {"facilities": self.fxy,
                                                 "candidates": self.kxy})

    @property
    def village_names(self) -> np.ndarray:
        return self.vill["name"].astype(str).to_numpy()

    @property
    def codes(self) -> np.ndarray:
        return self.vill["code"].astype(str).to_numpy()


def points_of(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geoms = _geoms(gdf)
    return np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))


def read_inputs(villages, facilities, candidates, cost: CostSource | None = None) -> Inputs:
    """The arrays of a run; ``cost``: how travel is measured (straight line when None)."""
    vill = villages.to_crs(STORED_CRS)
    gk = metric_crs(vill)
    cxy, clonlat = village_centres_xy(vill, gk)
    centres = shapely.points(clonlat) if len(clonlat) else np.zeros(0, dtype=object)
    num = {c: pd.to_numeric(vill[c], errors="coerce").fillna(0).to_numpy(dtype=float)
           for c in ("population", "elderly_population")}
    w = {"elderly": num["elderly_population"], "population": num["population"],
         "villages": np.ones(len(vill))}
    fxy, fcap, fname = _facilities(facilities, gk)
    codes = vill["code"].astype(str).to_numpy()
    if candidates is None:
        kpts = centres
        kid, kname, kvillage = codes, vill["name"].astype(str).to_numpy(), codes
        kvillage_name = vill["name"].astype(str).to_numpy()
        kxy = cxy
        kself = True
    else:
        kpts, kid, kname, kvillage, kvillage_name = _candidates(candidates, vill, codes)
        kxy = _project_xy(kpts, gk)
        kself = False
    kname = np.asarray(kname, dtype=object)
    costs = None
    if cost is not None and not cost.spec.straight:
        # an OD matrix names a candidate that is a village centre by its village code
        costs = cost.bind(cxy, {"facilities": fxy, "candidates": kxy}, crs=gk,
                          origin_codes=codes,
                          names={"facilities": fname, "candidates": codes if kself else kname})
    return Inputs(vill=vill, gk=gk, cxy=cxy, clonlat=clonlat, w=w,
                  fxy=fxy, fcap=fcap, kxy=kxy, kvillage_name=kvillage_name,
                  klonlat=shapely.get_coordinates(kpts), kid=np.asarray(kid, dtype=object),
                  kname=kname, kvillage=kvillage, kself=kself, cost=costs)


def _facilities(facilities, gk: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Existing facilities (metres), their beds (0 when the layer has none) and names."""
    if facilities is None or not len(facilities):
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=object)
    fac = facilities.to_crs(STORED_CRS)
    fac = fac[fac.geometry.notna() & ~fac.geometry.is_empty]
    fxy = _project_xy(points_of(fac), gk)
    fcap = (pd.to_numeric(fac["beds"], errors="coerce").fillna(0).to_numpy(dtype=float)
            if "beds" in fac.columns else np.zeros(len(fac)))
    fname = (fac["name"].astype(object).where(fac["name"].notna(), "").astype(str).to_numpy(
        dtype=object) if "name" in fac.columns else np.full(len(fac), "", dtype=object))
    return fxy, fcap, fname


def _candidates(candidates, vill, codes):
    """Points, ids (fid, else row label), names and the village each lies in."""
    cand = candidates.to_crs(STORED_CRS)
    cand = cand[cand.geometry.notna() & ~cand.geometry.is_empty]
    if len(cand) == 0:
        raise InvalidInput("参数 candidates（备选站点）图层没有任何有效的点", name="candidates")
    kpts = points_of(cand)
    ids = cand["fid"] if "fid" in cand.columns else pd.Series(cand.index, index=cand.index)
    kid = np.array([str(x) for x in ids])
    if "name" in cand.columns:
        nm = cand["name"].astype(object).where(cand["name"].notna(), None).to_numpy()
        kname = np.array([str(n) if n not in (None, "") else f"备选点{i}"
                          for n, i in zip(nm, kid, strict=True)], dtype=object)
    else:
        kname = np.array([f"备选点{i}" for i in kid], dtype=object)
    tree = shapely.STRtree(_geoms(vill))
    k_idx, v_idx = tree.query(kpts, predicate="intersects")
    owner = np.full(len(kpts), -1)
    owner[k_idx[::-1]] = v_idx[::-1]  # first match wins
    kvillage = np.array([codes[o] if o >= 0 else None for o in owner], dtype=object)
    vnames = vill["name"].astype(str).to_numpy()
    kvillage_name = np.array([vnames[o] if o >= 0 else "" for o in owner], dtype=object)
    return kpts, kid, kname, kvillage, kvillage_name


def nearest(xy_from: np.ndarray, xy_to: np.ndarray) -> np.ndarray:
    """Distance from each ``xy_from`` to the nearest ``xy_to`` (inf when none): the same
    KD-tree query coverage() uses, so "covered" is decided by the same arithmetic."""
    if len(xy_to) == 0:
        return np.full(len(xy_from), np.inf)
    return cKDTree(xy_to).query(xy_from, k=1)[0]


def cover_matrix(cxy: np.ndarray, kxy: np.ndarray, radius_m: float) -> sparse.csc_matrix:
    """Villages x candidates, 1 where the candidate is within the radius (sparse)."""
    n, m = len(cxy), len(kxy)
    if n == 0 or m == 0:
        return sparse.csc_matrix((n, m))
    pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(kxy), radius_m, output_type="ndarray")
    keep = pairs["v"] <= radius_m
    a = sparse.csc_matrix((np.ones(int(keep.sum())), (pairs["i"][keep], pairs["j"][keep])),
                          shape=(n, m))
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def cost_cover_matrix(costs: Costs, n: int, radius_m: float) -> sparse.csc_matrix:
    """Villages x candidates, 1 where the candidate is within the radius of ``costs``."""
    m = costs.size("candidates")
    i, j, _ = costs.within("candidates", radius_m)
    return sparse.csc_matrix((np.ones(len(i)), (i, j)), shape=(n, m))


def nearest_cost(data: Inputs, to: str, cols=None) -> np.ndarray:
    """Cost from each village to the nearest of the set (inf when none): the KD-tree
    query of :func:`nearest` on straight lines."""
    if data.cost.straight:
        xy = data.fxy if to == "facilities" else data.kxy
        return nearest(data.cxy, xy if cols is None else xy[np.asarray(cols, dtype=np.intp)])
    if cols is not None and len(cols) == 0:
        return np.full(len(data.cxy), np.inf)
    return data.cost.nearest(to, cols)[0]


@dataclass
class Coverage:
    """Who is covered before, and which candidates would cover whom."""

    d_before: np.ndarray      # distance to the nearest existing facility
    cov_before: np.ndarray    # covered by an existing facility
    a_all: sparse.csc_matrix  # villages x all candidates
    a_e: sparse.csc_matrix    # villages x eligible candidates
    w: np.ndarray             # the chosen weight per village
    w_unc: np.ndarray         # ... zero where already covered


def coverage_of(data: Inputs, elig: np.ndarray, weight: str, radius_m: float) -> Coverage:
    d_before = data.cost.nearest("facilities")[0]
    cov_before = d_before <= radius_m
    a_all = (cover_matrix(data.cxy, data.kxy, radius_m) if data.cost.straight else
             cost_cover_matrix(data.cost, len(data.cxy), radius_m))
    w = data.w[weight]
    return Coverage(d_before=d_before, cov_before=cov_before, a_all=a_all, a_e=a_all[:, elig],
                    w=w, w_unc=np.where(cov_before, 0.0, w))


def share(num, den):
    return float(num) / float(den) if den else None
