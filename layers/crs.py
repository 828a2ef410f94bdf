"""Coordinate systems: the only module that knows about zones, GCJ-02 and BD-09.

Stored CRS is CGCS2000 geographic (EPSG:4490). Metric work happens in the CGCS2000
3-degree Gauss-Kruger zone of the data's centre (EPSG:4534-4554, no zone prefix).
GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not EPSG systems; they are handled here
with the ``coordTransform`` package (forward offsets) plus a fixed-point refinement of
the inverse, which brings round trips well under a metre.
"""

from __future__ import annotations

import math
import re

import coordTransform as ct
import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

STORED_CRS = "EPSG:4490"
GCJ02 = "gcj02"
BD09 = "bd09"
OFFSET_SYSTEMS = {GCJ02: "GCJ-02(高德/腾讯)", BD09: "BD-09(百度)"}

# Rough extent of China, used to reject coordinates that cannot be Chinese lon/lat.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

# EPSG:4513-4533: 3-degree GK zones 25-45 with the zone number in front of the easting.
# EPSG:4534-4554: the same zones (central meridian 75E-135E) without the prefix.
_PREFIXED_FIRST, _PLAIN_FIRST, _FIRST_ZONE, _LAST_ZONE = 4513, 4534, 25, 45


class CRSInputError(ValueError):
    """A CRS given by a person that we cannot use; the message is in Chinese."""


def parse_crs(text: str | None) -> str | None:
    """Normalise a user's CRS argument.

    Accepts ``gcj02``/``bd09`` (any case, with or without dash), ``EPSG:4490``, ``4490``,
    or anything pyproj understands. Returns ``gcj02``, ``bd09`` or an ``EPSG:n`` / WKT
    string; ``None`` for no CRS given.
    """
    if text is None or str(text).strip() == "":
        return None
    t = str(text).strip()
    low = t.lower().replace("-", "").replace("_", "")
    if low in ("gcj02", "gcj", "amap", "mars"):
        return GCJ02
    if low in ("bd09", "bd09ll", "baidu"):
        return BD09
    if re.fullmatch(r"\d{4,6}", t):
        t = f"EPSG:{t}"
    try:
        crs = CRS.from_user_input(t)
    except CRSError:
        raise CRSInputError(
            f"无法识别的坐标系“{text}”：请填写 EPSG 代码(如 EPSG:4490、EPSG:4544)或 gcj02 / bd09"
        ) from None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def gk_zone_epsg(lon: float) -> int:
    """EPSG code (no zone prefix) of the CGCS2000 3-degree GK zone containing ``lon``."""
    zone = math.floor(lon / 3.0 + 0.5)  # halves go east, consistently
    zone = min(max(zone, _FIRST_ZONE), _LAST_ZONE)
    return _PLAIN_FIRST + zone - _FIRST_ZONE


def metric_crs(gdf: gpd.GeoDataFrame) -> str:
    """The GK zone CRS for measuring ``gdf`` (stored CRS) in metres, from its centre."""
    minx, miny, maxx, maxy = gdf.to_crs(STORED_CRS).total_bounds
    return f"EPSG:{gk_zone_epsg((minx + maxx) / 2)}"


def prefixed_zone(eastings: np.ndarray) -> int | None:
    """Zone number carried in front of 8-digit eastings (e.g. 35 512 345 -> 35), if any.

    Returns ``None`` when the eastings are not all 8-digit or do not share one valid zone.
    """
    e = np.asarray(eastings, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0 or np.any(e < 1e7) or np.any(e >= 1e8):
        return None
    zones = np.unique((e // 1e6).astype(int))
    if zones.size != 1 or not (_FIRST_ZONE <= zones[0] <= _LAST_ZONE):
        return None
    return int(zones[0])


def prefixed_epsg(zone: int) -> str:
    return f"EPSG:{_PREFIXED_FIRST + zone - _FIRST_ZONE}"


def plain_gk_zone(crs_text: str) -> int | None:
    """Zone number of an unprefixed CGCS2000 GK CRS (EPSG:4534-4554), else None."""
    m = re.fullmatch(r"EPSG:(\d+)", crs_text or "")
    if m and _PLAIN_FIRST <= int(m.group(1)) <= _PLAIN_FIRST + _LAST_ZONE - _FIRST_ZONE:
        return int(m.group(1)) - _PLAIN_FIRST + _FIRST_ZONE
    return None


def resolve_projected(crs_text: str | None, xs: np.ndarray) -> str | None:
    """Pick the right GK CRS when eastings carry a zone prefix.

    * No CRS given and 8-digit eastings: the prefixed zone CRS (EPSG:4513-4533).
    * An unprefixed GK CRS given but the eastings carry the prefix of that zone: the
      prefixed CRS of the same zone.
    Otherwise the CRS as given.
    """
    zone = prefixed_zone(xs)
    if zone is None:
        return crs_text
    if crs_text is None:
        return prefixed_epsg(zone)
    plain = plain_gk_zone(crs_text)
    if plain is not None:
        if plain != zone:
            raise CRSInputError(
                f"坐标系 {crs_text} 是第 {plain} 带，但横坐标带号为 {zone}：请核对坐标系"
            )
        return prefixed_epsg(zone)
    return crs_text


# --- GCJ-02 / BD-09 -------------------------------------------------------------------

def _forward(func, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.ascontiguousarray(lon, dtype=float)
    lat = np.ascontiguousarray(lat, dtype=float)
    if lon.size == 0:
        return lon.copy(), lat.copy()
    x, y = func(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def wgs_to_gcj(lon, lat):
    """CGCS2000/WGS84 lon/lat to GCJ-02 (arrays)."""
    return _forward(ct.wgs84_to_gcj02, lon, lat)


def gcj_to_bd(lon, lat):
    return _forward(ct.gcj02_to_bd09, lon, lat)


def bd_to_gcj(lon, lat):
    return _forward(ct.bd09_to_gcj02, lon, lat)


def _invert(forward, lon, lat, first_guess, iterations: int = 4):
    """Solve forward(x) = target by fixed-point iteration from the library's estimate."""
    tx = np.asarray(lon, dtype=float)
    ty = np.asarray(lat, dtype=float)
    x, y = first_guess(tx, ty)
    for _ in range(iterations):
        fx, fy = forward(x, y)
        x, y = x - (fx - tx), y - (fy - ty)
    return x, y


def gcj_to_wgs(lon, lat):
    """GCJ-02 lon/lat to CGCS2000 (arrays), accurate to millimetres."""
    return _invert(wgs_to_gcj, lon, lat, lambda a, b: _forward(ct.gcj02_to_wgs84, a, b))


def wgs_to_bd(lon, lat):
    return gcj_to_bd(*wgs_to_gcj(lon, lat))


def bd_to_wgs(lon, lat):
    return _invert(wgs_to_bd, lon, lat, lambda a, b: gcj_to_wgs(*bd_to_gcj(a, b)))


def _transform_geoms(geoms: np.ndarray, func) -> np.ndarray:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def to_stored(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Reproject ``gdf`` whose coordinates are in ``source`` (EPSG/WKT, gcj02, bd09)."""
    if source in (GCJ02, BD09):
        func = gcj_to_wgs if source == GCJ02 else bd_to_wgs
        geoms = _transform_geoms(gdf.geometry.values, func)
        out = gdf.copy()
        out = out.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=STORED_CRS))
        return out
    return gdf.set_crs(source, allow_override=True).to_crs(STORED_CRS)


def from_stored(gdf: gpd.GeoDataFrame, target: str) -> gpd.GeoDataFrame:
    """Coordinates of a stored layer in ``target`` (EPSG code, gcj02 or bd09)."""
    if target in (GCJ02, BD09):
        func = wgs_to_gcj if target == GCJ02 else wgs_to_bd
        out = gdf.to_crs(STORED_CRS).copy()
        geoms = _transform_geoms(out.geometry.values, func)
        # GCJ-02 / BD-09 have no EPSG code: the result carries no CRS, so nothing can
        # mistake it for CGCS2000 later.
        return out.set_geometry(gpd.GeoSeries(geoms, index=out.index)).set_crs(
            None, allow_override=True)
    return gdf.to_crs(target)


def describe(crs_text: str | None) -> str:
    """A short Chinese description of a CRS for messages and reports."""
    if crs_text is None:
        return "未指定"
    if crs_text in OFFSET_SYSTEMS:
        return OFFSET_SYSTEMS[crs_text]
    try:
        return f"{crs_text}({CRS.from_user_input(crs_text).name})"
    except CRSError:
        return crs_text


# --- a whole file in the wrong system -------------------------------------------------

CGCS2000 = "cgcs2000"
# What each suspect means to a person (the system the file's coordinates are really in).
SUSPECT_LABELS = {CGCS2000: "CGCS2000/WGS84(天地图、GPS)", GCJ02: OFFSET_SYSTEMS[GCJ02],
                  BD09: OFFSET_SYSTEMS[BD09]}
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


def _declared_system(declared: str | None) -> str:
    return declared if declared in (GCJ02, BD09) else CGCS2000


def _reinterpret(lon: np.ndarray, lat: np.ndarray, declared: str, actual: str):
    """Stored lon/lat of points that were imported as ``declared`` had the file really
    been in ``actual``: undo the import's conversion, then do the right one."""
    if declared == GCJ02:
        lon, lat = wgs_to_gcj(lon, lat)
    elif declared == BD09:
        lon, lat = wgs_to_bd(lon, lat)
    if actual == GCJ02:
        return gcj_to_wgs(lon, lat)
    if actual == BD09:
        return bd_to_wgs(lon, lat)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _metres(dlon: np.ndarray, dlat: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Small lon/lat differences as (east, north) metres (n x 2)."""
    return np.column_stack([dlon * _M_PER_DEG_LON * np.cos(np.radians(lat)),
                            dlat * _M_PER_DEG_LAT])


def suspect_crs(lon, lat, polygons, centre_lon, centre_lat, *,
                declared: str | None = None, min_points: int = 5) -> dict:
    """Is a whole point file in another coordinate system than the one it was read in?

    Each point (stored lon/lat) belongs to one polygon (its stated or name-matched
    village) with that polygon's centre. The file is re-read as if it were in each other
    system (CGCS2000, GCJ-02, BD-09); a system is suspected when, re-read in it, the
    points fall inside their polygons clearly more often (at least half of the misses
    mended, and at least 3), or when the points' typical offset from their centres (the
    component-wise median, robust to a few misplaced points) is the GCJ-02/BD-09 shift
    itself and goes away once re-read.

    Returns ``{"suspect": "gcj02" | "bd09" | "cgcs2000" | None, "offset_m": median
    distance the points move if re-read in the suspect (None when none), "points",
    "inside": how many lie in their polygon as read, "inside_if_reread", "declared"}``.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    polygons = np.asarray(polygons, dtype=object)
    cx = np.asarray(centre_lon, dtype=float)
    cy = np.asarray(centre_lat, dtype=float)
    ok = (np.isfinite(lon) & np.isfinite(lat) & np.isfinite(cx) & np.isfinite(cy)
          & ~shapely.is_missing(polygons))
    lon, lat, polygons, cx, cy = lon[ok], lat[ok], polygons[ok], cx[ok], cy[ok]
    declared = _declared_system(declared)
    n = len(lon)
    out = {"suspect": None, "offset_m": None, "points": int(n), "inside": None,
           "inside_if_reread": None, "declared": declared, "median_offset_from_centre_m": None}
    if n < min_points:
        return out
    inside0 = int(shapely.contains_xy(polygons, lon, lat).sum()) if n else 0
    out["inside"] = inside0
    r0 = np.median(_metres(lon - cx, lat - cy, lat), axis=0)
    out["median_offset_from_centre_m"] = round(float(np.hypot(*r0)), 1)
    best = None
    for system in (CGCS2000, GCJ02, BD09):
        if system == declared:
            continue
        x, y = _reinterpret(lon, lat, declared, system)
        inside = int(shapely.contains_xy(polygons, x, y).sum())
        move = float(np.median(np.hypot(*_metres(x - lon, y - lat, lat).T)))
        r = np.median(_metres(x - cx, y - cy, lat), axis=0)
        misses0 = n - inside0
        by_inside = (misses0 >= 3 and inside - inside0 >= max(3, 0.5 * misses0))
        by_offset = (n >= 8 and inside >= inside0 and float(np.hypot(*r0)) > 0.6 * move
                     and float(np.hypot(*r)) < 0.4 * move)
        if by_inside or by_offset:
            score = (inside, -float(np.hypot(*r)))
            if best is None or score > best[0]:
                best = (score, system, move, inside)
    if best is not None:
        _, system, move, inside = best
        out.update(suspect=system, offset_m=round(move, 1), inside_if_reread=inside)
    return out


def suspect_message(result: dict, what: str) -> str | None:
    """The Chinese warning for a :func:`suspect_crs` result (None when nothing suspected);
    ``what`` names the points (“标注”、“设施”)."""
    if not result.get("suspect"):
        return None
    if result["inside_if_reread"] > result["inside"]:
        evidence = (f"按{SUSPECT_LABELS[result['suspect']]}坐标解读时，{result['points']} 个{what}中"
                    f"落在所属村(社区)内的由 {result['inside']} 个变为 {result['inside_if_reread']} 个")
    else:
        evidence = (f"{result['points']} 个{what}相对所属村(社区)中心整体偏移约 "
                    f"{result['median_offset_from_centre_m']:,.0f} 米（中位数），"
                    f"与{SUSPECT_LABELS[result['suspect']]}坐标的偏移一致")
    return (f"{what}整体偏移：{evidence}，改正后各点将移动约 {result['offset_m']:,.0f} 米。"
            f"文件很可能采用{SUSPECT_LABELS[result['suspect']]}坐标系，而导入时按"
            f"{SUSPECT_LABELS[result['declared']]}读取，请核对坐标系后重新导入")
