"""Benchmark: coverage + G2SFCA against PySAL ``access`` (same input, same process).

    python -m bench.coverage [--radius 5000] [--repeat 15] [--outlines PATH] [--no-big]

Data: the demo county (青神县, 58 real villages, layers/demo), and villages and facilities
generated over the real Hubei county outlines (bench/synthetic.py): 27,000 villages and
10,000 facilities, at three scales: one county (竹山县 420323, about 520 villages), one
prefecture (十堰市 4203), the province; and a denser generation (80,000 villages over the
province) for a county of about 1,500 villages (竹山县 again). Every scale is analysed with
the elderly service points, the radius given.

The named baseline is PySAL ``access.fca.two_stage_fca`` with the same Gaussian weight,
on a cost table of the village-facility pairs within the radius built by a KD-tree (a
dense table of 27,000 x 10,000 pairs would not fit in memory). Both sides start from the
same inputs, the village and facility GeoDataFrames: the baseline takes the village centres
in metres as the analysis does (``village_centres_xy``, the projected facility points),
builds its cost table and runs ``access``. The analysis computes more than access does
(nearest facility and distance, coverage, presence, township and area summaries); the
baseline is charged for nothing beyond access's own result. Printed per scale, medians of
``--repeat`` rounds in which the timed calls alternate (the garbage collector off during
each call, as ``timeit`` does):

* G2SFCA: our ``g2sfca`` from projected coordinates (pair search included) against
  ``access`` given the ready cost table (its construction not counted);
* whole analysis: our ``coverage`` call against the baseline from the same frames
  (centres + cost table + access), and, for reference, against cost table + access alone
  (the centres given to the baseline for free).

Results are checked to agree to 1e-9 relative before any time is printed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
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
from geoservice.analysis.coverage import (  # noqa: E402
    coverage,
    facility_supply,
    g2sfca,
    gaussian_weight,
    village_centres_xy,
)
from layers.crs import metric_crs  # noqa: E402

LAYER = "elderly_service_points"
DEMO = Path(__file__).resolve().parent.parent / "layers" / "demo" / "qingshen.gpkg"


def _points(villages, facilities):
    """The same centres the analysis measures from (in metres), and the facilities."""
    gk = metric_crs(villages)
    cxy, _ = village_centres_xy(villages.to_crs("EPSG:4490"), gk)
    fxy = shapely.get_coordinates(facilities.to_crs(gk).geometry.array)
    return cxy, fxy


def _elderly(villages) -> np.ndarray:
    return pd.to_numeric(villages["elderly_population"], errors="coerce").fillna(0) \
        .to_numpy(dtype=float)


def baseline_inputs(villages, cxy, fxy, beds, radius_m):
    """access's inputs: demand, supply and the cost table of pairs within the radius."""
    pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(fxy), radius_m, output_type="ndarray")
    cost = pd.DataFrame({"origin": villages["code"].to_numpy()[pairs["i"]],
                         "dest": pairs["j"], "cost": pairs["v"]})
    demand = pd.DataFrame({"demand": _elderly(villages)},
                          index=pd.Index(villages["code"].to_numpy(), name="geoid"))
    supply = pd.DataFrame({"supply": beds}, index=pd.Index(np.arange(len(beds)), name="geoid"))
    return demand, supply, cost


def run_baseline(demand, supply, cost, radius_m):
    result = fca.two_stage_fca(
        demand, supply, cost, max_cost=radius_m, demand_index=True, demand_name="demand",
        supply_index=True, supply_name="supply", cost_origin="origin", cost_dest="dest",
        cost_name="cost", weight_fn=lambda d: gaussian_weight(d, radius_m))
    return result.reindex(demand.index).fillna(0.0)


def baseline(villages, facilities, radius_m) -> tuple[pd.Series, dict[str, float]]:
    """access from the frames the analysis is given; the seconds of each step (called
    through :func:`_timed`)."""
    t0 = time.perf_counter()
    cxy, fxy = _points(villages, facilities)
    beds = facility_supply(facilities, LAYER)
    t1 = time.perf_counter()
    demand, supply, cost = baseline_inputs(villages, cxy, fxy, beds, radius_m)
    t2 = time.perf_counter()
    result = run_baseline(demand, supply, cost, radius_m)
    t3 = time.perf_counter()
    return result, {"centres": t1 - t0, "cost": t2 - t1, "access": t3 - t2,
                    "pairs": len(cost)}


def _relative(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest relative difference (a value where the reference is 0 must be 0 too)."""
    scale = np.where(ref != 0, np.abs(ref), 1.0)
    return float(np.max(np.abs(got - ref) / scale)) if len(ref) else 0.0


def _timed(fn):
    """Seconds of one call, and its result. As ``timeit`` does, the cyclic garbage collector
    is off during the timed call (it runs between calls), so that neither side pays for the
    other's garbage or for traversing the generated data held by this process."""
    gc.disable()
    try:
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out
    finally:
        gc.enable()


def measure(name, villages, facilities, radius_m, repeat):
    cxy, fxy = _points(villages, facilities)
    beds = facility_supply(facilities, LAYER)
    eld = _elderly(villages)
    analysis = lambda: coverage(villages, facilities, layer=LAYER, radius_m=radius_m)  # noqa: E731
    kernel = lambda: g2sfca(cxy, eld, fxy, beds, radius_m)  # noqa: E731
    # one warm-up round, then the calls alternate; the province baseline runs fewer times
    rounds = repeat if len(villages) < 10_000 else max(3, repeat // 5)
    times: dict[str, list[float]] = {k: [] for k in
                                     ("full", "kernel", "centres", "cost", "access")}
    for r in range(rounds + 1):
        t_full, ours = _timed(analysis)
        t_kernel, (kernel_access, _) = _timed(kernel)
        _, (base, steps) = _timed(lambda: baseline(villages, facilities, radius_m))
        if r == 0:
            ref = base.to_numpy()
            diff = max(_relative(ours.villages["access"].to_numpy(), ref),
                       _relative(kernel_access, ref))
            if not diff <= 1e-9:
                raise SystemExit(f"{name}: 结果与 access 不一致，最大相对差 {diff:.3g}")
            continue
        times["full"].append(t_full)
        times["kernel"].append(t_kernel)
        for k in ("centres", "cost", "access"):
            times[k].append(steps[k])
    med = {k: statistics.median(v) for k, v in times.items()}
    base_given = med["cost"] + med["access"]
    base_whole = med["centres"] + base_given
    ms = {k: v * 1000 for k, v in med.items()}
    print(f"{name:<10} 村 {len(villages):>6} 设施 {len(facilities):>6} 点对 {steps['pairs']:>7} | "
          f"G2SFCA：本项目 {ms['kernel']:7.1f} ms，access {ms['access']:7.1f} ms，"
          f"快 {med['access'] / med['kernel']:5.1f} 倍 | "
          f"完整分析 {ms['full']:7.1f} ms 对 中心点+点对+access {base_whole * 1000:7.1f} ms，"
          f"快 {base_whole / med['full']:4.1f} 倍（中心点另给时 {base_given / med['full']:4.1f} 倍）"
          f" | 最大相对差 {diff:.0e}")
    return len(villages), med["kernel"], med["full"], med["access"]


def demo_county():
    from layers.store import open_store

    store = open_store(str(DEMO))
    return store.read("villages"), store.read(LAYER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=5000.0, help="服务半径（米），默认 5000")
    parser.add_argument("--repeat", type=int, default=15, help="每个规模交替计时的轮数，默认 15")
    parser.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    parser.add_argument("--no-big", action="store_true", help="不生成约 1500 个村的县")
    args = parser.parse_args()
    villages, facilities, _ = province(outlines=args.outlines)
    print(f"基准：geoservice.analysis.coverage 对比 PySAL access two_stage_fca"
          f"（同一进程、同一输入，交替计时取 {args.repeat} 轮中位数），半径 {args.radius:g} 米")
    county = ("420323", "420323")
    scales = [("县级", villages["county_code"] == county[0],
               facilities["county_code"] == county[1])]
    if not args.no_big:
        dense_v, dense_f, _ = province(80_000, 30_000, outlines=args.outlines, verbose=False)
        scales.append(("县级(密)", dense_v["county_code"] == county[0],
                       dense_f["county_code"] == county[1], dense_v, dense_f))
    scales += [
        ("地市级", villages["county_code"].str.startswith("4203"),
         facilities["county_code"].str.startswith("4203")),
        ("省级", slice(None), slice(None)),
    ]
    dv, df = demo_county()
    measure("演示县", dv, df, args.radius, args.repeat)
    rows = []
    for name, vsel, fsel, *frames in scales:
        v_all, f_all = frames if frames else (villages, facilities)
        v = v_all.loc[vsel].reset_index(drop=True)
        f = f_all.loc[fsel].reset_index(drop=True)
        row = measure(name, v, f, args.radius, args.repeat)
        if name != "县级(密)":
            rows.append(row)
    (n0, k0, f0, b0), (n1, k1, f1, b1) = rows[0], rows[-1]
    print(f"从县级到省级：村数 ×{n1 / n0:.0f}；本项目 G2SFCA 用时 ×{k1 / k0:.0f}，"
          f"完整分析 ×{f1 / f0:.0f}；access 用时 ×{b1 / b0:.0f}")


if __name__ == "__main__":
    main()
