"""The boundary review's shared lines for a map at province scale, and the review kept.

``GET /api/boundaries/lines.geo?zoom=Z[&bbox=…]&layer=…&<tolerances>``: every boundary line
of the review with those parameters (or those whose extent meets ``bbox``), simplified to
about one screen pixel at the zoom bucket of ``Z`` (the buckets of
``geoservice.web.geometry``), coordinates as whole units from an origin, delta-encoded, as
the geometry endpoint does:

- ``scale``, ``origin``: a coordinate is ``origin + scale * n``;
- ``ids``: each line's position in the review's line list;
- ``lines``: per line a list of parts, each a flat list ``[x0, y0, dx1, dy1, …]``;
- ``mids``: per line the point in its middle (units from the origin), where its length
  label goes;
- ``kind`` (``outer`` | ``shared`` | ``township``), ``label`` (甲—乙, as text), ``km``.

``GET /api/boundaries/findings.geo`` (same parameters): the outlines of the review's
polygonal findings (gaps, slivers, multi-part units) the same way, ``kind`` being the
severity, ``label`` the type and message, ``fid`` the finding's position; the page draws
those findings as points and their outlines from here.

A review of a province takes seconds: one result per (layer, tolerances, layer versions) is
kept (``REVIEWS`` of them) for the page and this endpoint; each bucket's encoding is kept
with it.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict

import numpy as np
import shapely
from flask import Response, current_app, request

from geoservice.services.boundaries import run_boundaries
from geoservice.services.params import whole_number
from geoservice.web.geometry import (
    BUCKETS,
    encoded_json,
    grid_step,
    pixel_degrees,
    zoom_bucket,
)

EXTENSION = "geoservice_boundary_reviews"
REVIEWS = 4


def review_key(store, params) -> tuple:
    versions = tuple(sorted((k, v.version) for k, v in store.current_versions().items()))
    return (params.layer, tuple(sorted(params.given.items())), versions)


def _ext() -> dict:
    return current_app.extensions.setdefault(
        EXTENSION, {"entries": OrderedDict(), "lock": threading.Lock(), "building": {}})


def cached_review(store, params):
    """``run_boundaries(store, params)`` (no outline), kept per parameters and versions;
    returns (result, per-result cache dict)."""
    ext = _ext()
    key = review_key(store, params)
    with ext["lock"]:
        hit = ext["entries"].get(key)
        if hit is not None:
            ext["entries"].move_to_end(key)
            return hit
        building = ext["building"].setdefault(key, threading.Lock())
    with building:
        with ext["lock"]:
            hit = ext["entries"].get(key)
        if hit is not None:
            return hit
        value = (run_boundaries(store, params), {"lock": threading.Lock()})
        with ext["lock"]:
            ext["entries"][key] = value
            while len(ext["entries"]) > REVIEWS:
                ext["entries"].popitem(last=False)
            ext["building"].pop(key, None)
    return value


# How long a page waits for a review it started before it sends the progress page instead
# (a county's review is done by then; a province's takes seconds).
PENDING_WAIT = 0.5
# Seconds of review per unit, for the progress page's estimate (27,000 villages: about 8 s).
SECONDS_PER_UNIT = 0.0003


class ReviewJob:
    """A review running in a background thread for one cache key: ``done`` is set when it
    has finished, ``error`` then holds its Chinese message if it failed."""

    def __init__(self, units: int):
        self.done = threading.Event()
        self.error: str | None = None
        self.estimate = max(1, round(units * SECONDS_PER_UNIT))

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


def _failure(exc: Exception) -> str:
    text = str(exc)
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):  # our own errors are Chinese
        return f"界线审查失败：{text}"
    return f"界线审查失败：内部错误（{type(exc).__name__}），请查看服务日志或联系管理员"


def review_job(store, params, start: bool = True) -> ReviewJob | None:
    """The background review of ``params`` (no outline): None when its result is cached;
    else the running or finished job for its key, started if there is none and ``start``
    (one thread per key: a second caller gets the same job). A failed job is kept (its
    error shown) until ``forget_failure``."""
    ext = _ext()
    key = review_key(store, params)
    with ext["lock"]:
        if key in ext["entries"]:
            return None
        jobs = ext.setdefault("jobs", {})
        job = jobs.get(key)
        if job is not None or not start:
            return job
        v = store.current_versions().get(params.layer)
        job = jobs[key] = ReviewJob(v.features if v is not None else 0)
    app = current_app._get_current_object()

    def work():
        try:
            with app.app_context():
                cached_review(store, params)
        except Exception as exc:  # kept for the page and the status endpoint
            app.logger.exception("boundary review failed")
            job.error = _failure(exc)
        finally:
            if job.error is None:
                with ext["lock"]:
                    jobs.pop(key, None)
            job.done.set()

    threading.Thread(target=work, name="boundary-review", daemon=True).start()
    return job


def forget_failure(store, params) -> None:
    """Drop the failed job of ``params`` so that the next request reviews again."""
    ext = _ext()
    key = review_key(store, params)
    with ext["lock"]:
        job = ext.setdefault("jobs", {}).get(key)
        if job is not None and job.done.is_set() and job.error is not None:
            del ext["jobs"][key]


def review_status(store, params) -> dict:
    """``{"state": "running" | "done" | "failed", "message"}`` of the review of ``params``
    (started when neither cached nor running)."""
    job = review_job(store, params)
    if job is None:
        return {"state": "done", "message": "界线审查已完成"}
    if job.done.is_set() and job.error is not None:
        return {"state": "failed", "message": job.error}
    if job.done.is_set():
        return {"state": "done", "message": "界线审查已完成"}
    return {"state": "running", "message": f"正在审查界线……（约需 {job.estimate} 秒）"}


def line_kinds(lines, layer: str) -> np.ndarray:
    """``outer`` | ``shared`` | ``township`` (a shared village line between villages of two
    townships), as ``maps.boundaries`` draws them."""
    kind = lines["kind"].to_numpy().astype(object)
    if layer == "villages" and len(lines):
        a = lines["code_a"].astype(str).str[:9].to_numpy()
        b = lines["code_b"].astype(str).str[:9].to_numpy()
        kind = np.where((kind == "shared") & (a != b), "township", kind)
    return kind


def _parts(geom):
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("LineString", "LinearRing"):
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _parts(g)]
    return []


def _line(coords: np.ndarray, origin: np.ndarray, step: float) -> list[int] | None:
    q = np.rint((coords[:, :2] - origin) / step).astype(np.int64)
    if len(q) > 1:
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = (np.diff(q, axis=0) != 0).any(axis=1)
        q = q[keep]
    if len(q) < 2:
        q = np.vstack([q[:1], q[:1] + [1, 0]])
    d = q.copy()
    d[1:] -= q[:-1]
    return d.ravel().tolist()


def heavy_findings(findings) -> np.ndarray:
    """Positions of the findings drawn from ``/api/boundaries/findings.geo`` on a province
    page: those with a polygonal geometry (their outlines)."""
    geoms = np.asarray(findings.geometry.values, dtype=object)
    kind = shapely.get_type_id(geoms)
    return np.flatnonzero((kind == 3) | (kind == 6))


def _finding_frame(result, type_labels: dict):
    """The polygonal findings as lines (their outlines), with the lines' columns:
    ``kind`` = severity, ``label`` = type and message, ``km`` = null."""
    f = result.findings
    if f.crs is not None and f.crs.to_epsg() not in (4490, 4326):
        f = f.to_crs(4490)
    pos = heavy_findings(f)
    sub = f.iloc[pos]
    geoms = shapely.boundary(np.asarray(sub.geometry.values, dtype=object))
    columns = {
        "kind": sub["severity"].astype(str).tolist(),
        "label": [f"{type_labels.get(t, t)}：{m if isinstance(m, str) else ''}"
                  for t, m in zip(sub["type"], sub["message"], strict=True)],
        "km": [None] * len(sub),
        "mid": shapely.get_coordinates(shapely.point_on_surface(
            np.asarray(sub.geometry.values, dtype=object))) if len(sub) else np.zeros((0, 2)),
        "fid": pos.tolist(),
    }
    return geoms, columns


def _encoded(result, layer: str, cache: dict, bucket: int, which: str = "lines",
             type_labels: dict | None = None) -> dict:
    """The review's lines (``which="findings"``: its polygonal findings' outlines) at
    ``bucket``: encoded parts and the shared columns (``cache[(which, "columns")]``)."""
    with cache["lock"]:
        hit = cache.get((which, bucket))
        if hit is not None:
            return hit
        if which == "findings":
            geoms, columns = _finding_frame(result, type_labels or {})
            cache.setdefault(("findings", "columns"), columns)
        else:
            lines = result.boundary_lines
            if lines.crs is not None and lines.crs.to_epsg() not in (4490, 4326):
                lines = lines.to_crs(4490)
            geoms = np.asarray(lines.geometry.values, dtype=object)
        step = grid_step(bucket)
        bounds = shapely.total_bounds(geoms) if len(geoms) else np.zeros(4)
        origin = np.floor(np.nan_to_num(np.asarray(bounds[:2], dtype=float)) / step) * step
        simple = shapely.simplify(geoms, pixel_degrees(bucket), preserve_topology=False)
        parts = []
        for g in simple:
            enc = [_line(np.asarray(p.coords), origin, step) for p in _parts(g)]
            parts.append(json.dumps([e for e in enc if e], separators=(",", ":")))
        if (which, "columns") not in cache:
            mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
            cache[(which, "columns")] = {
                "kind": line_kinds(lines, layer).tolist(),
                "label": [f"{a if isinstance(a, str) else ''}—{b if isinstance(b, str) else ''}"
                          for a, b in zip(lines["name_a"], lines["name_b"], strict=True)],
                "km": [round(float(k), 3) for k in lines["length_km"]],
                "mid": shapely.get_coordinates(mids) if len(lines) else np.zeros((0, 2)),
            }
        value = {"origin": origin, "step": step, "parts": parts,
                 "tree": shapely.STRtree(geoms), "bodies": {}}
        cache[(which, bucket)] = value
        return value


_JSON_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
              0x2028: "\\u2028", 0x2029: "\\u2029"}


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_JSON_SAFE)


def lines_body(enc: dict, columns: dict, bucket: int, ids: np.ndarray | None) -> bytes:
    sel = list(range(len(enc["parts"]))) if ids is None else ids.tolist()
    origin, step = enc["origin"], enc["step"]
    mids = columns["mid"][sel] if len(sel) else np.zeros((0, 2))
    mids = np.rint((mids - origin) / step).astype(np.int64).tolist()
    head = {"zoom": bucket, "scale": step, "origin": [float(origin[0]), float(origin[1])],
            "numberMatched": len(sel), "total": len(enc["parts"])}
    out = [_dumps(head)[:-1], ',"ids":', _dumps(sel),
           ',"lines":[', ",".join(enc["parts"][i] for i in sel), "]",
           ',"mids":', _dumps(mids)]
    for name in ("kind", "label", "km", "fid"):
        if name in columns:
            out.append(f',"{name}":' + _dumps([columns[name][i] for i in sel]))
    out.append("}")
    return "".join(out).encode()


def lines_response(store, params, which: str = "lines",
                   type_labels: dict | None = None) -> Response:
    """The view of ``/api/boundaries/lines.geo`` (``which="findings"``:
    ``/api/boundaries/findings.geo``)."""
    from geoservice.web.api import parse_bbox

    args = request.args
    zoom = whole_number(args.get("zoom"), "zoom", default=BUCKETS[1], lowest=0, highest=24)
    bbox = parse_bbox(args.get("bbox"))
    bucket = zoom_bucket(zoom)
    result, cache = cached_review(store, params)
    enc = _encoded(result, params.layer, cache, bucket, which, type_labels)
    columns = cache[(which, "columns")]
    gz = "gzip" in request.accept_encodings
    if bbox is None:
        with cache["lock"]:
            hit = enc["bodies"].get("all")
        if hit is None:
            raw = lines_body(enc, columns, bucket, None)
            hit = (raw, gzip.compress(raw, 6))
            with cache["lock"]:
                enc["bodies"]["all"] = hit
        data = hit[1] if gz else hit[0]
    else:
        ids = np.sort(enc["tree"].query(shapely.box(*bbox)))
        data = lines_body(enc, columns, bucket, ids)
    return encoded_json(data, gz, compressed=bbox is None)
