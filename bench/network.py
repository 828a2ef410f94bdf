"""Benchmark: road travel cost (geoservice.analysis.network) against networkx and against
an all-pairs computation, at county and province scale, in one run.

    python -m bench.network [--radius 5000] [--sample 40] [--no-province]

Data, generated deterministically (seed 15): a jittered grid road network with some
diagonals and some links removed, classes and speeds at random:

* 县级 (county): about 40 km x 40 km, 1 km grid: a few thousand segments, 600 villages,
  60 facilities;
* 省级 (province): about 150 km x 150 km, 300 m grid: several hundred thousand segments,
  22,000 villages, 2,000 facilities.

Printed per scale:

* build: ``build_graph`` (junctions, edges) and binding the villages and facilities
  (snapping them, splitting their roads) as ``NetworkCosts``;
* matrix with cutoff: ``NetworkCosts.within("facilities", radius)`` (Dijkstra from every
  facility outward, limited to the radius; village -> facility);
* networkx, the osmnx way: ``nx.single_source_dijkstra_path_length`` with ``cutoff`` from
  each facility on a networkx graph of the same edges (the reversed directed graph
  NetworkCosts searches, converted once, conversion not counted). At province scale a
  sample of ``--sample`` facilities is timed and the time extrapolated to all facilities
  (said so in the line);
* all pairs: ``scipy.sparse.csgraph.dijkstra`` from the facilities without a limit (every
  node's cost), then the villages' columns: what a dense OD matrix costs; sampled and
  extrapolated at province scale likewise;
* memory: the peak traced by ``tracemalloc`` during the matrix with cutoff, and the
  process's peak resident size.

The results are checked equal (villages within the radius and their costs, to 1e-9
relative) on the facilities timed by networkx and all pairs before anything is printed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.coverage import _timed as timed  # noqa: E402  (gc off during the timed call)
from geoservice.analysis.cost import CostSpec  # noqa: E402
from geoservice.analysis.network import NetworkCosts, build_graph  # noqa: E402

GK = "EPSG:4544"
X0, Y0 = 300_000.0, 3_200_000.0
CLASSES = np.array(["national", "provincial", "county", "township", "village"])
CLASS_P = np.array([0.04, 0.06, 0.15, 0.3, 0.45])


def synthetic(size_m: float, step_m: float, villages: int, facilities: int, seed: int = 15):
    """Roads (GeoDataFrame), village and facility points (metres) over ``size_m``."""
    rng = np.random.default_rng(seed)
    k = int(size_m // step_m) + 1
    gx, gy = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    jitter = rng.uniform(-0.3, 0.3, size=(k, k, 2)) * step_m
    px = X0 + gx * step_m + jitter[..., 0]
    py = Y0 + gy * step_m + jitter[..., 1]
    idx = np.arange(k * k).reshape(k, k)
    pairs = [np.c_[idx[:-1, :].ravel(), idx[1:, :].ravel()],      # east
             np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()]]      # north
    diag = np.c_[idx[:-1, :-1].ravel(), idx[1:, 1:].ravel()]
    pairs.append(diag[rng.random(len(diag)) < 0.15])
    e = np.vstack(pairs)
    e = e[rng.random(len(e)) >= 0.08]                             # some links missing
    xy = np.c_[px.ravel(), py.ravel()]
    # a mid vertex on each segment (lines are rarely straight)
    mid = (xy[e[:, 0]] + xy[e[:, 1]]) / 2 + rng.normal(0, step_m * 0.05, size=(len(e), 2))
    coords = np.stack([xy[e[:, 0]], mid, xy[e[:, 1]]], axis=1)
    lines = shapely.linestrings(coords)
    cls = rng.choice(CLASSES, size=len(e), p=CLASS_P)
    roads = gpd.GeoDataFrame({"road_class": cls, "oneway": rng.random(len(e)) < 0.02},
                             geometry=lines, crs=GK)
    vxy = np.c_[rng.uniform(X0, X0 + size_m, villages), rng.uniform(Y0, Y0 + size_m, villages)]
    fxy = np.c_[rng.uniform(X0, X0 + size_m, facilities),
                rng.uniform(Y0, Y0 + size_m, facilities)]
    return roads, vxy, fxy


def pairs_dict(i, j, c) -> dict:
    return {(int(a), int(b)): float(x) for a, b, x in zip(i, j, c, strict=True)}


def networkx_within(costs: NetworkCosts, sample: np.ndarray, radius: float):
    """The osmnx way on the same directed graph: per facility a cutoff Dijkstra."""
    import networkx as nx

    g = nx.from_scipy_sparse_array(costs.reverse, create_using=nx.DiGraph, edge_attribute="w")
    vil = costs.point_node[:costs.sizes["__villages__"]]
    where = {int(node): i for i, node in enumerate(vil)}
    off = costs.offsets["facilities"]

    def run():
        out = {}
        for j in sample:
            d = nx.single_source_dijkstra_path_length(g, int(costs.point_node[off + j]),
                                                      cutoff=radius, weight="w")
            for node, c in d.items():
                i = where.get(node)
                if i is not None:
                    out[(i, int(j))] = float(c)
        return out

    return timed(run)


def all_pairs(costs: NetworkCosts, sample: np.ndarray):
    """Every node's cost from the sampled facilities, no limit (a dense OD matrix)."""
    from scipy.sparse.csgraph import dijkstra

    off = costs.offsets["facilities"]
    vil = costs.point_node[:costs.sizes["__villages__"]]
    batch = max(1, 16_000_000 // costs.total_nodes)

    def run():
        cols = []
        for s0 in range(0, len(sample), batch):
            src = costs.point_node[off + sample[s0:s0 + batch]]
            cols.append(dijkstra(costs.reverse, directed=True, indices=src)[:, vil])
        return np.vstack(cols)

    return timed(run)


def same(ours: dict, ref: dict) -> float:
    if set(ours) != set(ref):
        raise SystemExit(f"结果不一致：点对数 {len(ours)} 对 {len(ref)}，"
                         f"差 {len(set(ours) ^ set(ref))} 个")
    diff = max((abs(ours[k] - ref[k]) / max(abs(ref[k]), 1e-12) for k in ref), default=0.0)
    if diff > 1e-9:
        raise SystemExit(f"结果不一致：最大相对差 {diff:.3g}")
    return diff


def measure(name: str, roads, vxy, fxy, radius: float, sample_n: int | None) -> None:
    t_build, graph = timed(lambda: build_graph(roads, GK))
    spec = CostSpec(kind="network", field="length", unit="m")
    t_bind, costs = timed(lambda: NetworkCosts(graph, spec, vxy, {"facilities": fxy}))
    tracemalloc.start()
    t_within, (i, j, c) = timed(lambda: costs.within("facilities", radius))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    m = len(fxy)
    sample = (np.arange(m) if sample_n is None or sample_n >= m else
              np.sort(np.random.default_rng(1).choice(m, sample_n, replace=False)))
    scale = m / len(sample)
    t_nx, ref = networkx_within(costs, sample, radius)
    keep = np.isin(j, sample)
    ours = pairs_dict(i[keep], j[keep], c[keep])
    diff_nx = same(ours, ref)
    t_all, dense = all_pairs(costs, sample)
    si, sj = np.nonzero(dense <= radius)
    diff_all = same(ours, pairs_dict(sj, sample[si], dense[si, sj]))
    note = "" if scale == 1 else f"（抽样 {len(sample)} 个设施计时，按 {scale:.0f} 倍外推）"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name:<4} 道路 {len(roads):>7,} 条 节点 {graph.n_nodes:>7,} 村 {len(vxy):>6,} "
          f"设施 {m:>5,} 半径内点对 {len(i):>8,}")
    print(f"     建图 {t_build:6.2f} s，接入村和设施 {t_bind:6.2f} s；"
          f"带截断的成本矩阵 {t_within:7.2f} s")
    print(f"     networkx（osmnx 的做法，每个设施一次带 cutoff 的 Dijkstra）{t_nx * scale:8.2f} s"
          f"，慢 {t_nx * scale / t_within:6.1f} 倍{note}")
    print(f"     全部点对（不截断的 Dijkstra）{t_all * scale:8.2f} s，"
          f"慢 {t_all * scale / t_within:6.1f} 倍{note}")
    print(f"     内存峰值：成本矩阵 {peak / 2**20:7.1f} MB（tracemalloc），进程 {rss:7.1f} MB；"
          f"与 networkx 最大相对差 {diff_nx:.0e}，与全部点对 {diff_all:.0e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=5000.0, help="截断半径（米），默认 5000")
    parser.add_argument("--sample", type=int, default=40,
                        help="省级规模 networkx 和全部点对计时的抽样设施数，默认 40")
    parser.add_argument("--no-province", action="store_true", help="只测县级规模")
    args = parser.parse_args()
    print(f"基准：沿道路网的出行成本（scipy.sparse.csgraph，带截断）对比 networkx 和全部点对，"
          f"半径 {args.radius:g} 米（道路里程）")
    roads, vxy, fxy = synthetic(40_000, 1_000, 600, 60)
    measure("县级", roads, vxy, fxy, args.radius, None)
    if not args.no_province:
        roads, vxy, fxy = synthetic(150_000, 300, 22_000, 2_000)
        measure("省级", roads, vxy, fxy, args.radius, args.sample)


if __name__ == "__main__":
    main()
