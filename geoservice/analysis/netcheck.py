"""The road network check (docs/network.md): what in a ``roads`` layer would make travel
cost wrong before any analysis runs on it.

- disconnected parts: the weak components of the road graph (junctions joined by edges,
  either direction); per part its junctions, kilometres of road and the villages and
  facilities whose nearest road lies in it. The longest is the main network (主网): a
  village joined to another part cannot reach a facility on the main network at all;
- dangling ends: a junction that is the end of a line and has one edge only, lying within
  ``dangle_m`` of another line it is not joined to: most often a line digitised a little
  short of (or beyond) the road it meets, a probable digitising error;
- far points: villages and facilities farther than ``far_m`` from any road (their walk to
  the road, ``snap_m``, would dominate their travel cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import records
from geoservice.analysis.network import RoadGraph, snap_points
from geoservice.analysis.settings import network_defaults
from layers.schema import KINDS, ROAD_CLASSES

STORED = "EPSG:4490"
MAIN_LABEL = "主网"
VILLAGES = "villages"


def _lonlat(xy: np.ndarray, crs: str) -> np.ndarray:
    if len(xy) == 0:
        return np.zeros((0, 2))
    pts = gpd.GeoSeries(shapely.points(xy), crs=crs).to_crs(STORED)
    return shapely.get_coordinates(pts.to_numpy())


def _points_frame(rows: list[dict] | pd.DataFrame, lonlat: np.ndarray) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lonlat) if len(lonlat) else [],
                            crs=STORED)


def part_label(k: int) -> str:
    """The Chinese name of connected part ``k`` (0 is the main network)."""
    return MAIN_LABEL if k == 0 else f"孤立部分 {k}"


@dataclass
class NetworkCheckResult:
    """The parts, the dangling ends and the far points, with the roads for a map."""

    parts: pd.DataFrame          # one row per connected part, the main network first
    dangles: gpd.GeoDataFrame    # points (stored CRS)
    far: gpd.GeoDataFrame        # points (stored CRS)
    roads: gpd.GeoDataFrame      # one row per line part (stored CRS), with its part number
    summary: dict

    def to_dict(self) -> dict:
        """The JSON shape of ``network check --json`` and ``/api/network/check``."""
        return {
            "summary": self.summary,
            "parts": records(self.parts),
            "dangles": records(pd.DataFrame(self.dangles.drop(columns="geometry"))),
            "far": records(pd.DataFrame(self.far.drop(columns="geometry"))),
        }


def components(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per junction its part, numbered by length (0: the longest, the main network), and
    the part of each line part."""
    n = graph.n_nodes
    _, labels = connected_components(graph.matrix("length"), directed=True,
                                     connection="weak")
    part_of_line = labels[graph.part_node]
    length = np.bincount(part_of_line, weights=shapely.length(graph.parts),
                         minlength=labels.max() + 1 if n else 0)
    junctions = np.bincount(labels, minlength=len(length))
    # longest first; ties: more junctions, then the lower label
    order = np.lexsort((np.arange(len(length)), -junctions, -length))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return rank[labels], rank[part_of_line]


def check_network(graph: RoadGraph, villages_xy: np.ndarray, village_codes, village_names,
                  facilities: dict[str, tuple[np.ndarray, object]] | None = None, *,
                  far_m: float | None = None, dangle_m: float | None = None,
                  network: str = "roads", roads: pd.DataFrame | None = None,
                  inputs: dict | None = None) -> NetworkCheckResult:
    """Check ``graph`` (built in a metric CRS) with the villages' centres ``villages_xy``
    (metres, same CRS; codes and names by position) and ``facilities`` (layer -> (xy
    metres, names)). ``roads``: the layer the graph was built from (names and classes of
    the lines in the tables); ``far_m`` / ``dangle_m``: defaults from ``[network]``."""
    defaults = network_defaults()
    far_m = float(defaults["check_far_m"] if far_m is None else far_m)
    dangle_m = float(defaults["dangle_m"] if dangle_m is None else dangle_m)
    for value, name, label in ((far_m, "far", "离路过远阈值"),
                               (dangle_m, "dangle", "悬挂线端距离")):
        if not np.isfinite(value) or value < 0:
            raise InvalidInput(f"参数 {name}（{label}）应为不小于 0 的数（米），而不是 {value:g}",
                               name=name)
    facilities = facilities or {}
    vxy = np.asarray(villages_xy, dtype=float).reshape(-1, 2)
    codes = np.asarray(list(village_codes), dtype=object) if village_codes is not None \
        else np.full(len(vxy), "", dtype=object)
    vnames = np.asarray(list(village_names), dtype=object) if village_names is not None \
        else np.full(len(vxy), "", dtype=object)
    node_part, line_part = components(graph)
    n_parts = int(node_part.max()) + 1 if graph.n_nodes else 0
    line_len = shapely.length(graph.parts)

    # --- the points: which part their road lies in, and how far they are from it ----------
    sets = [(VILLAGES, vxy, vnames, codes)]
    for layer, (xy, names) in facilities.items():
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        names = np.asarray(list(names), dtype=object) if names is not None \
            else np.full(len(xy), "", dtype=object)
        sets.append((layer, xy, names, np.full(len(xy), "", dtype=object)))
    counts = {name: np.zeros(n_parts, dtype=np.int64) for name, *_ in sets}
    far_rows, far_xy = [], []
    for name, xy, names, pcodes in sets:
        if not len(xy):
            continue
        snapped = snap_points(graph, xy)
        counts[name] += np.bincount(line_part[snapped.part], minlength=n_parts)
        label = "村(社区)" if name == VILLAGES else KINDS[name].label if name in KINDS else name
        for i in np.flatnonzero(snapped.dist > far_m):
            far_rows.append({
                "layer": name, "layer_label": label, "code": _text(pcodes[i]),
                "name": _text(names[i]), "snap_m": round(float(snapped.dist[i]), 1),
                "part": int(line_part[snapped.part[i]]),
                "part_label": part_label(int(line_part[snapped.part[i]])),
            })
            far_xy.append(xy[i])
    far_lonlat = _lonlat(np.array(far_xy).reshape(-1, 2), graph.crs)
    for row, (lon, lat) in zip(far_rows, far_lonlat, strict=True):
        row["lon"], row["lat"] = round(float(lon), 6), round(float(lat), 6)
        row["note"] = (f"{row['layer_label']}“{row['name'] or row['code']}”距最近道路 "
                       f"{row['snap_m']:,.0f} 米，超过 {far_m:g} 米：步行接入占了出行成本的大部分，"
                       "请核对位置或补充道路")
    far = _points_frame(far_rows, far_lonlat) if far_rows else _empty_points(
        ["layer", "layer_label", "code", "name", "snap_m", "part", "part_label", "lon",
         "lat", "note"])

    # --- the parts --------------------------------------------------------------------
    fac_names = [name for name, *_ in sets[1:]]
    part_rows = []
    for k in range(n_parts):
        row = {"part": k, "label": part_label(k), "main": k == 0,
               "junctions": int((node_part == k).sum()),
               "length_km": round(float(line_len[line_part == k].sum()) / 1000.0, 3),
               "villages": int(counts[VILLAGES][k]),
               "facilities": int(sum(counts[f][k] for f in fac_names))}
        for f in fac_names:
            row[f"facilities_{f}"] = int(counts[f][k])
        part_rows.append(row)
    parts = pd.DataFrame(part_rows)

    # --- dangling ends ------------------------------------------------------------------
    dangles = _dangles(graph, node_part, line_part, dangle_m, roads)

    # --- the roads for a map --------------------------------------------------------------
    road_frame = roads_frame(graph, roads, line_part)
    total_km = float(line_len.sum()) / 1000.0
    main_km = float(parts["length_km"].iloc[0]) if len(parts) else 0.0
    n_fac = sum(len(np.asarray(xy).reshape(-1, 2)) for xy, _ in facilities.values())
    off_villages = int(counts[VILLAGES][1:].sum()) if n_parts > 1 else 0
    off_facilities = int(sum(counts[f][1:].sum() for f in fac_names)) if n_parts > 1 else 0
    summary = {
        "network": network,
        "network_label": KINDS[network].label if network in KINDS else network,
        "roads": int(graph.rows),
        "line_parts": int(len(graph.parts)),
        "junctions": int(graph.n_nodes),
        "edges": int(len(graph.e_from)),
        "length_km": round(total_km, 3),
        "parts": n_parts,
        "main_length_km": main_km,
        "main_share": round(main_km / total_km, 4) if total_km > 0 else None,
        "villages": int(len(vxy)),
        "facilities": int(n_fac),
        "facility_layers": {f: KINDS[f].label if f in KINDS else f for f in fac_names},
        "villages_off_main": off_villages,
        "facilities_off_main": off_facilities,
        "dangles": int(len(dangles)),
        "far": int(len(far)),
        "far_villages": int((far["layer"] == VILLAGES).sum()) if len(far) else 0,
        "far_facilities": int((far["layer"] != VILLAGES).sum()) if len(far) else 0,
        "far_m": far_m,
        "dangle_m": dangle_m,
        "snap_tolerance_m": graph.tolerance_m,
        "speed_kmh": dict(graph.speeds),
        "speed_labels": {ROAD_CLASSES[k]: v for k, v in graph.speeds.items()
                         if k in ROAD_CLASSES},
        "source": defaults["source"],
        "inputs": {**(inputs or {}), "crs": f"{graph.crs}（高斯-克吕格，米）"},
    }
    summary["findings"] = findings_text(summary)
    return NetworkCheckResult(parts, dangles, far, road_frame, summary)


def findings_text(s: dict) -> list[str]:
    """The check's conclusions in one Chinese sentence each."""
    out = []
    if s["parts"] <= 1:
        out.append("道路网连通：只有一个连通部分")
    else:
        out.append(f"道路网分为 {s['parts']} 个互不连通的部分：主网 {s['main_length_km']:,.1f} 公里"
                   f"（占 {s['main_share']:.0%}），其余部分上有村(社区) {s['villages_off_main']} 个、"
                   f"设施 {s['facilities_off_main']} 个，它们无法沿道路到达主网上的设施")
    out.append(f"悬挂线端（距另一条道路 {s['dangle_m']:g} 米内却未连接，疑似数字化错误）："
               f"{s['dangles']} 处" if s["dangles"] else
               f"未发现距另一条道路 {s['dangle_m']:g} 米内的悬挂线端")
    out.append(f"离最近道路超过 {s['far_m']:g} 米：村(社区) {s['far_villages']} 个、"
               f"设施 {s['far_facilities']} 个")
    return out


def _text(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    return str(v)


def _empty_points(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame({c: [] for c in columns}),
                            geometry=gpd.GeoSeries([], crs=STORED), crs=STORED)


def _row_text(roads: pd.DataFrame | None, column: str, rows: np.ndarray) -> list[str]:
    if roads is None or column not in roads.columns:
        return [""] * len(rows)
    values = roads[column].to_numpy()
    return [_text(values[r]) for r in rows]


def _dangles(graph: RoadGraph, node_part: np.ndarray, line_part: np.ndarray,
             dangle_m: float, roads: pd.DataFrame | None) -> gpd.GeoDataFrame:
    columns = ["junction", "distance_m", "road", "road_class", "road_class_label",
               "near_road", "near_road_class_label", "same_part", "part", "part_label",
               "lon", "lat", "note"]
    n = graph.n_nodes
    degree = (np.bincount(graph.e_from, minlength=n) + np.bincount(graph.e_to, minlength=n))
    ends = np.flatnonzero(graph.line_end & (degree == 1))
    if not len(ends):
        return _empty_points(columns)
    points = shapely.points(graph.node_xy[ends])
    qi, qj = graph.tree.query(points, predicate="dwithin", distance=dangle_m)
    # the line parts each end is joined to: those of its edges (and a part whose every
    # vertex is that junction)
    n_lines = len(graph.parts)
    touching = np.unique(np.r_[graph.e_from * n_lines + graph.e_part,
                              graph.e_to * n_lines + graph.e_part,
                              graph.part_node * n_lines + np.arange(n_lines)])
    keep = ~np.isin(ends[qi] * n_lines + qj, touching)
    qi, qj = qi[keep], qj[keep]
    if not len(qi):
        return _empty_points(columns)
    dist = shapely.distance(points[qi], graph.parts[qj])
    order = np.lexsort((qj, dist, qi))
    qi, qj, dist = qi[order], qj[order], dist[order]
    first = np.r_[True, qi[1:] != qi[:-1]]
    qi, qj, dist = qi[first], qj[first], dist[first]
    node = ends[qi]
    # the line each dangling end belongs to: the part of its one edge
    own_edge = np.where(np.isin(node, graph.e_from),
                        _first_index(graph.e_from, node), _first_index(graph.e_to, node))
    own_line = graph.e_part[own_edge]
    own_rows, near_rows = graph.part_row[own_line], graph.part_row[qj]
    own_name = _row_text(roads, "name", own_rows)
    own_class = _row_text(roads, "road_class", own_rows)
    near_name = _row_text(roads, "name", near_rows)
    near_class = _row_text(roads, "road_class", near_rows)
    lonlat = _lonlat(graph.node_xy[node], graph.crs)
    rows = []
    for k in range(len(node)):
        same = bool(node_part[node[k]] == line_part[qj[k]])
        road = own_name[k] or f"第 {int(own_rows[k]) + 1} 条道路"
        near = near_name[k] or f"第 {int(near_rows[k]) + 1} 条道路"
        rows.append({
            "junction": int(node[k]), "distance_m": round(float(dist[k]), 2),
            "road": road, "road_class": own_class[k],
            "road_class_label": ROAD_CLASSES.get(own_class[k], own_class[k]),
            "near_road": near,
            "near_road_class_label": ROAD_CLASSES.get(near_class[k], near_class[k]),
            "same_part": same, "part": int(node_part[node[k]]),
            "part_label": part_label(int(node_part[node[k]])),
            "lon": round(float(lonlat[k, 0]), 6), "lat": round(float(lonlat[k, 1]), 6),
            "note": (f"“{road}”的线端距“{near}” {dist[k]:.1f} 米却未连接"
                     + ("" if same else "（两者分属不同的连通部分）")
                     + "：疑似数字化错误，请在编辑时把线端接到道路上（或确认为立交/断头路）"),
        })
    out = _points_frame(rows, lonlat)
    return out.sort_values(["distance_m", "junction"], kind="stable").reset_index(drop=True)


def _first_index(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The first position of each of ``wanted`` in ``values`` (0 where absent)."""
    order = np.argsort(values, kind="stable")
    pos = np.searchsorted(values[order], wanted)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    return order[pos] if len(order) else np.zeros(len(wanted), dtype=np.intp)


def roads_frame(graph: RoadGraph, roads: pd.DataFrame | None,
                line_part: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """One row per line part of the graph (stored CRS): the road's name, class (value and
    label), the speed its travel time is computed at (km/h), one-way, its connected part."""
    if line_part is None:
        _, line_part = components(graph)
    rows = graph.part_row
    classes = _row_text(roads, "road_class", rows)
    classes = [c if c in ROAD_CLASSES else "other" for c in classes]
    speed = 60.0 / (graph.part_rate * 1000.0)
    frame = pd.DataFrame({
        "name": _row_text(roads, "name", rows),
        "road_class": classes,
        "road_class_label": [ROAD_CLASSES[c] for c in classes],
        "speed_kmh": np.round(speed, 1),
        "oneway": graph.part_oneway.astype(bool),
        "length_m": np.round(shapely.length(graph.parts), 1),
        "part": line_part.astype(int),
        "part_label": [part_label(int(k)) for k in line_part],
    })
    geoms = gpd.GeoSeries(graph.parts, crs=graph.crs).to_crs(STORED)
    return gpd.GeoDataFrame(frame, geometry=geoms.to_numpy(), crs=STORED)
