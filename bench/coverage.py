"""Benchmark: coverage + G2SFCA against PySAL ``access`` (same input, same process).

    python -m bench.coverage [--radius 5000] [--outlines PATH]

Data: 27,000 generated villages and 10,000 facilities over the real Hubei county outlines
(bench/synthetic.py). Scales: one county (竹山县 420323), one prefecture (十堰市 4203),
the province. Ours = the whole ``geoservice.analysis.coverage`` call (nearest distance,
presence, weights, G2SFCA, township summaries). Baseline = ``access.fca.two_stage_fca``
with the same Gaussian weight function on a cost table of the village-facility pairs
within the radius (built by a KD-tree and NOT counted in its time, which favours the
baseline; a dense table of 27,000 x 10,000 pairs would not fit in memory). Results are
checked to agree to 1e-9 before any time is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from access import fca  # noqa: E402

from bench.synthetic import province  # noqa: E402
from geoservice.analysis import coverage, gaussian_weight, village_centres  # noqa: E402
from layers.crs import metric_crs  # noqa: E402


def baseline_inputs(villages, facilities, radius_m):
    gk = metric_crs(villages)
    cxy = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    fxy = shapely.get_coordinates(facilities.to_crs(gk).geometry.array)
    pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(fxy), radius_m, output_type="ndarray")
    cost = pd.DataFrame({"origin": villages["code"].to_numpy()[pairs["i"]],
                         "dest": pairs["j"], "cost": pairs["v"]})
    demand = pd.DataFrame({"demand": villages["elderly_population"].to_numpy(dtype=float)},
                          index=pd.Index(villages["code"].to_numpy(), name="geoid"))
    supply = pd.DataFrame({"supply": facilities["beds"].to_numpy(dtype=float)},
                          index=pd.Index(np.arange(len(facilities)), name="geoid"))
    return demand, supply, cost


def run_baseline(demand, supply, cost, radius_m):
    result = fca.two_stage_fca(
        demand, supply, cost, max_cost=radius_m, demand_index=True, demand_name="demand",
        supply_index=True, supply_name="supply", cost_origin="origin", cost_dest="dest",
        cost_name="cost", weight_fn=lambda d: gaussian_weight(d, radius_m))
    return result.reindex(demand.index).fillna(0.0)


def measure(name, villages, facilities, radius_m, repeat=3):
    best_ours = best_base = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        ours = coverage(villages, facilities, layer="elderly_service_points", radius_m=radius_m)
        best_ours = min(best_ours, time.perf_counter() - t)
    demand, supply, cost = baseline_inputs(villages, facilities, radius_m)
    for _ in range(repeat if len(cost) < 200_000 else 1):
        t = time.perf_counter()
        base = run_baseline(demand, supply, cost, radius_m)
        best_base = min(best_base, time.perf_counter() - t)
    diff = np.max(np.abs(ours.villages["access"].to_numpy() - base.to_numpy()))
    if not diff <= 1e-9:
        raise SystemExit(f"{name}: 结果与 access 不一致，最大差 {diff:.3g}")
    print(f"{name:<8} 村 {len(villages):>6}  设施 {len(facilities):>6}  半径内点对 {len(cost):>8}  "
          f"本项目 {best_ours:8.3f} 秒  access {best_base:8.3f} 秒  "
          f"快 {best_base / best_ours:6.1f} 倍  最大差 {diff:.1e}")
    return len(villages), best_ours, best_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=5000.0, help="服务半径（米），默认 5000")
    parser.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    args = parser.parse_args()
    villages, facilities, _ = province(outlines=args.outlines)
    print(f"基准：geoservice.analysis.coverage 对比 PySAL access two_stage_fca"
          f"（同一进程、同一输入），半径 {args.radius:g} 米")
    scales = [
        ("县级", villages["county_code"] == "420323", facilities["county_code"] == "420323"),
        ("地市级", villages["county_code"].str.startswith("4203"),
         facilities["county_code"].str.startswith("4203")),
        ("省级", slice(None), slice(None)),
    ]
    rows = []
    for name, vsel, fsel in scales:
        v = villages.loc[vsel].reset_index(drop=True)
        f = facilities.loc[fsel].reset_index(drop=True)
        rows.append(measure(name, v, f, args.radius))
    (n0, o0, b0), (n1, o1, b1) = rows[0], rows[-1]
    print(f"从县级到省级：村数 ×{n1 / n0:.0f}，本项目用时 ×{o1 / o0:.0f}，access 用时 ×{b1 / b0:.0f}")


if __name__ == "__main__":
    main()
