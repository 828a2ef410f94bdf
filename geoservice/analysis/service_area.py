"""Service areas along roads (docs/network.md): for each facility, the roads from which
its cost is within the radius, drawn as a band of ``buffer_m`` either side of those roads,
and the union of all facilities' areas.

The cost runs the way the analyses measure it, village to facility (``toward=True``): a
point of road belongs to a facility's area when travelling from it to the facility costs
no more than the radius, the walk between the facility and its road included (the same
graph as :class:`geoservice.analysis.network.NetworkCosts`). On two-way roads that is the
area reachable from the facility outward; on a one-way road only the direction of travel
towards the facility counts (``toward=False`` measures outward from the facility).

Dijkstra runs from each facility's point node with the radius as its limit (sparse, never
all pairs). Along an edge partly within reach the reachable piece is cut at the exact
position where the cost reaches the radius: from each node that enters the edge (its two
junctions and the on-road points of facilities on it) the cost grows linearly along the
edge, so the reachable positions are a union of intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.network import NetworkCosts, RoadGraph
from geoservice.analysis.settings import load_defaults

STORED = "EPSG:4490"
DEFAULT_BUFFER_M = 150.0
_BATCH_CELLS = 16_000_000


def default_buffer_m() -> float:
    """The band drawn either side of a reachable road (``[network] service_area_buffer_m``
    in defaults.toml when present, else 150 m)."""
    return float(load_defaults().get("network", {}).get("service_area_buffer_m",
                                                        DEFAULT_BUFFER_M))


@dataclass
class ServiceAreas:
    areas: gpd.GeoDataFrame      # one row per facility: name, reach_km, area_km2 (stored CRS)
    merged: gpd.GeoDataFrame     # one row: the union of all areas (stored CRS)
    pieces: list                 # per facility: the reachable road pieces (metres, graph CRS)
    summary: dict


def _merge(edge: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Union of intervals per edge: (edge, lo, hi) of disjoint intervals, sorted."""
    if not len(edge):
        return edge, lo, hi
    order = np.lexsort((lo, edge))
    edge, lo, hi = edge[order], lo[order], hi[order]
    out_e, out_lo, out_hi = [], [], []
    ce, cl, ch = edge[0], lo[0], hi[0]
    for e, a, b in zip(edge[1:].tolist(), lo[1:].tolist(), hi[1:].tolist(), strict=True):
        if e == ce and a <= ch:
            ch = max(ch, b)
        else:
            out_e.append(ce)
            out_lo.append(cl)
            out_hi.append(ch)
            ce, cl, ch = e, a, b
    out_e.append(ce)
    out_lo.append(cl)
    out_hi.append(ch)
    return np.array(out_e, dtype=np.intp), np.array(out_lo), np.array(out_hi)


def _edges_of_points(graph: RoadGraph, part: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The edge each on-road point lies on (the last edge of its part starting at or before
    it, as NetworkCosts splits them); -1 on a part without edges."""
    order_e = np.lexsort((graph.e_a, graph.e_part))
    ep, ea = graph.e_part[order_e], graph.e_a[order_e]
    out = np.full(len(part), -1, dtype=np.intp)
    for k in range(len(part)):
        lo = np.searchsorted(ep, part[k], side="left")
        hi = np.searchsorted(ep, part[k], side="right")
        if hi == lo:
            continue
        at = lo + np.searchsorted(ea[lo:hi], pos[k], side="right") - 1
        out[k] = order_e[min(max(at, lo), hi - 1)]
    return out


def reachable_intervals(graph: RoadGraph, d: np.ndarray, onroad_d: np.ndarray,
                        onroad_edge: np.ndarray, onroad_pos: np.ndarray, radius: float,
                        rate_e: np.ndarray, *, toward: bool = True):
    """The reachable positions along each edge (merged intervals) given the cost ``d`` of
    every junction and ``onroad_d`` of every on-road point (on edge ``onroad_edge`` at
    ``onroad_pos``); ``rate_e``: cost per metre of each edge."""
    a, b = graph.e_a, graph.e_b
    ow = graph.part_oneway[graph.e_part]
    du, dv = d[graph.e_from], d[graph.e_to]

    def reach(dd, rate):
        left = radius - dd
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(rate > 0, left / np.where(rate > 0, rate, 1.0), np.inf)

    es, los, his = [], [], []
    # from the junction at the edge's start (position a), into the edge
    ok_u = (du <= radius) & ((~ow) if toward else np.ones(len(a), dtype=bool))
    e = np.flatnonzero(ok_u)
    es.append(e)
    los.append(a[e])
    his.append(np.minimum(b[e], a[e] + reach(du[e], rate_e[e])))
    # from the junction at the edge's end (position b)
    ok_v = (dv <= radius) & (np.ones(len(a), dtype=bool) if toward else ~ow)
    e = np.flatnonzero(ok_v)
    es.append(e)
    los.append(np.maximum(a[e], b[e] - reach(dv[e], rate_e[e])))
    his.append(b[e])
    # from on-road points on the edge, both ways (one way on a one-way road)
    has = (onroad_edge >= 0) & (onroad_d <= radius)
    if has.any():
        e = onroad_edge[has]
        s = np.clip(onroad_pos[has], a[e], b[e])
        r = reach(onroad_d[has], rate_e[e])
        before = np.ones(len(e), dtype=bool) if toward else ~ow[e]
        after = ~ow[e] if toward else np.ones(len(e), dtype=bool)
        es.append(e[before])
        los.append(np.maximum(a[e], s - r)[before])
        his.append(s[before])
        es.append(e[after])
        los.append(s[after])
        his.append(np.minimum(b[e], s + r)[after])
    edge = np.concatenate(es).astype(np.intp)
    lo, hi = np.concatenate(los), np.concatenate(his)
    keep = hi >= lo
    return _merge(edge[keep], lo[keep], hi[keep])


def service_areas(graph: RoadGraph, facility_xy: np.ndarray, names, radius: float, *,
                  field: str = "length", buffer_m: float | None = None,
                  access_speed_kmh: float | None = None, toward: bool = True,
                  costs: NetworkCosts | None = None) -> ServiceAreas:
    """The service area of each facility (``facility_xy``: metres in ``graph.crs``) within
    ``radius`` (metres for ``field="length"``, minutes for ``"time"``) and their union.
    ``costs``: a NetworkCosts already bound with the facilities as ``"facilities"`` (its
    graph and points are used instead of binding them again)."""
    if field not in ("length", "time"):
        raise InvalidInput(f"道路成本“{field}”无效：可选 length（道路里程）、time（通行时间）",
                           name="cost_field")
    if not np.isfinite(radius) or radius < 0:
        raise InvalidInput(f"服务半径应为不小于 0 的数，而不是 {radius:g}", name="radius")
    buffer_m = default_buffer_m() if buffer_m is None else float(buffer_m)
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        raise InvalidInput(f"服务范围的道路两侧宽度应为正数（米），而不是 {buffer_m:g}",
                           name="buffer")
    fxy = np.asarray(facility_xy, dtype=float).reshape(-1, 2)
    names = [("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
             for v in (names if names is not None else [""] * len(fxy))]
    if costs is None:
        spec = CostSpec(kind="network", field=field, unit="m" if field == "length" else "min")
        costs = NetworkCosts(graph, spec, np.zeros((0, 2)), {"facilities": fxy},
                             access_speed_kmh=access_speed_kmh)
    graph = costs.graph
    n = graph.n_nodes
    p = len(costs.point_node)
    off, m = costs.offsets["facilities"], costs.sizes["facilities"]
    s = costs.snapped
    onroad_edge = _edges_of_points(graph, s.part, s.pos)
    rate_part = graph.part_rate if costs.spec.field == "time" else np.ones(len(graph.parts))
    rate_e = rate_part[graph.e_part]
    matrix = costs.reverse if toward else costs.forward
    src = costs.point_node[off:off + m]
    edge_geom: dict[int, object] = {}
    pieces, reach_m, polys = [], np.zeros(m), []
    batch = max(1, _BATCH_CELLS // max(costs.total_nodes, 1))
    for s0 in range(0, m, batch):
        dist = dijkstra(matrix, directed=True, indices=src[s0:s0 + batch], limit=radius)
        for k, row in enumerate(dist):
            edge, lo, hi = reachable_intervals(graph, row[:n], row[n:n + p], onroad_edge,
                                               s.pos, radius, rate_e, toward=toward)
            geoms = []
            for e, a, b in zip(edge.tolist(), lo.tolist(), hi.tolist(), strict=True):
                line = graph.parts[graph.e_part[e]]
                if a <= graph.e_a[e] and b >= graph.e_b[e]:
                    g = edge_geom.get(e)
                    if g is None:
                        g = edge_geom[e] = substring(line, graph.e_a[e], graph.e_b[e])
                else:
                    g = substring(line, a, b)
                geoms.append(g)
            # the facility itself and its walk to the road are in its area too
            fac = s0 + k
            walk = shapely.linestrings([fxy[fac], s.onroad[off + fac]])
            if row[n + off + fac] <= radius:
                geoms.append(walk)
            else:
                geoms.append(shapely.points(fxy[fac]))
            reach_m[fac] = float((hi - lo).sum())
            pieces.append(geoms)
            polys.append(shapely.buffer(shapely.geometrycollections(geoms), buffer_m,
                                        quad_segs=4) if geoms else shapely.Polygon())
    polys_arr = np.array(polys, dtype=object) if polys else np.zeros(0, dtype=object)
    merged_geom = shapely.union_all(polys_arr) if len(polys_arr) else shapely.Polygon()
    unit = "米" if costs.spec.field == "length" else "分钟"
    areas = gpd.GeoDataFrame(
        {"facility": np.arange(m), "name": names[:m],
         "reach_km": np.round(reach_m / 1000.0, 3),
         "area_km2": np.round(shapely.area(polys_arr) / 1e6, 4) if m else np.zeros(0)},
        geometry=gpd.GeoSeries(polys_arr, crs=graph.crs).to_crs(STORED).to_numpy(), crs=STORED)
    merged_area = float(shapely.area(merged_geom)) / 1e6
    merged = gpd.GeoDataFrame(
        {"label": [f"全部设施的服务范围（{radius:g} {unit}内）"], "facilities": [m],
         "area_km2": [round(merged_area, 4)]},
        geometry=gpd.GeoSeries([merged_geom], crs=graph.crs).to_crs(STORED).to_numpy(),
        crs=STORED)
    summary = {"radius": float(radius), "unit": costs.spec.unit, "field": costs.spec.field,
               "buffer_m": buffer_m, "toward": toward, "facilities": int(m),
               "area_km2": round(merged_area, 4),
               "reach_km": round(float(reach_m.sum()) / 1000.0, 3),
               "note": (f"沿道路 {radius:g} {unit}内可到达设施的道路，两侧各 {buffer_m:g} 米"
                        "（成本方向：村→设施；含设施到道路的步行）")}
    return ServiceAreas(areas, merged, pieces, summary)
