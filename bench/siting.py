"""Benchmark: siting (HiGHS, sparse coverage) against PySAL ``spopt`` (dense, PuLP + CBC).

    python -m bench.siting [--scale county|province|all] [--baseline-timeout 60]
                           [--radius 5000] [--add 20] [--outlines PATH]

Data: generated villages and facilities over the real Hubei county outlines
(bench/synthetic.py, fixed seed).

* county: the 500 villages nearest one point of 竹山县 as demand, their 500 centres as
  candidates, the synthetic facilities among them as existing sites;
* province: 27,000 villages, 5,000 candidates (village centres drawn at random), 1,500
  existing facilities.

Problems: MCLP (add K, maximise covered elderly) at both scales; target coverage = 1.0
(spopt LSCP) and p-median (spopt PMedian) at county scale. Ours is one ``siting()`` call
(centres, projection, KD-tree coverage, model, solve, ranking). spopt gets a dense cost
matrix (villages x (existing + candidates)), built from the same projected coordinates,
with the existing facilities predefined; its time includes the matrix and the PuLP model.
County-scale spopt runs in this process. Province-scale spopt needs a dense
27,000 x 6,500 matrix and a PuLP model with ~175 million coefficients: it runs in a
subprocess killed after ``--baseline-timeout`` seconds (memory capped), and the report
says so honestly if it did not finish. Objectives are compared before any ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import province  # noqa: E402
from geoservice.analysis.coverage import village_centres  # noqa: E402
from geoservice.analysis.siting import siting  # noqa: E402
from layers.crs import metric_crs  # noqa: E402


def _xy(villages, facilities, candidates):
    gk = metric_crs(villages)
    c = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    f = shapely.get_coordinates(facilities.to_crs(gk).geometry.array)
    k = shapely.get_coordinates(candidates.to_crs(gk).geometry.array)
    return c, f, k


def spopt_run(problem, cxy, fxy, kxy, w, radius, add) -> dict:
    """spopt on the dense cost matrix; returns seconds and objective."""
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    t0 = time.perf_counter()
    sites = np.vstack([fxy, kxy])
    cost = np.sqrt(((cxy[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    nf = len(fxy)
    pre = np.arange(nf)
    if problem == "mclp":
        model = MCLP.from_cost_matrix(cost, w, radius, p_facilities=nf + add,
                                      predefined_facilities_arr=pre)
    elif problem == "target":
        model = LSCP.from_cost_matrix(cost, radius, predefined_facilities_arr=pre)
    else:
        model = PMedian.from_cost_matrix(cost, w, p_facilities=nf + add,
                                         predefined_facilities_arr=pre)
    t_build = time.perf_counter() - t0
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    obj = pulp.value(model.problem.objective)
    if problem == "target":
        obj -= nf  # new sites only
    return {"seconds": time.perf_counter() - t0, "build_seconds": t_build, "objective": obj}


def ours_run(problem, villages, facilities, candidates, radius, add, time_limit):
    t0 = time.perf_counter()
    kw = {"add": add} if problem != "target" else {"target": 1.0, "weight": "villages"}
    res = siting(villages, facilities, candidates, problem=problem, radius_m=radius,
                 time_limit_s=time_limit, **kw)
    s = res.summary
    return {"seconds": time.perf_counter() - t0, "objective": s["objective"],
            "optimal": s["optimal"], "gap": s["gap"], "solve_seconds": s["solve_seconds"]}


def _worker(path: str) -> None:
    """Subprocess entry: spopt on saved coordinates, JSON on stdout."""
    d = np.load(path)
    out = spopt_run(str(d["problem"]), d["cxy"], d["fxy"], d["kxy"], d["w"],
                    float(d["radius"]), int(d["add"]))
    print(json.dumps(out))


def _limit_memory(gb: float):
    def apply():
        lim = int(gb * 1024 ** 3)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    return apply


def spopt_subprocess(problem, cxy, fxy, kxy, w, radius, add, timeout, mem_gb) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.npz")
        np.savez(path, problem=problem, cxy=cxy, fxy=fxy, kxy=kxy, w=w, radius=radius, add=add)
        t0 = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, "-m", "bench.siting", "--baseline-worker", path],
                               capture_output=True, text=True, timeout=timeout,
                               cwd=Path(__file__).resolve().parent.parent,
                               preexec_fn=_limit_memory(mem_gb))
        except subprocess.TimeoutExpired:
            return {"failed": f"{timeout:g} 秒内未完成（已终止）",
                    "seconds": time.perf_counter() - t0}
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or ["?"])[-1]
            return {"failed": f"失败（内存上限 {mem_gb:g} GB）：{tail[:160]}",
                    "seconds": time.perf_counter() - t0}
        return json.loads(r.stdout.strip().splitlines()[-1])


def _line(scale, problem, ours, base):
    head = f"{scale:<8} {problem:<7} ours {ours['seconds']:8.2f} s"
    head += f"（求解 {ours['solve_seconds']:.2f} s，{'最优' if ours['optimal'] else '未证最优'}）"
    if "failed" in base:
        print(f"{head} | spopt {base['failed']}（已用 {base['seconds']:.0f} 秒）"
              f" → 比值 ≥ {base['seconds'] / ours['seconds']:.1f}x（下限）")
        return
    same = np.isclose(ours["objective"], base["objective"], rtol=1e-6, atol=1e-9)
    print(f"{head} | spopt {base['seconds']:8.2f} s（建模 {base['build_seconds']:.2f} s）"
          f" | 比值 {base['seconds'] / ours['seconds']:6.1f}x | 目标值 {ours['objective']:,.2f}"
          f" vs {base['objective']:,.2f} {'相等' if same else '不相等！'}")
    assert same, "objective differs from spopt"


def county_data(villages, facilities):
    gk = metric_crs(villages)
    c = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    mask = (villages["county_code"] == "420323").to_numpy()
    centre = c[mask].mean(axis=0)
    _, idx = cKDTree(c).query(centre, k=500)
    v = villages.iloc[np.sort(idx)].reset_index(drop=True)
    hull = shapely.convex_hull(shapely.multipoints(c[idx]))
    f_gk = shapely.get_coordinates(facilities.to_crs(gk).geometry.array)
    inside = shapely.contains_xy(hull, f_gk[:, 0], f_gk[:, 1])
    f = facilities[inside].iloc[::4].reset_index(drop=True)  # sparser: not all covered yet
    cand = gpd.GeoDataFrame({"name": v["name"].to_numpy()},
                            geometry=village_centres(v).to_numpy(), crs=v.crs)
    return v, f, cand


def province_data(villages, facilities, n_cand=5000, n_fac=1500, seed=7):
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(villages), n_cand, replace=False))
    cent = village_centres(villages)
    cand = gpd.GeoDataFrame({"name": villages["name"].to_numpy()[pick]},
                            geometry=cent.to_numpy()[pick], crs=villages.crs)
    f = facilities.iloc[np.sort(rng.choice(len(facilities), n_fac, replace=False))]
    return villages, f.reset_index(drop=True), cand


def _arrays(scale: str, villages, facilities, candidates, radius: float, add: int):
    """Projected coordinates and elderly weights for spopt; prints the instance's size."""
    cxy, fxy, kxy = _xy(villages, facilities, candidates)
    print(f"\n{scale}：{len(villages)} 个村、{len(candidates)} 个候选点、{len(facilities)} 个现有设施，"
          f"半径 {radius:g} 米，新建 {add} 处")
    return cxy, fxy, kxy, villages["elderly_population"].to_numpy(dtype=float)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="选址基准测试：HiGHS 稀疏模型 vs spopt")
    ap.add_argument("--scale", choices=("county", "province", "all"), default="all")
    ap.add_argument("--radius", type=float, default=5000.0)
    ap.add_argument("--add", type=int, default=20)
    ap.add_argument("--province-add", type=int, default=200)
    ap.add_argument("--baseline-timeout", type=float, default=60.0)
    ap.add_argument("--baseline-memory-gb", type=float, default=8.0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--outlines", type=Path, default=None)
    ap.add_argument("--baseline-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.baseline_worker:
        _worker(args.baseline_worker)
        return
    villages, facilities, _ = province(outlines=args.outlines)
    if args.scale in ("county", "all"):
        v, f, cand = county_data(villages, facilities)
        cxy, fxy, kxy, w = _arrays("县级", v, f, cand, args.radius, args.add)
        for problem, radius in (("mclp", args.radius), ("target", args.radius / 2),
                                ("pmedian", args.radius)):
            ours = ours_run(problem, v, f, cand, radius, args.add, args.time_limit)
            base = spopt_run(problem, cxy, fxy, kxy, w, radius, args.add)
            _line("county", problem, ours, base)
    if args.scale in ("province", "all"):
        v, f, cand = province_data(villages, facilities)
        cxy, fxy, kxy, w = _arrays("省级", v, f, cand, args.radius, args.province_add)
        ours = ours_run("mclp", v, f, cand, args.radius, args.province_add, args.time_limit)
        state = "最优" if ours["optimal"] else f"未证最优，差距 {ours['gap']}"
        print(f"  ours: {ours['seconds']:.2f} s，目标值 {ours['objective']:,.0f}，{state}")
        print(f"  spopt（子进程，上限 {args.baseline_timeout:g} 秒、{args.baseline_memory_gb:g} GB）…")
        base = spopt_subprocess("mclp", cxy, fxy, kxy, w, args.radius, args.province_add,
                                args.baseline_timeout, args.baseline_memory_gb)
        _line("province", "mclp", ours, base)


if __name__ == "__main__":
    main()
