"""Benchmark: siting (HiGHS, sparse coverage) against PySAL ``spopt`` (dense, PuLP + CBC).

    python -m bench.siting [--scale county|province|pmedian|all] [--baseline-timeout 60]
                           [--radius 5000] [--add 20] [--outlines PATH]
                           [--pmedian-sizes 500x50,2000x200] [--pmedian-limit 300]

Data: generated villages and facilities over the real Hubei county outlines
(bench/synthetic.py, fixed seed).

* county: the 500 villages nearest one point of 竹山县 as demand, their 500 centres as
  candidates, the synthetic facilities among them as existing sites;
* province: 27,000 villages, 5,000 candidates (village centres drawn at random), 1,500
  existing facilities.

* pmedian: the uncapacitated p-median proven optimal, our radius model with Lagrangian
  reduced-cost fixing (``pmedian._uncapacitated``) against the assignment model it
  replaced (``pmedian._uncapacitated_assignment``), both through HiGHS on the same
  prepared inputs: the N villages nearest the same point, M of their centres drawn at
  random as candidates, no existing facility (green field: the hard case), K = M / 10.
  The old model may hit ``--pmedian-limit``: the ratio is then a lower bound. Then the
  same two on a uniform random 2,000 x 200 instance (K = 10), the hardest shape for the
  bound (one run on this machine: new 18.8 s, old 88.4 s, same optimum).

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


def pmedian_data(villages, n_v: int, n_c: int, seed: int = 5):
    """The ``n_v`` villages nearest the centre of 竹山县 and ``n_c`` of their centres."""
    gk = metric_crs(villages)
    c = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    centre = c[(villages["county_code"] == "420323").to_numpy()].mean(axis=0)
    _, idx = cKDTree(c).query(centre, k=n_v)
    v = villages.iloc[np.sort(idx)].reset_index(drop=True)
    pick = np.sort(np.random.default_rng(seed).choice(n_v, n_c, replace=False))
    cand = gpd.GeoDataFrame({"name": v["name"].to_numpy()[pick]},
                            geometry=village_centres(v).to_numpy()[pick], crs=v.crs)
    return v, cand


def pmedian_formulations(villages, sizes, time_limit: float) -> None:
    """Radius + Lagrangian against the assignment model on growing instances."""
    from geoservice.analysis.siting import SitingOptions, pmedian
    from geoservice.analysis.siting.inputs import coverage_of
    from geoservice.analysis.siting.progress import Progress
    from geoservice.analysis.siting.run import prepare

    print(f"\nP 中位（无容量，新建 K = 候选点数/10，无现有设施），证明最优；旧模型时间上限 "
          f"{time_limit:g} 秒")
    rows = []
    for n_v, n_c in sizes:
        v, cand = pmedian_data(villages, n_v, n_c)
        add = max(1, n_c // 10)
        opts = SitingOptions.build(problem="pmedian", radius_m=5000, add=add,
                                   time_limit_s=time_limit)
        prep = prepare(v, None, cand, None, opts, Progress())
        cov = coverage_of(prep.data, prep.elig, opts.weight, opts.radius_m)
        out = {}
        for name, fn in (("new", pmedian._uncapacitated),
                         ("old", pmedian._uncapacitated_assignment)):
            t0 = time.perf_counter()
            chosen, res, info = fn(prep.data, cov.w, prep.elig, prep.k_add, opts, Progress())
            out[name] = {"seconds": time.perf_counter() - t0, "objective": res.objective,
                         "optimal": res.optimal, "gap": res.gap, "status": res.status,
                         "info": info}
        new, old = out["new"], out["old"]
        info = new["info"]
        print(f"  {n_v:>6} 村 × {n_c:>4} 候选点，K={add:<4}"
              f" 新（半径模型+拉格朗日）{new['seconds']:7.2f} s"
              f"（{'最优' if new['optimal'] else '未证最优'}；固定关闭 {info['fixed_closed']} 个候选点、"
              f"{info['pairs_fixed']}/{info['pairs']} 个村-候选点对，剩 {info['levels']} 个层级）")
        if old["optimal"]:
            same = np.isclose(new["objective"], old["objective"], rtol=1e-6)
            print(f"  {'':>24} 旧（分配模型）       {old['seconds']:7.2f} s（最优）"
                  f" | 比值 {old['seconds'] / new['seconds']:6.1f}x | 目标值 "
                  f"{new['objective']:,.0f} vs {old['objective']:,.0f} {'相等' if same else '不相等！'}")
            assert same, "p-median objective differs between the formulations"
        else:
            gap = f"，差距 {old['gap']:.3%}" if old["gap"] is not None else ""
            print(f"  {'':>24} 旧（分配模型）       {old['seconds']:7.2f} s 未证最优（{old['status']}"
                  f"{gap}）→ 比值 ≥ {old['seconds'] / new['seconds']:.1f}x（下限）；目标值 "
                  f"{new['objective']:,.0f} vs {old['objective'] or float('nan'):,.0f}")
            if old["objective"] is not None:
                assert new["objective"] <= old["objective"] * (1 + 1e-9)
        rows.append((n_v, n_c, new["seconds"], old["seconds"]))
    if len(rows) > 1:
        print("  耗时增长：" + "；".join(
            f"{a}×{b}: 新 {t1:.1f} s / 旧 {t2:.1f} s" for a, b, t1, t2 in rows))


def pmedian_uniform(n_v: int, n_c: int, add: int, time_limit: float, seed: int = 1) -> None:
    """The two formulations on a uniform random instance (points in a 100 km square,
    weights 50-1,500, no existing facility): the hardest shape for the p-median bound."""
    from types import SimpleNamespace

    from geoservice.analysis.cost import StraightCosts
    from geoservice.analysis.siting import SitingOptions, pmedian
    from geoservice.analysis.siting.progress import Progress

    rng = np.random.default_rng(seed)
    vxy = rng.uniform(0, 100_000, (n_v, 2))
    kxy = rng.uniform(0, 100_000, (n_c, 2))
    w = rng.integers(50, 1500, n_v).astype(float)
    data = SimpleNamespace(cost=StraightCosts(vxy, {"facilities": np.zeros((0, 2)),
                                                    "candidates": kxy}))
    opts = SitingOptions.build(problem="pmedian", radius_m=5000, add=add,
                               time_limit_s=time_limit)
    print(f"\nP 中位，均匀随机实例（100 km 见方，{n_v} 村 × {n_c} 候选点，K={add}，无现有设施，"
          f"种子 {seed}）")
    out = {}
    for name, fn in (("new", pmedian._uncapacitated), ("old", pmedian._uncapacitated_assignment)):
        t0 = time.perf_counter()
        _, res, _ = fn(data, w, np.arange(n_c), add, opts, Progress())
        out[name] = (time.perf_counter() - t0, res)
    (t_new, new), (t_old, old) = out["new"], out["old"]
    bound = "" if old.optimal else "（旧模型未证最优：比值为下限）"
    print(f"  新（半径模型+拉格朗日）{t_new:7.2f} s（{'最优' if new.optimal else '未证最优'}）；"
          f"旧（分配模型）{t_old:7.2f} s（{'最优' if old.optimal else '未证最优'}）；"
          f"比值 {t_old / t_new:.1f}x{bound}；目标值 {new.objective:,.0f} vs "
          f"{old.objective or float('nan'):,.0f}")
    if new.optimal and old.optimal:
        assert np.isclose(new.objective, old.objective, rtol=1e-6), "objectives differ"


def _sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in part.lower().split("x")) for part in text.split(",") if part]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="选址基准测试：HiGHS 稀疏模型 vs spopt")
    ap.add_argument("--scale", choices=("county", "province", "pmedian", "all"),
                    default="all")
    ap.add_argument("--pmedian-sizes", default="500x50,2000x200",
                    help="村数x候选点数，逗号分隔（如 500x50,2000x200,5000x500）")
    ap.add_argument("--pmedian-limit", type=float, default=300.0)
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
    if args.scale in ("pmedian", "all"):
        pmedian_formulations(villages, _sizes(args.pmedian_sizes), args.pmedian_limit)
        pmedian_uniform(2000, 200, 10, args.pmedian_limit)


if __name__ == "__main__":
    main()
