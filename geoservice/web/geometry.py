"""Simplified polygon geometry of a stored layer, for a zoom level: what the maps' bulk
layers (``maps.bulk``, ``maps/static/province.js``) draw at province scale.

``GET /api/layers/<kind>/geometry?zoom=Z[&version=N][&bbox=…][&props=name,code][&pinyin=1]``

Every feature (or those whose extent meets ``bbox``) of one version, its polygons
simplified with a tolerance of one screen pixel at the zoom bucket of ``Z`` (``BUCKETS``:
the smallest bucket at least ``Z``; ``shapely.simplify``, topology preserved) and its
coordinates rounded to what that zoom shows. The body is compact JSON:

- ``scale`` (degrees per unit) and ``origin`` (lon, lat): a coordinate is
  ``origin + scale * n`` for whole numbers ``n``;
- ``geometries``: per feature a list of polygons, each a list of rings, each a flat list
  ``[x0, y0, dx1, dy1, …]``: the first point in units from the origin, the next ones as the
  difference from the previous one (the closing point left out);
- ``points``: per feature a point inside it (``[x, y]`` in units from the origin), where
  its name is drawn and the search goes;
- ``ids``: each feature's position in the layer (the same for every zoom and bbox of one
  version: a map refines the features it drew at a coarser zoom);
- ``properties``: the fields of ``props`` (default ``name,code``), one list per field, as
  stored (text as it is: the map shows it as text nodes); ``pinyin`` (``pinyin=1``): full
  pinyin and initials of each name, for the map's search box (``geometry=0``: without
  ``geometries`` and ``points``, as the map asks for it once it has drawn the features).

One layer version at one bucket is simplified once and kept (``CACHE_ENTRIES`` of them,
least recently used dropped; a new version is a new key); the whole layer's body is kept
encoded and gzip-compressed, sent compressed when the client accepts gzip. Simplifying is
done for the whole layer at once (``_parts``: the rounded features' validity checked in
bulk, only the invalid ones snap-rounded by GEOS; ``encode_many``: every vertex encoded
with numpy, the same strings as ``_encode_reference`` feature by feature). The names'
pinyin is computed once per version, after the geometry was sent, names kept across
versions (``pinyin_of``).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import shapely
from flask import Response, current_app, request

from geoservice.errors import BadParameter
from geoservice.services.params import whole_number
from layers import KINDS, LayerStore

BUCKETS = (6, 8, 10, 12, 14, 16)
CACHE_ENTRIES = 24
PINYIN_WAIT = 10.0  # seconds the warm-up waits for the geometry to be sent before pinyin
EXTENSION = "geoservice_geometry"
DEFAULT_PROPS = ("name", "code")
POLYGONAL = {"Polygon", "MultiPolygon"}


def encoded_json(data: bytes, gz: bool, *, compressed: bool = False) -> Response:
    """A JSON body, gzip-encoded when the client takes it (``gz``): ``data`` is already
    the gzip bytes when ``compressed`` (a cached whole-layer body), else compressed here."""
    if gz and not compressed:
        data = gzip.compress(data, 5)
    resp = Response(data, mimetype="application/json")
    resp.headers["Vary"] = "Accept-Encoding"
    if gz:
        resp.headers["Content-Encoding"] = "gzip"
    return resp


def zoom_bucket(zoom: int) -> int:
    """The bucket geometry for ``zoom`` is simplified at: the smallest one at least ``zoom``."""
    for b in BUCKETS:
        if zoom <= b:
            return b
    return BUCKETS[-1]


def pixel_degrees(zoom: int) -> float:
    """The width of one screen pixel at ``zoom`` in degrees of longitude (256-pixel tiles)."""
    return 360.0 / (256 * 2 ** zoom)


def grid_step(zoom: int) -> float:
    """Coordinates at ``zoom`` are rounded to a power of ten at most half a pixel."""
    return 10.0 ** math.floor(math.log10(pixel_degrees(zoom) / 2))


def polygonal(geom):
    """The polygons of ``geom`` (a GeometryCollection keeps only its polygonal parts)."""
    if geom is None or geom.is_empty:
        return []
    kind = geom.geom_type
    if kind == "Polygon":
        return [geom]
    if kind == "MultiPolygon":
        return list(geom.geoms)
    if kind == "GeometryCollection":
        return [p for g in geom.geoms for p in polygonal(g)]
    return []


def _ring(coords: np.ndarray, origin: np.ndarray, step: float) -> list[int] | None:
    """A ring as whole units from the origin, delta-encoded; None when it collapses."""
    q = np.rint((coords[:, :2] - origin) / step).astype(np.int64)
    if len(q) > 1 and (q[0] == q[-1]).all():
        q = q[:-1]  # the closing point: Leaflet closes rings itself
    if len(q) > 1:
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = (np.diff(q, axis=0) != 0).any(axis=1)
        q = q[keep]
    if len(q) < 3:
        return None
    d = q.copy()
    d[1:] -= q[:-1]
    return d.ravel().tolist()


def _valid_after_rounding(poly, origin: np.ndarray, step: float) -> bool:
    """Whether ``poly`` (already on the grid, or an original smaller than the grid) stays
    a valid polygon rounded to the grid."""
    q = shapely.transform(poly, lambda c: np.rint((c - origin) / step))
    return bool(q.is_valid) and q.area > 0


def _encode_reference(geom, origin: np.ndarray, step: float, *, on_grid: bool = False) -> str:
    """One feature's geometry as the JSON of ``geometries`` (see the module docstring);
    ``on_grid``: already rounded to the grid (valid as it is), else checked. The encoder
    feature by feature: ``encode_many``'s oracle, and what it falls back to for the rare
    feature it does not encode itself (a ring that collapses, a part not on the grid)."""
    polys = []
    for poly in polygonal(geom):
        outer = _ring(np.asarray(poly.exterior.coords), origin, step)
        if outer is None or not (on_grid or _valid_after_rounding(poly, origin, step)):
            # smaller than the grid: a tiny triangle at its place so it is still drawn
            x, y = np.rint((np.asarray(poly.representative_point().coords[0]) - origin)
                           / step).astype(np.int64).tolist()
            outer = [x, y, 1, 0, -1, 1]
        rings = [outer]
        for hole in poly.interiors:
            r = _ring(np.asarray(hole.coords), origin, step)
            if r is not None:
                rings.append(r)
        polys.append(rings)
    return json.dumps(polys, separators=(",", ":"))


_RING_ENDS = np.array([",", "],[", "]],[[", "]]]"], dtype=object)


def _offsets(kind: int, offsets: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``shapely.to_ragged_array``'s offsets as (points by ring, rings by polygon,
    polygons by feature) for polygons (3) as for multipolygons (6)."""
    if kind == 3:
        points, rings = offsets
        return points, rings, np.arange(len(rings))
    return offsets


def encode_many(geoms, origin: np.ndarray, step: float, on_grid=True) -> list[str]:
    """``[_encode_reference(g, origin, step, on_grid=o) for g, o in zip(geoms, on_grid)]``
    for the whole array at once (numpy over every vertex instead of feature by feature):
    the same strings."""
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    on_grid = np.broadcast_to(np.asarray(on_grid, dtype=bool), (n,))
    out: list = [None] * n
    tid = shapely.get_type_id(geoms)
    bulk = ((tid == 3) | (tid == 6)) & ~shapely.is_empty(geoms) & on_grid
    idx = np.flatnonzero(bulk)
    if len(idx):
        kind, coords, offsets = shapely.to_ragged_array(geoms[idx], include_z=False)
        ring_off, poly_off, geom_off = _offsets(int(kind), offsets)
        q = np.rint((coords - origin) / step).astype(np.int64)
        n_rings = len(ring_off) - 1
        ring_len = np.diff(ring_off)
        ring_of_pt = np.repeat(np.arange(n_rings), ring_len)
        poly_of_ring = np.repeat(np.arange(len(poly_off) - 1), np.diff(poly_off))
        geom_of_poly = np.repeat(np.arange(len(idx)), np.diff(geom_off))
        keep = np.ones(len(q), dtype=bool)
        # the closing point (Leaflet closes rings itself)
        full = ring_len > 1
        first, last = ring_off[:-1][full], ring_off[1:][full] - 1
        keep[last[(q[first] == q[last]).all(axis=1)]] = False
        # a point repeating the one before it (within its ring)
        if len(q) > 1:
            keep[1:] &= (q[1:] != q[:-1]).any(axis=1)
        nonempty = ring_len > 0
        keep[ring_off[:-1][nonempty]] = True
        ring_ok = np.bincount(ring_of_pt[keep], minlength=n_rings) >= 3
        # a feature with a shell that collapses (or an empty part) is encoded one by one
        shell = np.zeros(n_rings, dtype=bool)
        shell[poly_off[:-1][np.diff(poly_off) > 0]] = True
        bad_poly = np.diff(poly_off) == 0
        bad_poly[poly_of_ring[shell & ~ring_ok]] = True
        bad = np.zeros(len(idx), dtype=bool)
        bad[geom_of_poly[bad_poly]] = True
        ring_ok &= ~bad[geom_of_poly[poly_of_ring]]
        sel = keep & ring_ok[ring_of_pt]
        qk, rk = q[sel], ring_of_pt[sel]
        d = qk.copy()
        d[1:] -= qk[:-1]
        starts = np.ones(len(qk), dtype=bool)
        starts[1:] = rk[1:] != rk[:-1]
        d[starts] = qk[starts]
        # after each value ",", after the last of a ring what closes it and opens the next
        kept = np.flatnonzero(ring_ok)
        rp, rg = poly_of_ring[kept], geom_of_poly[poly_of_ring[kept]]
        same_poly = np.zeros(len(kept), dtype=bool)
        same_geom = np.zeros(len(kept), dtype=bool)
        same_poly[:-1] = rp[1:] == rp[:-1]
        same_geom[:-1] = rg[1:] == rg[:-1]
        end = np.where(same_poly, 1, np.where(same_geom, 2, 3))
        codes = np.zeros(2 * len(qk), dtype=np.int8)
        ring_last = np.flatnonzero(np.r_[starts[1:], True]) if len(qk) else np.zeros(0, int)
        codes[2 * ring_last + 1] = end
        pieces = list(map(str.__add__, map(str, d.ravel().tolist()),
                          _RING_ENDS[codes].tolist()))
        # each encoded feature's values: from its first kept ring to the next one's
        geom_rings = np.searchsorted(rg, np.arange(len(idx) + 1))
        ring_pts = np.r_[np.flatnonzero(starts), len(qk)]
        bounds = 2 * ring_pts[geom_rings]
        for j, i in enumerate(idx.tolist()):
            if not bad[j]:
                out[i] = "[[[" + "".join(pieces[bounds[j]:bounds[j + 1]])
    for i in range(n):
        if out[i] is None:
            out[i] = _encode_reference(geoms[i], origin, step, on_grid=bool(on_grid[i]))
    return out


def _parts_reference(geoms: np.ndarray, zoom: int, origin: np.ndarray, step: float) -> list:
    """The encoded simplified features as before ``_parts`` (test oracle): every feature
    snap-rounded to the grid by GEOS, then encoded one by one."""
    simple = shapely.simplify(geoms, pixel_degrees(zoom), preserve_topology=True)
    moved = shapely.transform(simple, lambda c: c - origin)
    simple = shapely.transform(shapely.set_precision(moved, step), lambda c: c + origin)
    collapsed = shapely.is_empty(simple) | shapely.is_missing(simple)
    simple = np.where(collapsed, geoms, simple)
    return [_encode_reference(g, origin, step, on_grid=not c)
            for g, c in zip(simple, collapsed, strict=True)]


def _parts(geoms: np.ndarray, zoom: int, origin: np.ndarray, step: float) -> list:
    """The encoded features simplified at bucket ``zoom`` (``geometries``)."""
    simple = shapely.simplify(geoms, pixel_degrees(zoom), preserve_topology=True)
    # rounded to the grid (what the encoder does) most stay valid polygons: checked all at
    # once; only the others are snap-rounded by GEOS (set_precision keeps them valid; one
    # smaller than the grid becomes empty and is drawn as a tiny triangle at its place,
    # see ``_encode_reference``), relative to the origin (the grid of the whole numbers)
    tid = shapely.get_type_id(simple)
    rounded = shapely.transform(simple, lambda c: np.rint((c - origin) / step))
    fine = (((tid == 3) | (tid == 6)) & shapely.is_valid(rounded)
            & (np.nan_to_num(shapely.area(rounded)) > 0))
    on_grid = np.ones(len(geoms), dtype=bool)
    redo = np.flatnonzero(~fine)
    if len(redo):
        moved = shapely.transform(simple[redo], lambda c: c - origin)
        snapped = shapely.transform(shapely.set_precision(moved, step), lambda c: c + origin)
        collapsed = shapely.is_empty(snapped) | shapely.is_missing(snapped)
        simple = simple.copy()
        simple[redo] = np.where(collapsed, geoms[redo], snapped)
        on_grid[redo[collapsed]] = False
    return encode_many(simple, origin, step, on_grid)


@dataclass
class Simplified:
    """One layer version simplified at one zoom bucket."""

    kind: str
    version: int
    zoom: int
    step: float
    origin: np.ndarray
    parts: list[str]
    points: np.ndarray
    tree: shapely.STRtree
    columns: dict[str, list]
    pinyin: list | None = None
    bodies: dict = field(default_factory=dict)  # (props, pinyin, geometry) -> (raw, gzip)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # set once a body with the geometry was sent: the names' pinyin waits for it
    served: threading.Event = field(default_factory=threading.Event)


def _plain(value):
    """A stored value as JSON: NaN/NaT as null, numpy scalars as Python ones."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and value != value:
            return None
    if isinstance(value, (str, int, float, bool)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def simplify_layer(store: LayerStore, kind: str, version: int, zoom: int) -> Simplified:
    """Read ``kind`` (that version) and simplify it at bucket ``zoom`` (uncached)."""
    gdf = store.read(kind, version=version)
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4490, 4326):
        gdf = gdf.to_crs(4490)
    geoms = gdf.geometry.values
    step = grid_step(zoom)
    bounds = gdf.total_bounds if len(gdf) else np.zeros(4)
    origin = np.floor(np.nan_to_num(np.asarray(bounds[:2], dtype=float)) / step) * step
    parts = _parts(np.asarray(geoms), zoom, origin, step)
    inside = shapely.point_on_surface(np.asarray(geoms))
    xy = shapely.get_coordinates(inside) if len(gdf) else np.zeros((0, 2))
    if len(xy) != len(gdf):  # an empty geometry has no point: put it at the origin
        xy = np.array([[p.x, p.y] if p is not None and not p.is_empty else origin
                       for p in inside])
    points = np.rint((xy - origin) / step).astype(np.int64)
    columns = {c: [_plain(v) for v in gdf[c].tolist()] for c in gdf.columns
               if c != gdf.geometry.name}
    return Simplified(kind=kind, version=version, zoom=zoom, step=step, origin=origin,
                      parts=parts, points=points, tree=shapely.STRtree(np.asarray(geoms)),
                      columns=columns)


def _cache(app=None) -> dict:
    app = app or current_app
    return app.extensions.setdefault(EXTENSION, {
        "entries": OrderedDict(), "lock": threading.Lock(), "building": {}, "pinyin": {}})


def simplified(store: LayerStore, kind: str, version: int, zoom: int, app=None) -> Simplified:
    """``simplify_layer`` kept per (kind, version, bucket) for this app (``app``: when
    called outside a request); one thread builds a key, the others wait for it."""
    ext = _cache(app)
    entries, lock = ext["entries"], ext["lock"]
    key = (kind, version, zoom)
    with lock:
        hit = entries.get(key)
        if hit is not None:
            entries.move_to_end(key)
            return hit
        building = ext["building"].setdefault(key, threading.Lock())
    with building:
        with lock:
            hit = entries.get(key)
        if hit is not None:
            return hit
        value = simplify_layer(store, kind, version, zoom)
        value.pinyin = ext["pinyin"].get((kind, version))
        with lock:
            entries[key] = value
            entries.move_to_end(key)
            while len(entries) > CACHE_ENTRIES:
                entries.popitem(last=False)
            ext["building"].pop(key, None)
    return value


def is_cached(kind: str, version: int) -> bool:
    """Whether some bucket of that version is simplified or being simplified."""
    ext = _cache()
    with ext["lock"]:
        return any(k[:2] == (kind, version) for k in [*ext["entries"], *ext["building"]])


# name -> [full pinyin, initials], kept across layer versions (a new version mostly has
# the names of the one before) and apps; phrase -> its syllables (pypinyin converts a
# name phrase by phrase: a province's names share few thousand phrases)
_NAME_PINYIN: dict[str, list[str]] = {}
_PHRASE_PINYIN: dict[str, tuple[str, ...]] = {}
_PINYIN_MAX = 200_000
_PINYIN_LOCK = threading.Lock()


@functools.cache
def _pinyin_converter():
    """What ``lazy_pinyin(name, style=Style.NORMAL)`` builds for every call, built once."""
    from pypinyin.converter import UltimateConverter
    from pypinyin.core import Pinyin

    return Pinyin(UltimateConverter(v_to_u=False, neutral_tone_with_five=False,
                                    tone_sandhi=False))


def _syllables(name: str) -> list[str]:
    """``lazy_pinyin(name, style=Style.NORMAL)``, each phrase converted once."""
    from pypinyin import Style

    conv = _pinyin_converter()
    out: list[str] = []
    for word in conv.seg(name):
        hit = _PHRASE_PINYIN.get(word)
        if hit is None:
            hit = tuple(p for pieces in conv._converter.convert(word, Style.NORMAL, False,
                                                                 "default", True)
                        for p in pieces)
            if len(_PHRASE_PINYIN) < _PINYIN_MAX:
                _PHRASE_PINYIN[word] = hit
        out.extend(hit)
    return out


def pinyin_of(names: list) -> list:
    """[full pinyin, initials] of each name (lower case letters and digits)."""
    out = []
    with _PINYIN_LOCK:
        for name in names:
            if not isinstance(name, str) or not name:
                out.append(["", ""])
                continue
            hit = _NAME_PINYIN.get(name)
            if hit is None:
                syl = ["".join(ch for ch in p.lower() if ch.isascii() and ch.isalnum())
                       for p in _syllables(name)]
                syl = [p for p in syl if p]
                hit = ["".join(syl), "".join(p[0] for p in syl)]
                if len(_NAME_PINYIN) < _PINYIN_MAX:
                    _NAME_PINYIN[name] = hit
            out.append(list(hit))
    return out


def _pinyin(s: Simplified, app=None) -> list:
    """The pinyin of ``s``'s names, computed once per layer version."""
    if s.pinyin is None:
        ext = _cache(app)
        key = (s.kind, s.version)
        got = ext["pinyin"].get(key)
        if got is None:
            got = pinyin_of(s.columns.get("name") or [None] * len(s.parts))
            ext["pinyin"] = {k: v for k, v in ext["pinyin"].items() if k[0] != s.kind}
            ext["pinyin"][key] = got
        s.pinyin = got
    return s.pinyin


def fit_zoom(bounds, width_px: int = 1200) -> int:
    """About the zoom a map of ``width_px`` fitted to ``bounds`` (degrees) opens at."""
    width = max(float(bounds[2]) - float(bounds[0]), 1e-6)
    return int(min(max(math.floor(math.log2(width_px * 360.0 / (256 * width))), 0), 18))


def warm(app, store: LayerStore, kind: str, version: int) -> threading.Thread:
    """Simplify ``kind`` at the bucket a map fitted to it asks for first, and its names'
    pinyin, in a background thread: a page that will draw it is being sent. The pinyin
    (asked for once the map has drawn the features) waits until the geometry was sent,
    or ``PINYIN_WAIT`` seconds: it is not on the way to the first drawing."""
    def run():
        try:
            bounds = store.read(kind, version=version).total_bounds
            s = simplified(store, kind, version, zoom_bucket(fit_zoom(bounds)), app=app)
            s.served.wait(PINYIN_WAIT)
            _pinyin(s, app=app)
        except Exception:  # the request that needs it reports the error
            app.logger.debug("geometry warm-up of %s failed", kind, exc_info=True)

    thread = threading.Thread(target=run, name=f"geometry-{kind}", daemon=True)
    thread.start()
    return thread


_JSON_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
              0x2028: "\\u2028", 0x2029: "\\u2029"}


def _dumps(value) -> str:
    """JSON with <, >, & and the line separators escaped (inert wherever it ends up)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_JSON_SAFE)


def body(s: Simplified, ids: np.ndarray | None, props: tuple[str, ...], pinyin: bool,
         geometry: bool = True) -> bytes:
    """The response body for the features ``ids`` (None: all); ``geometry=False`` leaves
    out ``geometries`` and ``points`` (the names' pinyin asked for after drawing)."""
    sel = range(len(s.parts)) if ids is None else ids.tolist()
    head = {"kind": s.kind, "version": s.version, "zoom": s.zoom,
            "tolerance": pixel_degrees(s.zoom), "scale": s.step,
            "origin": [float(s.origin[0]), float(s.origin[1])],
            "numberMatched": len(sel), "total": len(s.parts)}
    chunks = [_dumps(head)[:-1]]
    chunks.append(',"ids":' + _dumps(list(sel)))
    if geometry:
        chunks.append(',"geometries":[' + ",".join(s.parts[i] for i in sel) + "]")
        pts = s.points if ids is None else s.points[ids]
        chunks.append(',"points":' + _dumps(pts.tolist()))
    columns = {p: [s.columns[p][i] for i in sel] if p in s.columns else [None] * len(sel)
               for p in props}
    chunks.append(',"properties":' + _dumps(columns))
    if pinyin:
        py = _pinyin(s)
        chunks.append(',"pinyin":' + _dumps([py[i] for i in sel]))
    chunks.append("}")
    return "".join(chunks).encode()


def parse_props(text: str | None, kind: str) -> tuple[str, ...]:
    """``props=a,b``: fields of the kind (the default ``name,code``; empty: none)."""
    known = {f.name for f in KINDS[kind].fields}
    if text is None:
        return tuple(p for p in DEFAULT_PROPS if p in known)
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in known]
    if bad:
        raise BadParameter(f"props 参数中的字段“{'、'.join(bad)}”不是{KINDS[kind].label}的字段；"
                           f"可用字段：{'、'.join(sorted(known))}")
    return tuple(dict.fromkeys(names))


def geometry_response(store: LayerStore, kind: str) -> Response:
    """The view of ``/api/layers/<kind>/geometry`` (``kind`` already checked)."""
    from geoservice.web.api import parse_bbox

    lk = KINDS[kind]
    if not set(lk.geometry) & POLYGONAL:
        raise BadParameter(f"{lk.label}不是面图层，没有简化几何；请用 /api/layers/{kind}")
    args = request.args
    zoom = whole_number(args.get("zoom"), "zoom", default=BUCKETS[1], lowest=0, highest=24)
    version = whole_number(args.get("version"), "version", default=None, lowest=1,
                           highest=2**31 - 1)
    bbox = parse_bbox(args.get("bbox"))
    props = parse_props(args.get("props"), kind)
    pinyin = args.get("pinyin", "0") not in ("", "0")
    geometry = args.get("geometry", "1") not in ("", "0")
    current = store.current_versions().get(kind)
    if version is None:
        if current is None:
            raise BadParameter(f"工作空间中还没有{lk.label}图层")
        version = current.version
    bucket = zoom_bucket(zoom)
    s = simplified(store, kind, version, bucket)
    gz = "gzip" in request.accept_encodings
    if bbox is None:
        key = (props, pinyin, geometry)
        with s.lock:
            cached = s.bodies.get(key)
        if cached is None:
            raw = body(s, None, props, pinyin, geometry)
            cached = (raw, gzip.compress(raw, 5))  # level 6: 2% smaller, 2.5x slower
            with s.lock:
                s.bodies[key] = cached
        data = cached[1] if gz else cached[0]
        if geometry:
            s.served.set()
    else:
        ids = np.sort(s.tree.query(shapely.box(*bbox)))
        data = body(s, ids, props, pinyin, geometry)
    resp = encoded_json(data, gz, compressed=bbox is None)
    if args.get("version"):
        # one version's geometry never changes
        resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp
