"""Coverage and accessibility: how well are the villages' elderly served, and where not.

Plain functions: GeoDataFrames in (stored CRS, EPSG:4490), a :class:`CoverageResult` out.
Distances are straight-line metres in the CGCS2000 Gauss-Kruger zone of the villages'
centre. Every pairwise step goes through a KD-tree or an STRtree, so cost grows near
N log N, not villages x facilities.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.array import GeometryArray, from_shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from geoservice.analysis.cost import STRAIGHT, CostSource
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import page_records, records
from geoservice.analysis.settings import coverage_defaults, load_defaults
from geoservice.analysis.vocabulary import FCA_METHODS, WEIGHTINGS, level_field
from layers.crs import STORED_CRS, gk_zone_epsg, metric_crs
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
        return {
            "summary": self.summary,
            "townships": records(self.townships),
            "villages": page_records(self.villages, self.village_fields(), fields=fields,
                                     offset=offset, limit=limit, noun="村"),
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
    return _centres_xy(vill, _geoms(vill), gk)


def _centres_xy(vill: pd.DataFrame, geoms: np.ndarray, gk: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`village_centres_xy` of the polygons ``geoms`` (stored CRS), the own centres
    (if any) read from the columns of ``vill``."""
    if len(geoms) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    metric = shapely.transform(geoms, _transform(STORED_CRS, gk))
    points = shapely.centroid(metric)
    xy = shapely.get_coordinates(points)
    if len(xy) == len(points):  # (an empty polygon has no centroid to test by x/y)
        outside = ~shapely.contains_xy(metric, xy[:, 0], xy[:, 1])
    else:
        outside = ~shapely.contains(metric, points)
    if outside.any():
        points[outside] = shapely.point_on_surface(metric[outside])
        xy = shapely.get_coordinates(points)
    lon, lat = _transform(gk, STORED_CRS)(xy).T
    lonlat = np.column_stack([lon, lat])
    if "center_lon" in vill.columns and "center_lat" in vill.columns:
        own = np.column_stack([
            pd.to_numeric(vill["center_lon"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(vill["center_lat"], errors="coerce").to_numpy(dtype=float)])
        given = np.isfinite(own).all(axis=1)
        if given.any():
            lonlat[given] = own[given]
            xy[given] = _transform(STORED_CRS, gk)(own[given])
    return xy, lonlat


def metre_centres(villages: gpd.GeoDataFrame) -> tuple[str, np.ndarray, np.ndarray]:
    """The villages' GK zone and their centres in it and in lon/lat, as :func:`coverage`
    computes them (pass them back as ``centres=`` to skip the projection of every vertex)."""
    geoms = _stored_geoms(villages)
    gk = _metric_crs(geoms)
    xy, lonlat = _centres_xy(villages, geoms, gk)
    return gk, xy, lonlat


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
    values = _geometry_values(gdf)
    return np.asarray(gdf.geometry.array if values is None else values, dtype=object)


def _geometry_values(gdf) -> GeometryArray | None:
    """``gdf.geometry.array`` of a GeoDataFrame, read from its blocks without building the
    GeoSeries; None when it is not that plain case (then ask ``gdf.geometry``)."""
    name = getattr(gdf, "_geometry_column_name", None)
    if not isinstance(gdf, gpd.GeoDataFrame) or not isinstance(name, str) \
            or name not in gdf.columns:
        return None
    values = _stored(gdf, name)
    return values if isinstance(values, GeometryArray) else None


@functools.cache
def _stored_crs() -> CRS:
    """The stored CRS as geopandas makes it of ``STORED_CRS`` (made once)."""
    return CRS.from_user_input(STORED_CRS)


@functools.lru_cache(maxsize=32)
def _is_stored_srs(srs: str) -> bool:
    return CRS.from_user_input(srs).is_exact_same(CRS.from_user_input(STORED_CRS))


def _stored_geoms(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The geometries of ``gdf.to_crs(STORED_CRS)`` as a plain array, without a copy of
    the frame when it is already in the stored CRS (``to_crs`` leaves the geometries
    untouched then)."""
    values = _geometry_values(gdf)
    crs = gdf.crs if values is None else values.crs
    if crs is not None and _is_stored_srs(crs.srs):
        return _geoms(gdf) if values is None else np.asarray(values, dtype=object)
    return _geoms(gdf.to_crs(STORED_CRS))


def _metric_crs(geoms: np.ndarray) -> str:
    """:func:`layers.crs.metric_crs` of stored-CRS geometries (the same bounds, taken from
    the array)."""
    if len(geoms) == 0:
        return _ANY_GK
    bounds = shapely.bounds(geoms)
    if np.isnan(bounds[:, 0]).all():  # nothing but empty geometries
        minx, _, maxx, _ = shapely.total_bounds(geoms)
    else:  # what total_bounds gives, without its guard against all-NaN warnings
        minx, maxx = np.nanmin(bounds[:, 0]), np.nanmax(bounds[:, 2])
    return f"EPSG:{gk_zone_epsg((minx + maxx) / 2)}"


def _numbers(col) -> np.ndarray:
    """``pd.to_numeric(col, errors="coerce").fillna(0)`` as floats, in one step for the
    numeric columns layers come in (numpy or nullable integers, floats). ``col``: a
    Series, or for those numeric columns their array as stored (see :func:`_stored`)."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        out = np.array(col, dtype=float, copy=True)
        if dtype.kind == "f":
            out[np.isnan(out)] = 0.0
        return out
    if isinstance(dtype, pd.core.dtypes.dtypes.BaseMaskedDtype) and dtype.kind in "iu":
        return col.to_numpy(dtype=float, na_value=0.0)
    return pd.to_numeric(col, errors="coerce").fillna(0).to_numpy(dtype=float)


def _number_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """``_numbers(frame[name])``, without building the Series for a numeric column."""
    values = _stored(frame, name)
    if values.ndim == 1 and values.dtype.kind in "iuf" and (
            isinstance(values.dtype, np.dtype)
            or isinstance(values.dtype, pd.core.dtypes.dtypes.BaseMaskedDtype)
            and values.dtype.kind != "f"):
        return _numbers(values)
    return _numbers(frame[name])


def _stored(frame: pd.DataFrame, name: str):
    """The values of ``frame[name]`` as the frame stores them (``Series._values``: an
    ndarray for a numpy column, else the extension array), to read only, without
    building the Series (a cost that counts at county size). A name that several columns
    share: ``frame[name]`` itself, a DataFrame (two-dimensional: callers then take the
    general way)."""
    loc = frame.columns.get_loc(name)
    if type(loc) is int:
        try:
            return frame._get_column_array(loc)
        except AttributeError:  # pragma: no cover - pandas without this internal
            return frame[name]._values
    return frame[name]


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
    return _number_column(facilities, "beds")


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
           supply: np.ndarray, d0: float, *,
           supply_tree: cKDTree | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian two-step floating catchment (Dai 2010) with catchment ``d0`` metres.

    Returns (A per demand point, R per supply point):
    R_j = S_j / sum_k G(d_kj) P_k (0 when nobody is in reach), A_i = sum_j G(d_ij) R_j.
    ``supply_tree``: a KD-tree of ``supply_xy`` already built.

    The sums run over the pairs within ``d0`` in the order of the sparse matrix products
    G^T P and G R (by demand point, then supply point), so the results are those of
    ``scipy.sparse`` to the last bit, without building the matrix.
    """
    n, m = len(demand_xy), len(supply_xy)
    if n == 0 or m == 0:
        return np.zeros(n), np.zeros(m)
    tree = cKDTree(supply_xy) if supply_tree is None else supply_tree
    return _g2sfca(_pairs(demand_xy, tree, m, d0), n, m, demand, supply, d0)


def _pairs(demand_xy: np.ndarray, supply_tree: cKDTree, m: int,
           d0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of a demand point and one of the ``m`` supply points within ``d0`` of
    each other, by demand point then supply point: (demand, supply, distance) arrays."""
    pairs = cKDTree(demand_xy).sparse_distance_matrix(supply_tree, d0, output_type="ndarray")
    order = np.argsort(pairs["i"] * m + pairs["j"])
    return pairs["i"][order], pairs["j"][order], pairs["v"][order]


def _g2sfca(pairs: tuple, n: int, m: int, demand, supply,
            d0: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`g2sfca` of ``n`` demand and ``m`` supply points from their :func:`_pairs`."""
    i, j, d = pairs
    w = gaussian_weight(d, d0)
    reach = np.bincount(j, weights=w * np.asarray(demand, dtype=float)[i], minlength=m)
    ratio = np.divide(supply, reach, out=np.zeros(m), where=reach > 0)
    access = np.bincount(i, weights=w * ratio[j], minlength=n)
    return access.astype(float, copy=False), ratio  # (no pairs: bincount gives integers)


def _nearest(xy: np.ndarray, tree: cKDTree, pairs: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(xy, k=1)`` (distance to and index of each point's nearest tree point)
    given the :func:`_pairs` of ``xy`` with the tree's points. A point with pairs whose
    least distance only one pair has gets that pair: the query finds that same point at
    that same distance (both compute the squared distance the same way, then its root;
    with a tie the query's choice depends on the tree, so such a point is queried, as is
    every point without pairs)."""
    i, j, d = pairs
    n = len(xy)
    nearest = np.empty(n)
    index = np.empty(n, dtype=np.intp)
    todo = np.ones(n, dtype=bool)
    if len(i):
        first = np.flatnonzero(np.concatenate(([True], i[1:] != i[:-1])))
        group = np.repeat(np.arange(len(first)), np.diff(np.append(first, len(i))))
        at = np.flatnonzero(d == np.minimum.reduceat(d, first)[group])
        alone = np.bincount(group[at], minlength=len(first))[group[at]] == 1
        at = at[alone]
        point = i[at]
        nearest[point] = d[at]
        index[point] = j[at]
        todo[point] = False
    rest = np.flatnonzero(todo)
    if len(rest):
        nearest[rest], index[rest] = tree.query(xy[rest], k=1)
    return nearest, index


def care_layers() -> list[str]:
    """The layers whose beds are elderly-care beds, counted together as the plans count
    them (``[coverage.beds] care_layers`` in defaults.toml)."""
    beds = load_defaults()["coverage"]["beds"]
    return list(beds.get("care_layers", ["welfare_homes", "elderly_service_points"]))


def _code_text(values) -> np.ndarray:
    """Codes as text (None where missing), whatever type the column came in."""
    col = np.asarray(values, dtype=object)
    if _plain_codes(col):
        return col.copy()
    col = pd.Series(col, dtype=object)
    given = col.notna().to_numpy()
    out = np.full(len(col), None, dtype=object)
    if given.any():
        text = col[given].astype(str).str.strip().str.replace(r"^(\d+)\.0$", r"\1",
                                                              regex=True)
        out[given] = np.where(text.to_numpy() == "", None, text.to_numpy())
    return out


def _plain_codes(col: np.ndarray) -> bool:
    """Whether every value is a non-empty ``str`` of ASCII letters and digits only:
    nothing to strip, no ".0" to drop, nothing empty."""
    values = col.tolist()
    if not values or set(map(type, values)) != {str} or not all(values):
        return False
    text = "".join(values)
    return text.isascii() and text.encode().isalnum()


class _Villages:
    """The villages for placing facilities: their polygons, and their codes, which may
    repeat (an imported layer with duplicate codes is accepted with a warning)."""

    def __init__(self, vill: gpd.GeoDataFrame, geoms: np.ndarray | None = None):
        """``geoms``: the polygons of ``vill`` in the stored CRS, when already at hand."""
        self.geoms = _geoms(vill) if geoms is None else geoms
        self.tree = shapely.STRtree(self.geoms)
        self.codes = _code_text(_numpy_column(vill, "code"))
        vill.columns.get_loc("name")  # (a missing column is a KeyError here, as it was)
        self._vill = vill
        self.towns = _numpy_column(vill, "township_code")
        self._at = np.flatnonzero(pd.notna(self.codes))
        given = self.codes[self._at].tolist()
        self.duplicated = set() if len(set(given)) == len(given) else \
            {c for c, k in collections.Counter(given).items() if k > 1}

    @functools.cached_property
    def position(self) -> dict:
        """The position of the first village of each code."""
        given = self.codes[self._at].tolist()
        # later ones are written first, then overwritten
        return dict(zip(given[::-1], self._at[::-1].tolist(), strict=True))

    @functools.cached_property
    def names(self) -> np.ndarray:
        return self._vill["name"].astype(str).to_numpy()

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


def _nearest_names(fac: pd.DataFrame, nearest_idx: np.ndarray):
    """The name of each village's nearest facility (None where it has none): what
    ``np.where(nearest_idx >= 0, names[nearest_idx], None)`` of the names as objects
    gives once in a frame. Names given as text with none missing are taken as they
    are (the frame would infer that same text dtype again from the strings)."""
    m = len(fac)
    if m and len(nearest_idx) and nearest_idx.min() >= 0 and nearest_idx.max() < m:
        values = _stored(fac, "name")
        if values.ndim == 1 and values.dtype == _text_dtype() and not values.isna().any():
            return values.take(nearest_idx)
    names = fac["name"].to_numpy()
    return np.where(nearest_idx >= 0, names[np.clip(nearest_idx, 0, None)] if m else None,
                    None)


def _facility_points(geoms: np.ndarray) -> np.ndarray:
    """The point each facility counts from (polygon cemeteries: a point inside)."""
    point = shapely.get_type_id(geoms) == 0
    if point.all():
        return geoms
    return np.where(point, geoms, shapely.point_on_surface(geoms))


def _usable(facilities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The facilities that have a geometry, in the stored CRS, and their geometries (the
    frame given, not a copy, when nothing is to change)."""
    values = _geometry_values(facilities)
    crs = facilities.crs if values is None else values.crs
    if crs is not None and _is_stored_srs(crs.srs):
        fac = facilities
        geoms = _geoms(fac) if values is None else np.asarray(values, dtype=object)
    else:
        fac = facilities.to_crs(STORED_CRS)
        geoms = _geoms(fac)
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not usable.all():
        fac, geoms = fac[usable], geoms[usable]
    return fac, geoms


def coverage(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, layer: str,
             radius_m: float, level: str | None = None,
             townships: gpd.GeoDataFrame | None = None, target: float | None = None,
             beds_target: float | None = None, weighting: str = "villages",
             care_facilities: dict[str, gpd.GeoDataFrame] | None = None,
             inputs: dict | None = None,
             centres: tuple[str, np.ndarray, np.ndarray] | None = None,
             cost: CostSource | None = None, method: str = "g2sfca",
             cutoffs: tuple[float, ...] = ()) -> CoverageResult:
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
    centres : ``metre_centres(villages)`` computed before for these same villages (a service
        keeps them per villages version); computed here when None or for another zone.
    cost : how travel is measured (:mod:`geoservice.analysis.cost`): straight-line metres
        when None; a road network (metres or minutes) or an OD matrix otherwise. The
        radius, ``nearest_m`` and the catchment are then in the cost's unit
        (``summary["cost"]["unit"]``).
    method : accessibility method, ``g2sfca`` (default), ``2sfca``, ``e2sfca`` or ``3sfca``.
    cutoffs : further cutoffs (same unit): the share of villages, people and elderly whose
        nearest facility is within each (``summary["cutoffs"]``).
    """
    if radius_m is None or not np.isfinite(radius_m) or radius_m <= 0:
        raise InvalidInput(f"参数 radius_m（服务半径）应为正数（米），而不是 {radius_m}",
                           name="radius_m")
    if method not in FCA_METHODS:
        raise InvalidInput(f"参数 method（可达性方法）“{method}”无效：可选 "
                           + "、".join(f"{k}（{v}）" for k, v in FCA_METHODS.items()),
                           name="method")
    cutoffs = tuple(float(c) for c in cutoffs)
    if any(not np.isfinite(c) or c <= 0 for c in cutoffs):
        raise InvalidInput("参数 cutoffs（多个服务半径）应为正数", name="cutoffs")
    if weighting not in WEIGHTINGS:
        raise InvalidInput(f"参数 weighting（加权方式）“{weighting}”无效：可选 "
                           + "、".join(f"{k}（{v[1]}）" for k, v in WEIGHTINGS.items()),
                           name="weighting")
    defaults = coverage_defaults(layer, level)
    target = defaults["target"] if target is None else float(target)
    beds_target = defaults["beds_per_1000"] if beds_target is None else float(beds_target)
    # Everything is measured in metres in the GK zone: village centres are computed there
    # (village_centres_xy), facilities are projected points; point in polygon is tested
    # in the stored CRS, where the polygons are. The frames given are read, never copied:
    # only their geometries are brought into the stored CRS.
    vill_geoms = _stored_geoms(villages)
    n = len(vill_geoms)
    gk = _metric_crs(vill_geoms)
    places = _Villages(villages, vill_geoms)
    fac, fac_geoms = _usable(filter_facilities(facilities, layer, level))
    fac_points = _facility_points(fac_geoms)
    if centres is not None and centres[0] == gk and len(centres[1]) == n:
        _, cxy, clonlat = centres
        clonlat = clonlat.copy()  # it becomes the result's columns; the kept one stays as is
    else:
        cxy, clonlat = _centres_xy(villages, vill_geoms, gk)
    fxy = _project_xy(fac_points, gk)
    pop = _number_column(villages, "population").astype(int)
    eld_float = _number_column(villages, "elderly_population")
    eld = eld_float.astype(int)

    costs = (None if cost is None or cost.spec.straight else
             cost.bind(cxy, {"facilities": fxy}, crs=gk, origin_codes=_column(villages, "code"),
                       names={"facilities": _column(fac, "name")}))
    if costs is None:
        fac_tree = cKDTree(fxy) if len(fxy) else None
        # the village-facility pairs within the radius, for the accessibility and most
        # nearest facilities
        pairs = _pairs(cxy, fac_tree, len(fxy), radius_m) if len(fxy) and len(cxy) else None
        if pairs is not None:
            nearest, nearest_idx = _nearest(cxy, fac_tree, pairs)
        else:
            nearest = np.full(len(cxy), np.inf)
            nearest_idx = np.full(len(cxy), -1)
    else:
        pairs = costs.within("facilities", radius_m) if len(fxy) and len(cxy) else None
        nearest, nearest_idx = costs.nearest("facilities")
    covered = nearest <= radius_m

    # Which village polygon holds each facility (a point on a shared edge counts for both
    # neighbours' presence); the village a facility counts for in its township's figures.
    placed = places.place(fac_points, _stored(fac, "village_code")
                          if "village_code" in fac.columns else None)  # (fac.get(...))
    inside_count = np.bincount(placed["v_idx"], minlength=n)
    presence = inside_count > 0
    supply = facility_supply(fac, layer)
    fac_village = placed["village"]

    if pairs is not None:  # (what g2sfca computes from the pairs)
        access, ratio = _accessibility(method, pairs, len(cxy), len(fxy), eld_float, supply,
                                       radius_m)
    else:
        access, ratio = np.zeros(len(cxy)), np.zeros(len(fxy))

    out = _geoframe({
        "code": _column(villages, "code"),
        "name": _column(villages, "name"),
        "township_code": _column(villages, "township_code"),
        "population": pop,
        "elderly_population": eld,
        "covered": covered,
        "nearest_m": np.where(np.isfinite(nearest), nearest, np.nan),
        "nearest_facility": _nearest_names(fac, nearest_idx),
        "facilities_inside": inside_count,
        "has_facility": presence,
        "access": access,
        "access_per_1000": access * 1000.0,
        "geometry": vill_geoms,
        "centre_lon": clonlat[:, 0],
        "centre_lat": clonlat[:, 1],
    })

    fac_towns = places.column(places.towns, fac_village)
    facilities_out = _geoframe({
        "name": _column(fac, "name"),
        "supply": supply,
        "ratio": ratio,
        "village_code": places.column(places.codes, fac_village),
        "township_code": fac_towns,
        "village_code_ambiguous": placed["in_ambiguous"] | placed["stated_ambiguous"],
        "geometry": fac_geoms,
        **{col: _column(fac, col)
           # plan_site_id: the row is a site of the plan the analysis runs with
           for col in ("level", "kind", "beds", "capacity_graves", "used_graves",
                       "plan_site_id")
           if col in fac.columns},
    })

    # The analysed layer, unfiltered, is placed once: reused when it is a care layer.
    done = {layer: (facilities, fac, placed, supply)} if not level else {}
    care = None if layer == "cemeteries" else _care_beds(
        places, care_facilities if care_facilities is not None else
        ({layer: facilities} if layer in care_layers() else {}), done)
    notes = _CodeNotes(places)
    notes.facilities(layer, fac, placed)
    if care is not None:
        for name, (cfac, cplaced) in care["placed"].items():
            notes.facilities(name, cfac, cplaced)

    metric = WEIGHTINGS[weighting][0]
    figures = {"covered": covered, "presence": presence, "population": pop, "elderly": eld,
               "fac_village": fac_village, "supply": supply}
    town = _townships(out, facilities_out, figures, townships, target, beds_target, layer,
                      metric, care)
    summary = _summary(facilities_out, figures, layer, radius_m, level, target, beds_target,
                       defaults, len(fac), weighting, care)
    _cost_summary(summary, costs, method, cutoffs, nearest, figures, out, facilities_out)
    if summary["radius_unit"] == "min":
        summary["radius_source"] = defaults["radius_min_source"]
    summary["ambiguous_village_codes"] = notes.codes()
    summary["code_warnings"] = notes.messages(layer)
    summary["inputs"] = {**(inputs or {}), "date": dt.date.today().isoformat(),
                         "crs": f"{gk}（高斯-克吕格，米）"}
    return CoverageResult(out, town, facilities_out, summary, _uncovered(out, covered, eld))


def _accessibility(method: str, pairs: tuple, n: int, m: int, demand, supply,
                   d0: float) -> tuple[np.ndarray, np.ndarray]:
    """Accessibility per village and supply ratio per facility by ``method``."""
    if method == "g2sfca":
        return _g2sfca(pairs, n, m, demand, supply, d0)
    from geoservice.analysis.fca import fca

    return fca(method, pairs, n, m, demand, supply, d0)


def _cost_summary(summary: dict, costs, method: str, cutoffs: tuple, nearest: np.ndarray,
                  figures: dict, out, facilities_out) -> None:
    """How travel was measured, the accessibility method and the share within each
    further cutoff; the walk to the road per village and facility on a road network."""
    summary["cost"] = (costs.describe() if costs is not None else STRAIGHT.to_dict())
    summary["radius_unit"] = summary["cost"]["unit"]
    summary["method"] = method
    summary["method_label"] = FCA_METHODS[method]
    if costs is not None:
        snap = costs.snap()
        if snap is not None:
            out["snap_m"] = snap
            facilities_out["snap_m"] = costs.snap("facilities")
    pop, eld = figures["population"], figures["elderly"]
    rows = []
    for c in sorted(set(cutoffs)):
        within = nearest <= c
        rows.append({
            "cutoff": c,
            "villages": int(within.sum()),
            "village_share": _rate(within.sum(), len(within)),
            "population": int(pop[within].sum()),
            "population_share": _rate(pop[within].sum(), pop.sum()),
            "elderly": int(eld[within].sum()),
            "elderly_share": _rate(eld[within].sum(), eld.sum()),
        })
    summary["cutoffs"] = rows


def _geoframe(columns: dict) -> gpd.GeoDataFrame:
    """A GeoDataFrame of ``columns`` (arrays; ``geometry``: shapely geometries in the
    stored CRS) in the order given: what ``GeoDataFrame({...}, geometry=...,
    crs=STORED_CRS)`` plus columns set afterwards gives, built in one step."""
    columns["geometry"] = from_shapely(columns["geometry"], crs=_stored_crs())
    frame = _frame(columns)
    try:
        # What geopandas itself does with the result of a pandas operation on a
        # GeoDataFrame (``_constructor_from_mgr``): wrap the frame's blocks, without the
        # checks and copies of ``__init__``, which cost more than the whole frame here.
        out = gpd.GeoDataFrame._from_mgr(frame._mgr, frame._mgr.axes)
        out._geometry_column_name = "geometry"
        return out
    except AttributeError:  # pragma: no cover - pandas/geopandas without these internals
        return gpd.GeoDataFrame(frame)


try:  # the steps of ``pd.DataFrame(dict)`` (pandas internals, checked by the tests)
    from pandas.core.construction import sanitize_array as _sanitize_array
    from pandas.core.dtypes.generic import ABCNumpyExtensionArray as _NumpyEA
    from pandas.core.internals.construction import arrays_to_mgr as _arrays_to_mgr
except ImportError:  # pragma: no cover - a pandas without them: the constructor itself
    _arrays_to_mgr = None


def _frame(columns: dict, index=None, *, copy: bool = True) -> pd.DataFrame:
    """``pd.DataFrame(columns, index=index, copy=copy)`` for a dict of 1-D arrays (numpy,
    extension arrays or Index) of one length, keyed by text: the same columns, dtypes,
    index and blocks, built without the constructor's checks of each column, which cost
    more than the data at county size. A numeric or boolean numpy column is what the
    constructor would keep as it is; any other goes through the constructor's own
    inference (``sanitize_array``), after the copy ``copy=True`` makes of it."""
    values = list(columns.values())
    if (_arrays_to_mgr is None or not values
            or not all(type(k) is str for k in columns)):
        return pd.DataFrame(columns, index=index, copy=copy)
    n = len(values[0])
    arrays = []
    for v in values:
        if type(v) is np.ndarray and v.ndim == 1 and v.dtype.kind in "biuf":
            pass  # kept as it is (copied when stacked into its block if copy)
        elif isinstance(v, pd.Index):
            v = v.copy(deep=True)._values if copy else v._values
        elif isinstance(v, pd.api.extensions.ExtensionArray) \
                and not isinstance(v, _NumpyEA):
            v = v.copy() if copy else v
        elif isinstance(v, (np.ndarray, _NumpyEA)) and v.ndim == 1:
            v = _sanitize_array(v.copy() if copy and isinstance(v, _NumpyEA) else v,
                                None, copy=False)
        else:
            return pd.DataFrame(columns, index=index, copy=copy)
        if len(v) != n:
            return pd.DataFrame(columns, index=index, copy=copy)
        arrays.append(v)
    index = pd.RangeIndex(n) if index is None else index
    if len(index) != n:
        return pd.DataFrame(columns, index=index, copy=copy)
    mgr = _arrays_to_mgr(arrays, _labels(tuple(columns)), index, verify_integrity=False,
                         consolidate=copy)
    return pd.DataFrame._from_mgr(mgr, mgr.axes)


def _labels(names: tuple) -> pd.Index:
    """``pd.Index(list(names))``: a new Index each time, on the values inferred once."""
    made = _label_values(names)
    try:
        return type(made)._simple_new(made._values, name=None)
    except AttributeError:  # pragma: no cover - pandas without this internal
        return pd.Index(list(names))


@functools.lru_cache(maxsize=64)
def _label_values(names: tuple) -> pd.Index:
    return pd.Index(list(names))


_UNCOVERED = ["code", "name", "township_code", "elderly_population", "population",
              "nearest_m"]


def _uncovered(out: gpd.GeoDataFrame, covered: np.ndarray, eld: np.ndarray) -> pd.DataFrame:
    """The villages not covered, most elderly first, then by code: what
    ``out.loc[~covered, columns].sort_values(["elderly_population", "code"],
    ascending=[False, True])`` gives (the same stable order, ties as they come, missing
    codes last), taken in one step."""
    rows = np.flatnonzero(~covered)
    taken = _stored(out, "code").take(rows)
    try:
        # the codes of ``pd.Categorical(taken, ordered=True)``: its categories are the
        # sorted distinct codes, found by the same factorize (of the objects a text
        # column holds: the same codes, see _factorize_sorted)
        if isinstance(taken, pd.arrays.StringArray) and taken.dtype == _text_dtype():
            taken_values = np.asarray(taken, dtype=object)
        else:
            taken_values = _sanitize_array(taken, None)
        code_rank, categories = pd.factorize(taken_values, sort=True)
    except (TypeError, NameError):  # unorderable codes: the error Categorical raises
        code = pd.Categorical(taken, ordered=True)
        code_rank, categories = code.codes, code.categories
    code_rank = code_rank.astype(np.int64)
    code_rank[code_rank < 0] = len(categories)
    elderly_rank = -eld[rows]
    rows = rows[np.lexsort((code_rank, elderly_rank))]
    return _frame({c: _stored(out, c).take(rows) for c in _UNCOVERED},
                  index=out.index.take(rows))


def _care_beds(places: _Villages, layers: dict[str, gpd.GeoDataFrame], done: dict) -> dict:
    """All elderly-care beds of ``layers`` (every level), each facility in the township of
    the village it counts for: per-facility township codes and beds, totals by layer.
    ``done``: layer -> (frame given, usable frame, placement, supply) already worked
    out."""
    towns, villages, beds, by_layer, placed_by_layer = [], [], [], {}, {}
    for name in care_layers():
        if name not in layers or layers[name] is None:
            continue
        if name in done and done[name][0] is layers[name]:
            _, fac, placed, b = done[name]  # (its supply: beds, as it is a care layer)
        else:
            fac, geoms = _usable(layers[name])
            placed = places.place(_facility_points(geoms), fac.get("village_code"))
            b = facility_supply(fac, name)
        towns.append(places.column(places.towns, placed["village"]))
        villages.append(placed["village"])
        beds.append(b)
        by_layer[name] = float(b.sum())
        placed_by_layer[name] = (fac, placed)
    return {
        "township_code": np.concatenate(towns) if towns else np.array([], dtype=object),
        "village": np.concatenate(villages) if villages else np.array([], dtype=int),
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
        if not (placed["in_ambiguous"].any() or placed["stated_ambiguous"].any()):
            return
        names = fac["name"].astype(str).to_numpy()
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


def _summary(fac: gpd.GeoDataFrame, figures: dict, layer: str, radius_m: float, level,
             target, beds_target, defaults: dict, n_fac: int, weighting: str,
             care: dict | None) -> dict:
    """The whole area's figures; ``figures``: the villages' ``covered``, ``presence``,
    ``population`` and ``elderly`` (integers) and the facilities' ``supply``."""
    covered, presence = figures["covered"], figures["presence"]
    pop, eld = figures["population"], figures["elderly"]
    n = len(covered)
    n_covered = int(np.count_nonzero(covered))
    n_presence = int(np.count_nonzero(presence))
    population = pop.sum()
    covered_population = pop[covered].sum()
    elderly = float(eld.sum())
    covered_elderly = float(eld[covered].sum())
    village_coverage = _rate(n_covered, n)
    out = {
        "layer": layer,
        "level": level,
        "weighting": weighting,
        "radius_m": float(radius_m),
        "facilities": int(n_fac),
        "villages": int(n),
        "covered_villages": n_covered,
        "village_coverage": village_coverage,
        "presence_villages": n_presence,
        "presence_coverage": _rate(n_presence, n),
        "population": int(population),
        "covered_population": int(covered_population),
        "population_coverage": _rate(covered_population, population),
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
        beds = float(figures["supply"].sum())
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


def _townships(v: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, figures: dict, townships,
               target: float, beds_target: float, layer: str, metric: str,
               care: dict | None) -> pd.DataFrame:
    # Sums per township by bincount over factorised codes (sorted as groupby sorts them;
    # a village without a township code is left out, as groupby leaves it out), every
    # column computed as an array and the frame built once.
    codes, uniques = _factorize_sorted(v, "township_code")
    keep = codes >= 0
    idx = codes[keep]
    n = len(uniques)

    def total(values) -> np.ndarray:
        values = np.asarray(values)[keep]
        if values.dtype == bool:
            return np.bincount(idx[values], minlength=n).astype(np.int64)
        return np.bincount(idx, weights=values, minlength=n).round().astype(np.int64)

    def per_township(village, values) -> np.ndarray:
        """Sums of facilities' ``values`` by the township of the village each counts for
        (the township's position in ``uniques`` is its villages' code)."""
        village = np.asarray(village, dtype=np.intp)
        at = np.full(len(village), -1, dtype=np.intp)
        placed = village >= 0
        at[placed] = codes[village[placed]]
        on = at >= 0
        return np.bincount(at[on], weights=np.asarray(values, dtype=float)[on],
                           minlength=n).astype(float)

    def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """part / whole, NaN where whole is 0 (``Series.where(whole > 0)``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(whole > 0, part / whole, np.nan)

    covered = figures["covered"]
    pop, eld = figures["population"], figures["elderly"]
    names = {}
    if townships is not None and len(townships):
        names = dict(zip(townships["code"], townships["name"], strict=False))
    g = {
        "code": uniques,
        "name": _township_names(uniques, names),
        "villages": np.bincount(idx, minlength=n).astype(np.int64),
        "covered_villages": total(covered),
        "presence_villages": total(figures["presence"]),
        "population": total(pop),
        "covered_population": total(np.where(covered, pop, 0)),
        "elderly_population": total(eld),
        "covered_elderly": total(np.where(covered, eld, 0)),
    }
    fac_village = figures["fac_village"]
    g["facilities"] = per_township(fac_village, np.ones(len(fac_village))).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["village_coverage"] = g["covered_villages"] / g["villages"]
        g["presence_coverage"] = g["presence_villages"] / g["villages"]
    g["population_coverage"] = share(g["covered_population"], g["population"])
    g["elderly_coverage"] = share(g["covered_elderly"], g["elderly_population"])
    g["meets_target"] = g[metric] >= target
    if layer == "cemeteries":
        for key, values in _graves(fac).items():
            g[key] = per_township(fac_village, values)
    else:
        g["beds"] = per_township(fac_village, figures["supply"])
        g["beds_per_1000_elderly"] = share(g["beds"] * 1000, g["elderly_population"])
        g["care_beds"] = per_township(care["village"], care["beds"])
        g["care_beds_per_1000_elderly"] = share(g["care_beds"] * 1000,
                                                g["elderly_population"])
        g["meets_beds_target"] = g["care_beds_per_1000_elderly"] >= beds_target
    return _frame(g, copy=False)


def _factorize_sorted(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(frame[name], sort=True)``. A text column is factorised as the
    objects it holds (the same codes: missing is -1, the uniques sorted as text), then
    the uniques are made an Index of the column's dtype as ``Series.factorize`` makes
    them, without the Series and the extension-array steps."""
    values = _stored(frame, name)
    if values.ndim == 1 and values.dtype == _text_dtype() \
            and isinstance(values, pd.arrays.StringArray):
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=True)
        return codes, pd.Index(uniques, dtype=values.dtype, copy=False)
    return pd.factorize(frame[name], sort=True)


def _township_names(codes: pd.Index, names: dict):
    """``pd.Series(codes).map(names)``, without building a Series when no name is given
    or every code has a name given as text (a plain lookup gives the same column)."""
    if len(codes) and not names:
        return np.full(len(codes), np.nan)  # what mapping by an empty dict gives
    found = [names.get(c) for c in codes.tolist()] if len(names) else []
    if len(codes) and len(found) == len(codes) and all(type(n) is str for n in found):
        return np.array(found, dtype=object)
    return pd.Series(codes).map(names).array


@functools.cache
def _text_dtype():
    """The dtype pandas gives a column of Python strings (``str`` in pandas 3)."""
    return pd.Series(np.array(["a"], dtype=object)).dtype


def _column(frame: pd.DataFrame, name: str):
    """``frame[name].to_numpy()`` as a frame built from it would hold it: a text column
    with no value missing is passed on as it is (pandas would infer the same text dtype
    again from its strings; an empty or partly missing one is left to that inference)."""
    values = _stored(frame, name)
    if values.ndim != 1:  # a name several columns share: the Series way (it fails)
        col = frame[name]
        if len(col) and col.dtype == _text_dtype() and not col.hasnans:
            return col.array
        return col.to_numpy()
    if len(values) and values.dtype == _text_dtype() and not values.isna().any():
        return values
    return _to_numpy(values)


def _numpy_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """``frame[name].to_numpy()``, without building the Series."""
    values = _stored(frame, name)
    return _to_numpy(values) if values.ndim == 1 else frame[name].to_numpy()


def _to_numpy(values) -> np.ndarray:
    """``Series.to_numpy()`` of a column stored as ``values`` (see :func:`_stored`): an
    extension dtype's own conversion, else the values (a read-only view, as pandas gives
    it under copy-on-write)."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values.to_numpy()
    out = np.asarray(values).view()
    out.flags.writeable = False
    return out
