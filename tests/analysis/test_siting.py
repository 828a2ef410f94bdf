"""Siting on hand-made small instances: the optimum equals brute force over all K-subsets.

Instances are laid out in metres in the GK zone of Qingshen (EPSG:4544) and handed to
siting() in the stored CRS (EPSG:4490), with explicit village centres. The brute force
below measures its own distances from those lon/lat with pyproj and enumerates subsets.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from shapely.geometry import LineString, Point, Polygon

from geoservice.analysis.coverage import coverage
from geoservice.analysis.errors import Cancelled, InvalidInput
from geoservice.analysis.siting import PROBLEMS, SitingOptions, precheck, siting
from geoservice.analysis.siting import milp as siting_milp

GK = "EPSG:4544"
X0, Y0 = Transformer.from_crs("EPSG:4490", GK, always_xy=True).transform(103.85, 29.8)
TO_GK = Transformer.from_crs("EPSG:4490", GK, always_xy=True)


def _villages(xy, elderly, population=None):
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    population = np.asarray(population if population is not None else np.asarray(elderly) * 4)
    polys = [shapely.box(x - 300, y - 300, x + 300, y + 300) for x, y in xy]
    g = gpd.GeoDataFrame({"code": [f"5114250012{i:02d}" for i in range(n)],
                          "name": [f"村{i}" for i in range(n)],
                          "township_code": "511425001",
                          "population": population.astype(int),
                          "elderly_population": np.asarray(elderly).astype(int)},
                         geometry=polys, crs=GK).to_crs("EPSG:4490")
    c = gpd.GeoSeries(shapely.points(xy), crs=GK).to_crs("EPSG:4490")
    g["center_lon"], g["center_lat"] = c.x.to_numpy(), c.y.to_numpy()
    return g


def _points(xy, **cols):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(cols, geometry=shapely.points(xy), crs=GK).to_crs("EPSG:4490")


def _dist(villages, points):
    """Independent distances (metres) from the given centres to the points."""
    cx, cy = TO_GK.transform(villages["center_lon"].to_numpy(), villages["center_lat"].to_numpy())
    px, py = TO_GK.transform(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    return np.hypot(cx[:, None] - px[None, :], cy[:, None] - py[None, :])


def _instance(seed, n_v=14, n_c=10, n_f=2, spread=9000.0):
    rng = np.random.default_rng(seed)
    vxy = np.column_stack([X0 + rng.uniform(0, spread, n_v), Y0 + rng.uniform(0, spread, n_v)])
    villages = _villages(vxy, rng.integers(100, 1500, n_v), rng.integers(1000, 6000, n_v))
    fac = _points(np.column_stack([X0 + rng.uniform(0, spread, n_f),
                                   Y0 + rng.uniform(0, spread, n_f)]),
                  name=[f"现有{i}" for i in range(n_f)], beds=rng.integers(5, 40, n_f))
    cand = _points(np.column_stack([X0 + rng.uniform(0, spread, n_c),
                                    Y0 + rng.uniform(0, spread, n_c)]),
                   name=[f"备选{i}" for i in range(n_c)])
    return villages, fac, cand


def _safe_radius(d_all, r):
    """Shift r so that no distance lies within 1 m of it (no rounding ties)."""
    while np.any(np.abs(d_all - r) < 1.0):
        r += 7.0
    return r


@pytest.mark.parametrize("seed, k, weight", [(1, 2, "elderly"), (2, 3, "population"),
                                             (3, 4, "villages"), (4, 1, "elderly")])
def test_mclp_equals_brute_force(seed, k, weight):
    villages, fac, cand = _instance(seed)
    dc, df = _dist(villages, cand), _dist(villages, fac)
    r = _safe_radius(np.r_[dc.ravel(), df.ravel()], 2500.0)
    w = {"elderly": villages["elderly_population"].to_numpy(float),
         "population": villages["population"].to_numpy(float),
         "villages": np.ones(len(villages))}[weight]
    best = max(w[(np.min(np.c_[df, dc[:, list(s)]], axis=1) <= r)].sum()
               for s in itertools.combinations(range(len(cand)), k))
    res = siting(villages, fac, cand, problem="mclp", radius_m=r, add=k, weight=weight)
    s = res.summary
    assert s["optimal"] is True and s["gap"] == 0.0
    assert s["objective"] == pytest.approx(best, rel=1e-12)
    chosen = [int(c) for c in res.sites["candidate"]]
    covered = np.min(np.c_[df, dc[:, chosen]], axis=1) <= r
    assert w[covered].sum() == pytest.approx(best)
    assert s["added"] == k == len(chosen)
    eld = villages["elderly_population"].to_numpy()
    assert s["covered_elderly_after"] == eld[covered].sum()
    assert s["covered_elderly_before"] == eld[df.min(axis=1) <= r].sum()
    # marginal gains: non-increasing in rank, summing to the total gain
    marg = res.sites["marginal_elderly"].to_numpy()
    assert marg.sum() == s["covered_elderly_after"] - s["covered_elderly_before"]
    gains = res.sites[{"elderly": "marginal_elderly", "population": "marginal_population",
                       "villages": "marginal_villages"}[weight]].to_numpy()
    assert np.all(np.diff(gains) <= 0)
    assert (res.villages["covered_after"].to_numpy() == covered).all()
    newly = set(itertools.chain.from_iterable(res.sites["newly_covered"]))
    expect = set(villages["code"][covered & ~(df.min(axis=1) <= r)])
    assert newly == expect
    json.dumps(res.to_dict(), allow_nan=False)


def test_mclp_coverage_before_is_coverage(tiny_workspace):
    from layers import open_store

    st = open_store(tiny_workspace)
    v, f = st.read("villages"), st.read("elderly_service_points")
    cov = coverage(v, f, layer="elderly_service_points", radius_m=1500)
    res = siting(v, f, None, problem="mclp", radius_m=1500, add=1)
    s = res.summary
    assert s["covered_elderly_before"] == cov.summary["covered_elderly"]
    assert s["village_coverage_before"] == cov.summary["village_coverage"]
    assert s["covered_villages_before"] == cov.summary["covered_villages"]
    assert s["population_coverage_before"] == cov.summary["population_coverage"]
    assert (res.villages["covered_before"].to_numpy() == cov.villages["covered"].to_numpy()).all()
    # candidates are the village centres: ids are village codes, sites lie in their village
    assert set(res.candidates["id"]) == set(v["code"].astype(str))
    assert list(res.sites["candidate"]) == list(res.sites["village_code"])


@pytest.mark.parametrize("seed, target, weight", [(5, 0.7, "villages"), (6, 0.9, "elderly"),
                                                  (7, 1.0, "villages"), (8, 0.55, "population")])
def test_target_equals_brute_force(seed, target, weight):
    villages, fac, cand = _instance(seed, n_v=12, n_c=9)
    dc, df = _dist(villages, cand), _dist(villages, fac)
    r = _safe_radius(np.r_[dc.ravel(), df.ravel()], 3000.0)
    w = {"elderly": villages["elderly_population"].to_numpy(float),
         "population": villages["population"].to_numpy(float),
         "villages": np.ones(len(villages))}[weight]
    need = None
    for k in range(0, len(cand) + 1):
        if any(w[(np.min(np.c_[df, dc[:, list(s)]], axis=1) <= r)].sum() >= target * w.sum()
               for s in itertools.combinations(range(len(cand)), k)):
            need = k
            break
    res = siting(villages, fac, cand, problem="target", radius_m=r, target=target, weight=weight)
    s = res.summary
    if need is None:
        assert s["target_reached"] is False and s["added"] == 0
        assert "达不到目标" in s["message"]
    else:
        assert s["target_reached"] is True
        assert s["added"] == need
        chosen = [int(c) for c in res.sites["candidate"]]
        covered = np.min(np.c_[df, dc[:, chosen]], axis=1) <= r
        assert w[covered].sum() >= target * w.sum()


def test_target_unreachable_says_so():
    villages, fac, cand = _instance(11, n_v=12, n_c=3, spread=20000)
    dc, df = _dist(villages, cand), _dist(villages, fac)
    r = 1500.0
    best = (np.min(np.c_[df, dc], axis=1) <= r).mean()
    assert best < 0.9
    res = siting(villages, fac, cand, problem="target", radius_m=r, target=0.9,
                 weight="villages")
    s = res.summary
    assert s["target_reached"] is False and s["added"] == 0 and len(res.sites) == 0
    assert s["message"] == f"候选点全部建成也只能覆盖 {best:.1%}，达不到目标 90%"


@pytest.mark.parametrize("seed, k, n_f", [(21, 2, 2), (22, 3, 1), (23, 4, 0), (24, 1, 3)])
def test_pmedian_equals_brute_force(seed, k, n_f):
    villages, fac, cand = _instance(seed, n_f=n_f)
    dc, df = _dist(villages, cand), _dist(villages, fac)
    w = villages["elderly_population"].to_numpy(float)
    dfm = df.min(axis=1) if n_f else np.full(len(villages), np.inf)
    best = min((w * np.minimum(dfm, dc[:, list(s)].min(axis=1))).sum()
               for s in itertools.combinations(range(len(cand)), k))
    # a tiny neighbour list forces the sparse model to prove itself (and widen if needed)
    res = siting(villages, fac if n_f else None, cand,
                 options=_narrow(problem="pmedian", radius_m=3000, add=k))
    s = res.summary
    assert s["optimal"] and s["proven_exact"] is True
    assert s["objective"] == pytest.approx(best, rel=1e-9)
    assert s["total_weighted_distance_after"] == pytest.approx(best, rel=1e-9)
    assert s["mean_distance_after_m"] == pytest.approx(best / w.sum(), rel=1e-9)
    if n_f:
        assert s["total_weighted_distance_before"] == pytest.approx((w * dfm).sum(), rel=1e-9)
    # assignments partition the villages that moved to a new site
    assert res.sites["assigned_villages"].sum() == res.villages["new_site_rank"].notna().sum()
    assert np.all(np.diff(res.sites["marginal_distance_reduction"].to_numpy()) <= 1e-6)


def _narrow(**params) -> SitingOptions:
    """Options with one nearest candidate per village in the p-median's first round."""
    return dataclasses.replace(SitingOptions.build(**params), pmedian_k=1)


def _single_source(w, q, d, cap):
    """As _transport with each village wholly to one facility (scipy.optimize.milp)."""
    n, m = d.shape
    a_eq = np.kron(np.eye(n), np.ones(m))
    a_ub = np.zeros((m, n * m))
    for j in range(m):
        a_ub[j, j::m] = q
    r = milp((w[:, None] * d).ravel(), integrality=np.ones(n * m), bounds=Bounds(0, 1),
             constraints=[LinearConstraint(a_eq, 1, 1), LinearConstraint(a_ub, -np.inf, cap)])
    return r.fun if r.status == 0 else np.inf


def _transport(w, q, d, cap):
    """min sum w_i d_ij z_ij, sum_j z_ij = 1, sum_i q_i z_ij <= cap_j, z >= 0 (linprog)."""
    n, m = d.shape
    c = (w[:, None] * d).ravel()
    a_eq = np.kron(np.eye(n), np.ones(m))
    a_ub = np.zeros((m, n * m))
    for j in range(m):
        a_ub[j, j::m] = q
    r = linprog(c, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, None),
                method="highs")
    return r.fun if r.status == 0 else np.inf


@pytest.mark.parametrize("seed, k, cap_new, fill", [(31, 2, 30, 0.85), (32, 3, 15, 0.95)])
def test_capacitated_pmedian_equals_brute_force(seed, k, cap_new, fill):
    villages, fac, cand = _instance(seed, n_v=12, n_c=8, n_f=2)
    dc, df = _dist(villages, cand), _dist(villages, fac)
    w = villages["elderly_population"].to_numpy(float)
    beds = fac["beds"].to_numpy(float)
    # bed demand: ``fill`` of all beds, so capacities bind
    rate = 1000.0 * fill * (k * cap_new + beds.sum()) / w.sum()
    q = w * rate / 1000.0
    best = min(_transport(w, q, np.c_[dc[:, list(s)], df], np.r_[np.full(k, cap_new), beds])
               for s in itertools.combinations(range(len(cand)), k))
    assert np.isfinite(best)
    res = siting(villages, fac, cand, problem="pmedian", radius_m=3000, add=k, capacitated=True,
                 new_capacity=cap_new, bed_demand_per_1000=rate)
    s = res.summary
    assert s["optimal"] and s["capacitated"]
    assert s["objective"] == pytest.approx(best, rel=1e-7)
    # the uncapacitated optimum is never worse
    free = siting(villages, fac, cand, problem="pmedian", radius_m=3000, add=k)
    assert free.summary["objective"] <= s["objective"] * (1 + 1e-9)
    assert res.sites["assigned_elderly"].sum() <= w.sum() + 1e-6
    whole = siting(villages, fac, cand, problem="pmedian", radius_m=3000, add=k,
                   capacitated=True, new_capacity=cap_new, bed_demand_per_1000=rate,
                   single_source=True)
    best1 = min(_single_source(w, q, np.c_[dc[:, list(s)], df], np.r_[np.full(k, cap_new), beds])
                for s in itertools.combinations(range(len(cand)), k))
    assert whole.summary["objective"] == pytest.approx(best1, rel=1e-7)
    assert whole.summary["objective"] >= s["objective"] * (1 - 1e-9)


def test_capacitated_pmedian_without_enough_beds_is_refused():
    villages, fac, cand = _instance(33, n_v=10, n_c=5, n_f=1)
    with pytest.raises(InvalidInput, match="床位不足") as err:
        siting(villages, fac, cand, problem="pmedian", radius_m=3000, add=1, capacitated=True,
               new_capacity=1, bed_demand_per_1000=500)
    assert err.value.name == "add"


def _cemetery_case():
    # villages on a line 4 km apart; existing cemetery far away
    vxy = [(X0 + 4000 * i, Y0) for i in range(5)]
    villages = _villages(vxy, [500, 800, 300, 900, 650])
    fac = _points([(X0 + 30000, Y0 + 30000)], name=["老公墓"])
    cxy = [
        (X0 + 2000, Y0 + 1500),    # 0: inside farmland
        (X0 + 6000, Y0 + 1500),    # 1: 1234 m from the water-source zone's edge
        (X0 + 10000, Y0 + 1500),   # 2: 300 m from the railway (setback 500)
        (X0 + 14000, Y0 + 1500),   # 3: eligible
        (X0 + 16000, Y0 + 200),    # 4: 200 m from village 4's centre
        (X0 + 2000, Y0 - 2500),    # 5: eligible
        (X0 + 8000, Y0 - 2500),    # 6: eligible
        (X0 + 6000, Y0 + 3400),    # 7: inside water source AND 100 m from the railway
    ]
    cand = _points(cxy, name=[f"备选{i}" for i in range(len(cxy))])
    zones_gk = [
        ("farmland", "东坝耕地", shapely.box(X0 + 1500, Y0 + 1000, X0 + 2500, Y0 + 2000)),
        ("water_source", "XX水库", shapely.box(X0 + 5000, Y0 + 2734, X0 + 7000, Y0 + 4000)),
        ("railway", "成昆铁路", LineString([(X0 - 5000, Y0 + 3500), (X0 + 30000, Y0 + 3500)])
         .buffer(20, cap_style="flat")),
        ("park", None, Polygon([(X0 + 60000, Y0), (X0 + 61000, Y0), (X0 + 61000, Y0 + 1000)])),
    ]
    # railway corridor edge at y = Y0 + 3480 -> candidate 2 ... set it so candidate 2 is 300 m
    zones_gk[2] = ("railway", "成昆铁路",
                   shapely.box(X0 + 9000, Y0 + 1800, X0 + 11000, Y0 + 1810))
    zones_gk.append(("railway", "成昆铁路", shapely.box(X0 + 5000, Y0 + 3500, X0 + 7000,
                                                     Y0 + 3510)))
    zones = gpd.GeoDataFrame({"zone_type": [z[0] for z in zones_gk],
                              "name": [z[1] for z in zones_gk]},
                             geometry=[z[2] for z in zones_gk], crs=GK).to_crs("EPSG:4490")
    return villages, fac, cand, zones


def test_cemetery_exclusion_reasons_exact():
    villages, fac, cand, zones = _cemetery_case()
    res = siting(villages, fac, cand, problem="cemetery", radius_m=3000, add=2,
                 exclusion_zones=zones, village_setback_m=500)
    ex = res.excluded.set_index("candidate")
    assert sorted(ex.index) == ["0", "1", "2", "4", "7"]
    assert ex.loc["0", "rule"] == "farmland"
    assert ex.loc["0", "reason"] == "位于耕地“东坝耕地”内"
    assert ex.loc["0", "distance_m"] == 0
    assert ex.loc["1", "rule"] == "water_source"
    assert ex.loc["1", "reason"] == "距水源保护区“XX水库”1234 米，小于退让距离 2000 米"
    assert ex.loc["1", "distance_m"] == pytest.approx(1234, abs=1e-3)
    assert ex.loc["2", "rule"] == "railway"
    assert ex.loc["2", "reason"] == "距铁路“成昆铁路”300 米，小于退让距离 500 米"
    assert ex.loc["4", "rule"] == "village_setback"
    assert ex.loc["4", "rule_label"] == "村庄退让距离" and ex.loc["0", "rule_label"] == "耕地"
    assert ex.loc["4", "reason"] == "距村4中心 200 米，小于退让距离 500 米"
    # every rule is listed, the first one in rule order
    assert ex.loc["7", "rule"] == "water_source"
    assert ex.loc["7", "rules"] == ["water_source", "railway"]
    assert ex.loc["7", "reason"] == ("位于水源保护区“XX水库”内（退让距离 2000 米）；"
                                     "距铁路“成昆铁路”100 米，小于退让距离 500 米")
    assert res.summary["excluded"] == 5 and res.summary["eligible"] == 3
    # the MCLP over the eligible candidates equals brute force
    eligible = [3, 5, 6]
    assert set(res.candidates.loc[res.candidates["eligible"], "id"]) == {"3", "5", "6"}
    dc, df = _dist(villages, cand), _dist(villages, fac)
    w = villages["elderly_population"].to_numpy(float)
    best = max(w[np.min(np.c_[df, dc[:, list(s)]], axis=1) <= 3000].sum()
               for s in itertools.combinations(eligible, 2))
    assert res.summary["objective"] == best
    assert set(res.sites["candidate"]) <= {"3", "5", "6"}
    # setbacks are editable: a 1000 m water-source setback no longer excludes candidate 1
    res2 = siting(villages, fac, cand, problem="cemetery", radius_m=3000, add=2,
                  exclusion_zones=zones, setbacks={"water_source": 1000},
                  village_setback_m=100)
    assert sorted(res2.excluded["candidate"]) == ["0", "2", "7"]
    d = res.to_dict()
    assert d["excluded"][0]["reason"] and json.dumps(d, allow_nan=False)


def test_cemetery_without_zones_uses_village_setback_only():
    villages, fac, cand, _ = _cemetery_case()
    res = siting(villages, fac, cand, problem="cemetery", radius_m=3000, add=1)
    assert list(res.excluded["candidate"]) == ["4"]  # default 500 m from village centres
    # village centres as candidates: measured to the other villages' centres (4 km apart)
    res = siting(villages, fac, None, problem="cemetery", radius_m=3000, add=1,
                 village_setback_m=3900)
    assert len(res.excluded) == 0 and res.summary["eligible"] == 5
    with pytest.raises(InvalidInput, match="全部候选点都被"):
        siting(villages, fac, None, problem="cemetery", radius_m=3000, add=1,
               village_setback_m=4500)


# --------------------------------------------------------------------------- solver control

def _hard_instance():
    """Random p-median without existing facilities: not solved in a few milliseconds."""
    rng = np.random.default_rng(99)
    n = 260
    vxy = np.column_stack([X0 + rng.uniform(0, 40000, n), Y0 + rng.uniform(0, 40000, n)])
    villages = _villages(vxy, rng.integers(100, 1500, n))
    cand = _points(np.column_stack([X0 + rng.uniform(0, 40000, 150),
                                    Y0 + rng.uniform(0, 40000, 150)]),
                   name=[f"备选{i}" for i in range(150)])
    return villages, cand


def test_time_limit_returns_best_found_with_gap():
    villages, cand = _hard_instance()
    res = siting(villages, None, cand, problem="pmedian", radius_m=3000, add=12,
                 time_limit_s=0.05)
    s = res.summary
    assert s["optimal"] is False and s["cancelled"] is False
    assert s["gap"] is not None and s["gap"] >= 0
    assert len(res.sites) == 12 and s["time_limit_s"] == 0.05
    assert "求解时间上限" in s["message"]


def test_progress_increases_and_cancel_keeps_best():
    villages, cand = _hard_instance()
    seen = []
    res = siting(villages, None, cand, problem="pmedian", radius_m=3000, add=12,
                 progress=lambda f, m: seen.append((f, m)))
    fr = [f for f, _ in seen]
    assert fr[0] == 0.0 and fr[-1] == 1.0 and len(seen) >= 5
    assert all(b >= a for a, b in zip(fr, fr[1:], strict=False))
    assert all(isinstance(m, str) and m for _, m in seen) and seen[-1][1] == "完成"
    optimum = res.summary["objective"]

    state = {"solving": False}

    def progress(f, m):
        state["solving"] = state["solving"] or m.startswith("求解")

    res = siting(villages, None, cand, problem="pmedian", radius_m=3000, add=12,
                 progress=progress, cancel=lambda: state["solving"])
    s = res.summary
    assert s["cancelled"] is True and s["optimal"] is False
    assert len(res.sites) == 12
    assert s["objective"] >= optimum * (1 - 1e-9)
    assert "已取消" in s["message"]


def test_cancel_before_any_plan_raises():
    villages, cand = _hard_instance()
    seen = []
    with pytest.raises(Cancelled, match="已取消"):
        siting(villages, None, cand, problem="mclp", radius_m=3000, add=2, cancel=lambda: True,
               progress=lambda f, m: seen.append(m))
    assert seen == ["读取村、设施和候选点"]  # stopped at the first check, nothing solved


# --------------------------------------------------------------------------- parameters

# The first word is the parameter the error names.
@pytest.mark.parametrize("kwargs, words", [
    (dict(problem="best", radius_m=1000, add=1), ["problem", "无效"]),
    (dict(problem="mclp", radius_m=0, add=1), ["radius_m", "正数"]),
    (dict(problem="mclp", radius_m=-5, add=1), ["radius_m"]),
    (dict(problem="mclp", radius_m=1000), ["add", "必填"]),
    (dict(problem="mclp", radius_m=1000, add=0), ["add", "至少为 1"]),
    (dict(problem="mclp", radius_m=1000, add=2.5), ["add", "正整数"]),
    (dict(problem="mclp", radius_m=1000, add=11), ["add", "超过了候选点数 10"]),
    (dict(problem="mclp", radius_m=1000, add=1, target=0.5), ["target", "只用于"]),
    (dict(problem="target", radius_m=1000), ["target", "必填"]),
    (dict(problem="target", radius_m=1000, target=0), ["target", "0 到 1"]),
    (dict(problem="target", radius_m=1000, target=1.2), ["target"]),
    (dict(problem="target", radius_m=1000, target=0.6, add=2), ["add", "target"]),
    (dict(problem="mclp", radius_m=1000, add=1, weight="houses"), ["weight", "无效"]),
    (dict(problem="mclp", radius_m=1000, add=1, capacitated=True), ["capacitated", "pmedian"]),
    (dict(problem="mclp", radius_m=1000, add=1, time_limit_s=0), ["time_limit_s"]),
    (dict(problem="cemetery", radius_m=1000, add=1, setbacks={"lake": 10}), ["setbacks", "lake"]),
    (dict(problem="cemetery", radius_m=1000, add=1, setbacks={"park": -1}), ["setbacks", "park"]),
    (dict(problem="cemetery", radius_m=1000, add=1, village_setback_m=-1),
     ["village_setback_m"]),
    (dict(problem="pmedian", radius_m=1000, add=1, capacitated=True, new_capacity=0),
     ["new_capacity"]),
    (dict(problem="pmedian", radius_m=1000, add=1, single_source=True), ["single_source"]),
])
def test_bad_parameters_raise_chinese(kwargs, words):
    villages, fac, cand = _instance(41)
    with pytest.raises(InvalidInput) as err:
        siting(villages, fac, cand, **kwargs)
    assert err.value.name == words[0]
    text = str(err.value)
    for w in words:
        assert w in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_problems_contract():
    assert PROBLEMS == ("mclp", "target", "pmedian", "cemetery")
    villages, fac, cand = _instance(42)
    res = siting(villages, fac, cand, problem="mclp", radius_m=2500, add=2)
    d = res.to_dict()
    for key in ("problem", "radius_m", "weight", "added", "villages", "covered_villages_before",
                "covered_villages_after", "covered_elderly_before", "covered_elderly_after",
                "elderly_population", "elderly_coverage_before", "elderly_coverage_after",
                "village_coverage_before", "village_coverage_after",
                "population_coverage_before", "population_coverage_after", "objective",
                "optimal", "gap", "solve_seconds", "time_limit_s", "solver", "candidates",
                "excluded", "target", "target_reached", "message", "cancelled"):
        assert key in d["summary"], key
    assert d["summary"]["solver"].startswith("HiGHS ")
    assert d["summary"]["problem_label"] == "最大覆盖" and d["summary"]["weight_label"] == "老年人口"
    assert [s["rank"] for s in d["sites"]] == [1, 2]
    for key in ("rank", "candidate", "village_code", "name", "lon", "lat", "marginal_elderly",
                "marginal_villages", "newly_covered"):
        assert key in d["sites"][0]
    assert d["excluded"] == []
    assert set(res.villages.columns) >= {"code", "name", "township_code", "elderly_population",
                                         "population", "covered_before", "covered_after",
                                         "nearest_m_before", "nearest_m_after", "new_site_rank"}
    assert res.sites.crs.to_epsg() == 4490 and (res.sites.geom_type == "Point").all()
    assert set(res.candidates.columns) >= {"id", "name", "lon", "lat", "eligible", "chosen"}
    assert res.candidates["chosen"].sum() == 2
    json.dumps(d, allow_nan=False)
    # a site's point is the candidate's point
    p = res.sites.geometry.iloc[0]
    c = cand.geometry.iloc[int(res.sites["candidate"].iloc[0])]
    assert Point(p).distance(c) < 1e-9


# --------------------------------------------------------------------------- review fixes

def _line_case():
    """Three villages, a candidate at each; 5 km apart, radius 1 km: each site covers one."""
    vxy = [(X0 + 5000 * i, Y0) for i in range(3)]
    villages = _villages(vxy, [300, 200, 100])
    fac = _points([(X0 + 50000, Y0)], name=["远处的站"], beds=[10])
    cand = _points(vxy + [(X0 + 2500, Y0 + 3000), (X0 + 7500, Y0 + 3000)],
                   name=["甲", "乙", "丙", "空地一", "空地二"])
    return villages, fac, cand


def test_sites_beyond_the_useful_number_are_flagged_and_explained():
    villages, fac, cand = _line_case()
    res = siting(villages, fac, cand, problem="mclp", radius_m=1000, add=5)
    s = res.summary
    assert res.sites["no_gain"].tolist() == [False, False, False, True, True]
    assert res.sites["marginal_elderly"].tolist() == [300, 200, 100, 0, 0]
    assert s["useful_sites"] == 3 and s["no_gain_from_rank"] == 4
    assert "第 4 至 5 处不再增加老年人口覆盖" in s["message"]
    assert "只建前 3 处即可" in s["message"]
    # exactly useful: no note
    res = siting(villages, fac, cand, problem="mclp", radius_m=1000, add=3)
    assert not res.sites["no_gain"].any()
    assert res.summary["no_gain_from_rank"] is None and "不再增加" not in res.summary["message"]
    assert res.to_dict()["sites"][0]["no_gain"] is False


def test_no_gain_when_existing_facilities_already_cover_everything_reachable():
    villages, _, cand = _line_case()
    fac = _points([(X0, Y0), (X0 + 5000, Y0), (X0 + 10000, Y0)], name=["一", "二", "三"])
    res = siting(villages, fac, cand, problem="mclp", radius_m=1000, add=1)
    assert res.summary["no_gain_from_rank"] == 1 and res.summary["useful_sites"] == 0
    assert "新增站点都不再增加老年人口覆盖" in res.summary["message"]


def test_pmedian_sites_that_shorten_nothing_are_flagged():
    villages, fac, cand = _line_case()
    res = siting(villages, fac, cand, problem="pmedian", radius_m=1000, add=4)
    assert res.sites["no_gain"].tolist() == [False, False, False, True]
    assert res.summary["no_gain_from_rank"] == 4
    assert "第 4 处不再缩短老年人口到设施的距离" in res.summary["message"]


def test_precheck_refuses_what_the_solve_refuses_without_solving(monkeypatch):
    villages, fac, cand, zones = _cemetery_case()
    # 3 of 8 candidates survive the exclusions: K = 4 is refused before any model is built
    monkeypatch.setattr(siting_milp, "solve", lambda *a, **k: pytest.fail("solved"))
    with pytest.raises(InvalidInput, match="add.*4 超过了符合条件的候选点数 3"):
        precheck(villages, fac, cand, problem="cemetery", radius_m=3000, add=4,
                 exclusion_zones=zones, village_setback_m=500)
    counts = precheck(villages, fac, cand, problem="cemetery", radius_m=3000, add=3,
                      exclusion_zones=zones, village_setback_m=500)
    assert counts == {"candidates": 8, "eligible": 3, "add": 3}
    v, f, c = _instance(33, n_v=10, n_c=5, n_f=1)
    with pytest.raises(InvalidInput, match="床位不足.*add"):
        precheck(v, f, c, problem="pmedian", radius_m=3000, add=1,
                 capacitated=True, new_capacity=1, bed_demand_per_1000=500)
    with pytest.raises(InvalidInput, match="add.*6 超过了候选点数 5"):
        precheck(v, f, c, problem="mclp", radius_m=3000, add=6)


def test_pmedian_cancelled_between_rounds_keeps_the_plan_with_an_honest_gap(monkeypatch):
    """A cancel that arrives while a too-narrow round is solved stops before the next
    (wider) round: the plan is kept, marked cancelled, with the gap to the round's bound."""
    rounds = []
    real = siting_milp.solve

    def counting(*a, **k):
        out = real(*a, **k)
        rounds.append(1)  # counted when the round is over: a cancel comes after it
        return out

    monkeypatch.setattr(siting_milp, "solve", counting)
    for seed in range(21, 40):
        villages, fac, cand = _instance(seed, n_f=1)
        rounds.clear()
        options = _narrow(problem="pmedian", radius_m=3000, add=3)
        full = siting(villages, fac, cand, options=options)
        if len(rounds) < 2:
            continue  # the first round proved itself: try another instance
        rounds.clear()
        res = siting(villages, fac, cand, options=options, cancel=lambda: len(rounds) >= 1)
        s = res.summary
        assert len(rounds) == 1 and s["cancelled"] is True and s["optimal"] is False
        assert len(res.sites) == 3
        assert s["objective"] >= full.summary["objective"] - 1e-6
        # the gap bounds the distance to the true optimum
        assert 0 <= s["gap"] < 1
        assert (s["objective"] - full.summary["objective"]) / s["objective"] <= s["gap"] + 1e-9
        return
    pytest.fail("no instance needed a second round")
