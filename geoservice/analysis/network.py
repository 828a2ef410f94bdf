"""Travel along roads: the graph of a ``roads`` layer, points joined to it, and travel cost
from every facility or candidate outward with a cutoff (docs/network.md).

The graph is built as pgRouting and osmnx build theirs: its junctions are the line ends and
the vertices two lines share, joined within a snapping tolerance (1 m by default); lines
that cross without a shared vertex (a bridge, an overpass) are not connected. An edge is the
piece of a line between two junctions, in both directions unless the road is ``oneway``
(then only in the digitised direction). Its cost is its length in metres, or minutes: the
road's ``minutes`` for the whole line shared by length, else length at the road's
``speed_kmh``, else at its class's default speed (``[network.speed_kmh]``).

A village centre, a facility or a candidate is joined to the network at its nearest point on
the nearest road: the road is split there (so two points on one road travel along it), and
the walk from the point to the road is counted (metres, or minutes at the access speed) and
reported per point as ``snap_m``. Costs are computed by ``scipy.sparse.csgraph.dijkstra``
from each destination over the reversed graph with the cutoff as its limit (village to
facility, the trip people make), in batches: sparse, never all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geoservice.analysis.cost import Costs, CostSource, CostSpec, pairs_sorted
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.settings import network_defaults
from layers.schema import ROAD_CLASSES

# Dijkstra returns one row of every node per source: this many cells per batch (128 MB)
_BATCH_CELLS = 16_000_000


@dataclass
class RoadGraph:
    """The road network in a metric CRS: line parts, their junctions and edges."""

    crs: str
    parts: np.ndarray            # LineStrings (metres), one per single part
    part_row: np.ndarray         # the roads row each part comes from (position)
    part_rate: np.ndarray        # minutes per metre along the part
    part_oneway: np.ndarray      # bool
    n_nodes: int
    node_xy: np.ndarray          # (n_nodes, 2)
    # edges: from node, to node, part, positions along the part (metres)
    e_from: np.ndarray
    e_to: np.ndarray
    e_part: np.ndarray
    e_a: np.ndarray
    e_b: np.ndarray
    line_end: np.ndarray         # per node: it is the end of a line (dead ends are ends)
    part_node: np.ndarray        # per part: the junction at its first vertex
    tolerance_m: float
    speeds: dict = field(default_factory=dict)
    rows: int = 0
    _tree: shapely.STRtree | None = None

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.parts)
        return self._tree

    @property
    def length_m(self) -> float:
        return float(shapely.length(self.parts).sum())

    def edge_cost(self, field_: str) -> np.ndarray:
        length = self.e_b - self.e_a
        return length if field_ == "length" else length * self.part_rate[self.e_part]

    def matrix(self, field_: str) -> sparse.csr_matrix:
        """The road graph alone (junctions only), for checks and service areas."""
        return _csr(self.e_from, self.e_to, self.edge_cost(field_),
                    self.part_oneway[self.e_part], self.n_nodes)


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def road_rates(roads: pd.DataFrame, lengths: np.ndarray, speeds: dict) -> np.ndarray:
    """Minutes per metre of each road row: ``minutes`` over the row's length, else its
    ``speed_kmh``, else its class's default speed."""
    minutes = _numbers(roads, "minutes")
    speed = _numbers(roads, "speed_kmh")
    classes = (roads["road_class"].astype(object).to_numpy() if "road_class" in roads.columns
               else np.full(len(roads), None, dtype=object))
    default = np.array([speeds.get(c if c in ROAD_CLASSES else "other", speeds["other"])
                        for c in classes], dtype=float)
    speed = np.where(np.isfinite(speed) & (speed > 0), speed, default)
    rate = 60.0 / (speed * 1000.0)
    by_minutes = np.isfinite(minutes) & (minutes >= 0) & (lengths > 0)
    return np.where(by_minutes, minutes / np.where(lengths > 0, lengths, 1.0), rate)


def build_graph(roads: gpd.GeoDataFrame, crs: str, *, tolerance_m: float | None = None,
                speeds: dict | None = None) -> RoadGraph:
    """The graph of ``roads`` (any CRS; measured in ``crs``, metres)."""
    defaults = network_defaults()
    tol = float(defaults["snap_tolerance_m"] if tolerance_m is None else tolerance_m)
    speeds = {**defaults["speed_kmh"], **(speeds or {})}
    if roads is None or len(roads) == 0:
        raise InvalidInput("道路图层（roads）为空：无法按道路计算出行成本", name="network")
    geoms = roads.geometry.to_crs(crs).to_numpy() if roads.crs is not None else \
        roads.geometry.to_numpy()
    lengths = shapely.length(geoms)
    lengths = np.where(np.isfinite(lengths), lengths, 0.0)
    rates = road_rates(roads, lengths, speeds)
    oneway_col = (roads["oneway"].to_numpy() if "oneway" in roads.columns
                  else np.zeros(len(roads), dtype=object))
    oneway = np.array([bool(v) if v is not None and not (isinstance(v, float) and np.isnan(v))
                       else False for v in oneway_col])
    parts, row = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
    parts, row = parts[keep], row[keep]
    if len(parts) == 0:
        raise InvalidInput("道路图层（roads）没有线要素：无法按道路计算出行成本", name="network")
    coords, vline = shapely.get_coordinates(parts, return_index=True)
    nv = len(coords)
    # position of each vertex along its part
    step = np.zeros(nv)
    same = np.r_[False, vline[1:] == vline[:-1]]
    step[same] = np.hypot(*(coords[1:] - coords[:-1])[same[1:]].T)
    cum = np.cumsum(step)
    first_of = np.flatnonzero(~same)
    pos = cum - np.repeat(cum[first_of], np.diff(np.r_[first_of, nv]))
    is_end = ~same | np.r_[~same[1:], True]
    # vertices within the tolerance of one another are one junction (single linkage);
    # two vertices of one line join only when both are its ends (a closed ring)
    pairs = cKDTree(coords).query_pairs(tol, output_type="ndarray")
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        ok = (vline[a] != vline[b]) | (is_end[a] & is_end[b])
        a, b = a[ok], b[ok]
    else:
        a = b = np.zeros(0, dtype=np.intp)
    link = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(nv, nv))
    _, cluster = connected_components(link, directed=False)
    size = np.bincount(cluster)
    is_node = is_end | (size[cluster] > 1)
    node_of_cluster = np.full(len(size), -1)
    used = np.unique(cluster[is_node])
    node_of_cluster[used] = np.arange(len(used))
    vnode = np.where(is_node, node_of_cluster[cluster], -1)
    n_nodes = len(used)
    node_xy = np.zeros((n_nodes, 2))
    nidx = vnode[is_node]
    np.add.at(node_xy, nidx, coords[is_node])
    node_xy /= np.bincount(nidx, minlength=n_nodes)[:, None]
    # edges: consecutive junction vertices of a part
    nodes_at = np.flatnonzero(is_node)
    nxt = nodes_at[1:]
    prv = nodes_at[:-1]
    same_part = vline[prv] == vline[nxt]
    prv, nxt = prv[same_part], nxt[same_part]
    e_from, e_to = vnode[prv], vnode[nxt]
    e_a, e_b = pos[prv], pos[nxt]
    e_part = vline[prv]
    loop = (e_from == e_to) & (e_b - e_a <= tol)
    line_end = np.zeros(n_nodes, dtype=bool)
    line_end[vnode[is_end]] = True
    return RoadGraph(
        crs=crs, parts=parts, part_row=row, part_rate=rates[row], part_oneway=oneway[row],
        n_nodes=n_nodes, node_xy=node_xy, e_from=e_from[~loop], e_to=e_to[~loop],
        e_part=e_part[~loop], e_a=e_a[~loop], e_b=e_b[~loop], line_end=line_end,
        part_node=vnode[first_of],
        tolerance_m=tol, speeds=speeds, rows=len(roads))


def _csr(u, v, w, oneway, n) -> sparse.csr_matrix:
    """Directed graph of edges u -> v (and v -> u unless one-way); parallel edges keep
    their least cost (never summed); zero costs stay edges."""
    uu = np.r_[u, v[~oneway]]
    vv = np.r_[v, u[~oneway]]
    ww = np.r_[w, w[~oneway]]
    order = np.lexsort((ww, vv, uu))
    uu, vv, ww = uu[order], vv[order], ww[order]
    first = np.r_[True, (uu[1:] != uu[:-1]) | (vv[1:] != vv[:-1])]
    uu, vv, ww = uu[first], vv[first], ww[first]
    indptr = np.r_[0, np.cumsum(np.bincount(uu, minlength=n))]
    return sparse.csr_matrix((ww, vv, indptr), shape=(n, n))


@dataclass
class Snapped:
    """Points joined to the network: the part, the position along it, the on-road point
    and the walk (metres) from the point to the road."""

    part: np.ndarray
    pos: np.ndarray
    dist: np.ndarray
    onroad: np.ndarray  # (k, 2)


def snap_points(graph: RoadGraph, xy: np.ndarray) -> Snapped:
    """Each point's nearest point on the nearest road part (ties: the first part)."""
    k = len(xy)
    if k == 0:
        e = np.zeros(0)
        return Snapped(e.astype(np.intp), e, e.copy(), np.zeros((0, 2)))
    pts = shapely.points(xy)
    (pi, li), dist = graph.tree.query_nearest(pts, return_distance=True, all_matches=True)
    order = np.lexsort((li, pi))
    pi, li, dist = pi[order], li[order], dist[order]
    first = np.r_[True, pi[1:] != pi[:-1]]
    part = np.empty(k, dtype=np.intp)
    d = np.empty(k)
    part[pi[first]] = li[first]
    d[pi[first]] = dist[first]
    lines = graph.parts[part]
    pos = shapely.line_locate_point(lines, pts)
    onroad = shapely.get_coordinates(shapely.line_interpolate_point(lines, pos))
    return Snapped(part, pos, d, onroad)


class NetworkCosts(Costs):
    """Travel costs along a :class:`RoadGraph` from the villages to named point sets."""

    def __init__(self, graph: RoadGraph, spec: CostSpec, origins: np.ndarray,
                 places: dict[str, np.ndarray], *, access_speed_kmh: float | None = None):
        self.graph = graph
        self.spec = spec
        self.access_speed_kmh = float(network_defaults()["access_speed_kmh"]
                                      if access_speed_kmh is None else access_speed_kmh)
        self.names = ["__villages__", *places]
        groups = [np.asarray(origins, dtype=float).reshape(-1, 2),
                  *(np.asarray(v, dtype=float).reshape(-1, 2) for v in places.values())]
        self.offsets = dict(zip(self.names, np.cumsum([0] + [len(g) for g in groups[:-1]]),
                                strict=True))
        self.sizes = {n: len(g) for n, g in zip(self.names, groups, strict=True)}
        allxy = np.vstack(groups) if groups else np.zeros((0, 2))
        self.snapped = snap_points(graph, allxy)
        self._build(len(allxy))

    def _build(self, p: int) -> None:
        g, s = self.graph, self.snapped
        n = g.n_nodes
        field_ = self.spec.field
        rate = g.part_rate if field_ == "time" else np.ones(len(g.parts))
        # which edge of its part each on-road point lies on: the last edge of the part
        # starting at or before the point (edges ordered by part, then position)
        order_e = np.lexsort((g.e_a, g.e_part))
        ep, ea = g.e_part[order_e], g.e_a[order_e]
        start = np.searchsorted(ep, s.part, side="left")
        stop = np.searchsorted(ep, s.part, side="right")
        scale = float(shapely.length(g.parts).max()) + 1.0 if len(g.parts) else 1.0
        at = np.searchsorted(ep * scale + ea, s.part * scale + s.pos, side="right") - 1
        at = np.clip(at, start, np.maximum(stop - 1, start))
        edge = np.where(stop > start, order_e[np.minimum(at, max(len(order_e) - 1, 0))]
                        if len(order_e) else -1, -1)
        onroad_node = n + np.arange(p)
        point_node = n + p + np.arange(p)
        u_list, v_list, w_list, ow_list = [g.e_from], [g.e_to], [g.edge_cost(field_)], \
            [g.part_oneway[g.e_part]]
        # split each edge holding points: from -> q1 -> q2 ... -> to, along the edge
        has = edge >= 0
        if has.any():
            pts = np.flatnonzero(has)
            e = edge[pts]
            o = np.lexsort((s.pos[pts], e))
            pts, e = pts[o], e[o]
            posv = np.clip(s.pos[pts], g.e_a[e], g.e_b[e])
            r = rate[g.e_part[e]]
            ow = g.part_oneway[g.e_part[e]]
            head = np.r_[True, e[1:] != e[:-1]]
            tail = np.r_[e[1:] != e[:-1], True]
            # from the edge's start to its first point
            u_list.append(g.e_from[e[head]])
            v_list.append(onroad_node[pts[head]])
            w_list.append((posv[head] - g.e_a[e[head]]) * r[head])
            ow_list.append(ow[head] & (posv[head] > g.e_a[e[head]]))  # a 0 m piece: both ways
            # between consecutive points of one edge
            mid = ~head
            u_list.append(onroad_node[pts[np.flatnonzero(mid) - 1]])
            v_list.append(onroad_node[pts[mid]])
            w_list.append((posv[mid] - posv[np.flatnonzero(mid) - 1]) * r[mid])
            ow_list.append(ow[mid] & (posv[mid] > posv[np.flatnonzero(mid) - 1]))
            # from the last point to the edge's end
            u_list.append(onroad_node[pts[tail]])
            v_list.append(g.e_to[e[tail]])
            w_list.append((g.e_b[e[tail]] - posv[tail]) * r[tail])
            ow_list.append(ow[tail] & (g.e_b[e[tail]] > posv[tail]))
        # a point on a part without edges (all its vertices one junction): at that junction
        lone = np.flatnonzero(~has)
        u_list.append(g.part_node[s.part[lone]])
        v_list.append(onroad_node[lone])
        w_list.append(np.zeros(len(lone)))
        ow_list.append(np.zeros(len(lone), dtype=bool))
        # the walk between a point and its on-road point, both ways
        walk = s.dist if field_ == "length" else s.dist / (self.access_speed_kmh * 1000.0) * 60
        u_list.append(point_node)
        v_list.append(onroad_node)
        w_list.append(walk)
        ow_list.append(np.zeros(p, dtype=bool))
        total = n + 2 * p
        fwd = _csr(np.concatenate(u_list).astype(np.intp), np.concatenate(v_list).astype(np.intp),
                   np.concatenate(w_list).astype(float), np.concatenate(ow_list).astype(bool),
                   total)
        # village -> facility: Dijkstra from the facility over the reversed graph
        self.reverse = fwd.T.tocsr()
        self.forward = fwd
        self.point_node = point_node
        self.total_nodes = total

    # --- the Costs interface -------------------------------------------------------
    def _nodes(self, to: str, cols) -> np.ndarray:
        off, m = self.offsets[to], self.sizes[to]
        idx = np.arange(m) if cols is None else np.asarray(cols, dtype=np.intp)
        return self.point_node[off + idx]

    def size(self, to: str, cols=None) -> int:
        return self.sizes[to] if cols is None else len(np.asarray(cols))

    def _villages(self) -> np.ndarray:
        return self.point_node[:self.sizes["__villages__"]]

    def _rows(self, sources: np.ndarray, limit: float):
        """Dijkstra from ``sources`` (batches), costs at the village nodes."""
        vil = self._villages()
        batch = max(1, _BATCH_CELLS // max(self.total_nodes, 1))
        for s0 in range(0, len(sources), batch):
            src = sources[s0:s0 + batch]
            d = dijkstra(self.reverse, directed=True, indices=src, limit=limit)
            yield s0, d[:, vil]

    def within(self, to: str, cutoff: float, cols=None):
        src = self._nodes(to, cols)
        n, m = self.sizes["__villages__"], len(src)
        ii, jj, cc = [], [], []
        if n and m:
            for s0, d in self._rows(src, float(cutoff)):
                jl, il = np.nonzero(d <= cutoff)
                ii.append(il)
                jj.append(jl + s0)
                cc.append(d[jl, il])
        if not ii:
            e = np.zeros(0, dtype=np.intp)
            return e, e.copy(), np.zeros(0)
        return pairs_sorted(np.concatenate(ii).astype(np.intp),
                            np.concatenate(jj).astype(np.intp), np.concatenate(cc), m)

    def nearest(self, to: str, cols=None):
        src = self._nodes(to, cols)
        n = self.sizes["__villages__"]
        if len(src) == 0 or n == 0:
            return np.full(n, np.inf), np.full(n, -1, dtype=np.intp)
        d, _, source = dijkstra(self.reverse, directed=True, indices=src, min_only=True,
                                return_predecessors=True)
        vil = self._villages()
        where = np.full(self.total_nodes, -1, dtype=np.intp)
        where[src[::-1]] = np.arange(len(src))[::-1]  # a node twice: its first position
        got = source[vil]
        idx = np.where(got >= 0, where[np.maximum(got, 0)], -1)
        cost = d[vil]
        return np.where(idx >= 0, cost, np.inf), idx

    def dense(self, to: str, cols=None) -> np.ndarray:
        src = self._nodes(to, cols)
        n = self.sizes["__villages__"]
        out = np.full((n, len(src)), np.inf)
        if n and len(src):
            for s0, d in self._rows(src, np.inf):
                out[:, s0:s0 + len(d)] = d.T
        return out

    def snap(self, to: str | None = None) -> np.ndarray:
        name = "__villages__" if to is None else to
        off, m = self.offsets[name], self.sizes[name]
        return self.snapped.dist[off:off + m]

    def describe(self) -> dict:
        d = super().describe()
        vs = self.snap()
        d.update(roads=int(self.graph.rows), junctions=int(self.graph.n_nodes),
                 length_km=round(self.graph.length_m / 1000.0, 3),
                 snap_tolerance_m=self.graph.tolerance_m,
                 access_speed_kmh=self.access_speed_kmh,
                 speed_kmh=dict(self.graph.speeds),
                 village_snap_m_max=float(vs.max()) if len(vs) else None,
                 village_snap_m_mean=float(vs.mean()) if len(vs) else None)
        return d


class NetworkSource(CostSource):
    """Road travel (cost ``spec.field``: length in metres or time in minutes) on the graph
    ``graph_for(crs)`` gives for the villages' metric CRS (a service keeps it per roads
    version)."""

    def __init__(self, graph_for, spec: CostSpec, *, access_speed_kmh=None):
        self.graph_for = graph_for
        self.spec = spec
        self.access_speed_kmh = access_speed_kmh

    def bind(self, origins, places, *, crs=None, origin_codes=None, names=None) -> NetworkCosts:
        return NetworkCosts(self.graph_for(crs), self.spec, origins, places,
                            access_speed_kmh=self.access_speed_kmh)
