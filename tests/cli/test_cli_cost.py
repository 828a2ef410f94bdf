"""`python -m geoservice coverage|siting` on any travel cost (issue 15): along the demo
county's roads, or from an OD matrix file; the results equal the service called directly,
the matrix results equal a computation from the file written here, the cutoffs and the
green-field option (``--ignore-existing``) checked independently."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from fixtures import run_cli

from geoservice.config import DEMO_WORKSPACE
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.siting import run_siting, siting_params
from layers import open_store

LAYER = "elderly_service_points"
# volatile keys: when it ran and how long the solver took
VOLATILE = {"date", "analysed_at", "solve_seconds"}


def _strip(obj):
    """``obj`` without the volatile keys, at any depth."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _same(cli: dict, direct: dict) -> None:
    """The CLI's JSON and the service's result as JSON are the same (NaN included)."""
    a = json.dumps(_strip(cli), ensure_ascii=False, sort_keys=True)
    b = json.dumps(_strip(json.loads(json.dumps(direct, ensure_ascii=False))),
                   ensure_ascii=False, sort_keys=True)
    assert a == b


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A copy of the demo county (with its road network), shared by the module's
    read-only runs."""
    path = tmp_path_factory.mktemp("cost") / "qingshen.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    assert "roads" in open_store(path).current_versions(), "the demo county has no roads layer"
    return path


def _cli(workspace, *args):
    return run_cli("--workspace", workspace, *args)


def _json(workspace, *args) -> dict:
    r = _cli(workspace, *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def od_matrix(codes, names, path, *, header=("村代码", "设施", "时间（分钟）")) -> pd.DataFrame:
    """A matrix in minutes from every village to every name, some pairs left out
    (unreachable), written as CSV; the rows written."""
    rows = [(code, name, ((i * 7 + j * 13) % 40 + 1) * 0.5)
            for (i, code), (j, name) in itertools.product(enumerate(codes), enumerate(names))
            if (i + 2 * j) % 7 != 0]
    frame = pd.DataFrame(rows, columns=["origin", "destination", "cost"])
    out = frame.copy()
    out.columns = list(header)
    out.to_csv(path, index=False, encoding="utf-8")
    return frame


def _share_line(cutoff: float, unit: str, nearest: np.ndarray, elderly: np.ndarray) -> str:
    within = nearest <= cutoff
    return (f"{cutoff:g} {unit}内：老年人口 {elderly[within].sum() / elderly.sum():.1%}"
            f"（{int(elderly[within].sum()):,} 人）")


# --- road network -------------------------------------------------------------------------

def test_coverage_on_roads_equals_the_service(workspace):
    args = ("coverage", "--layer", LAYER, "--cost", "network", "--cost-field", "time",
            "--method", "e2sfca", "--cutoffs", "5,10,15")
    cli = _json(workspace, *args)
    direct = run_coverage(open_store(workspace), coverage_params(
        LAYER, cost="network", cost_field="time", method="e2sfca", cutoffs="5,10,15"))
    _same(cli, direct.to_dict())
    s = cli["summary"]
    assert s["radius_unit"] == "min" and s["cost"]["kind"] == "network"
    assert s["radius_m"] == 15  # defaults.toml [coverage.radius_min] elderly_service_points
    assert s["method"] == "e2sfca"

    # the text output names the cost, the unit, the method, the cutoffs, the network
    r = _cli(workspace, *args)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "服务半径(分钟)：15.00" in out
    assert "半径来源：默认值（defaults.toml [coverage.radius_min] elderly_service_points）" in out
    assert "出行成本：沿道路网（roads 图层）的通行时间（分钟）" in out
    assert "可达性方法：增强两步移动搜索法（E2SFCA，Luo & Qi 2009）" in out
    roads = open_store(workspace).read("roads")
    assert f"道路网：道路图层（第 1 版）：{len(roads)} 条道路" in out
    assert "村道 20" in out and "千米/小时" in out  # default speeds per class
    v = pd.DataFrame(cli["villages"])
    assert (f"村中心到道路距离：平均 {v['snap_m'].mean():,.0f} 米，最大 "
            f"{v['snap_m'].max():,.0f} 米") in out
    nearest = v["nearest_m"].astype(float).to_numpy()
    eld = v["elderly_population"].astype(float).to_numpy()
    for c in (5, 10, 15):
        assert _share_line(c, "分钟", nearest, eld) in out
    # the uncovered villages in minutes, never in metres
    unc = pd.DataFrame(cli["uncovered"])
    assert len(unc)
    first = unc.iloc[0]
    assert f"{first['code']} {first['name']}：老年人口 {first['elderly_population']}，" \
           f"最近设施 {first['nearest_m']:.1f} 分钟" in out
    assert "最近设施" in out and " 米\n" not in out.split("未覆盖村")[1]


def test_siting_on_roads_equals_the_service(workspace):
    cli = _json(workspace, "siting", "--layer", LAYER, "--problem", "pmedian", "--add", "3",
                "--cost", "network", "--cost-field", "length", "--radius", "3000")
    direct = run_siting(open_store(workspace), siting_params(
        LAYER, "3000", problem="pmedian", add="3", cost="network", cost_field="length"))
    _same(cli, direct.to_dict())
    assert cli["summary"]["cost"]["kind"] == "network"
    assert cli["summary"]["radius_unit"] == "m" and cli["summary"]["radius_m"] == 3000
    assert "snap_m" in cli["villages"][0]


# --- OD matrix ----------------------------------------------------------------------------

def test_coverage_from_an_od_matrix_equals_the_file(workspace, tmp_path):
    store = open_store(workspace)
    villages = store.read("villages")
    names = list(store.read(LAYER)["name"])
    path = tmp_path / "od.csv"
    m = od_matrix(list(villages["code"]), names, path)
    args = ("coverage", "--layer", LAYER, "--cost-matrix", path, "--cost-unit", "min",
            "--radius", "5", "--cutoffs", "3,8")
    cli = _json(workspace, *args)
    direct = run_coverage(store, coverage_params(
        LAYER, "5", cost_unit="min", matrix_path=path, matrix_name="od.csv", cutoffs="3,8"))
    _same(cli, direct.to_dict())

    # nearest facility of each village from the file itself
    best = m.groupby("origin")["cost"].min()
    v = pd.DataFrame(cli["villages"]).set_index("code")
    expect = best.reindex(v.index).fillna(np.inf).to_numpy()
    got = v["nearest_m"].astype(float).fillna(np.inf).to_numpy()
    assert np.array_equal(got, expect)
    assert v["covered"].tolist() == (expect <= 5).tolist()
    s = cli["summary"]
    assert s["cost"]["kind"] == "matrix" and s["cost"]["matrix"] == "od.csv"
    assert s["covered_villages"] == int((expect <= 5).sum())

    r = _cli(workspace, *args)
    assert r.returncode == 0, r.stderr
    assert "出行成本：OD 矩阵“od.csv”的出行成本（分钟）" in r.stdout
    assert "OD 矩阵文件：od.csv" in r.stdout and "服务半径(分钟)：5.00" in r.stdout
    eld = v["elderly_population"].astype(float).to_numpy()
    for c in (3, 8):
        assert _share_line(c, "分钟", expect, eld) in r.stdout


def test_mclp_from_an_od_matrix_is_the_best_pair(workspace, tmp_path):
    """Two new sites from the village centres (named by village code in the matrix):
    the elderly covered equal the best of all pairs, counted here from the file."""
    store = open_store(workspace)
    villages = store.read("villages")
    codes = list(villages["code"])
    path = tmp_path / "od.csv"
    m = od_matrix(codes, list(store.read(LAYER)["name"]) + codes, path,
                  header=("origin", "destination", "cost"))
    radius = 4.0
    cli = _json(workspace, "siting", "--layer", LAYER, "--problem", "mclp", "--add", "2",
                "--radius", "4", "--cost-matrix", path, "--cost-unit", "min")
    direct = run_siting(store, siting_params(LAYER, "4", problem="mclp", add="2",
                                             cost_unit="min", matrix_path=path,
                                             matrix_name="od.csv"))
    _same(cli, direct.to_dict())

    eld = villages.set_index("code")["elderly_population"].astype(float)
    near = m[m["cost"] <= radius]
    existing = set(near[~near["destination"].isin(codes)]["origin"])
    reach = {c: set(near[near["destination"] == c]["origin"]) for c in codes}
    best = max(eld[list(existing | reach[a] | reach[b])].sum()
               for a, b in itertools.combinations(codes, 2))
    s = cli["summary"]
    assert s["covered_elderly_before"] == eld[list(existing)].sum()
    assert s["covered_elderly_after"] == best
    chosen = [site["village_code"] for site in cli["sites"]]
    assert eld[list(existing | reach[chosen[0]] | reach[chosen[1]])].sum() == best


def test_matrix_without_unit_or_file_is_a_chinese_error(workspace, tmp_path):
    path = tmp_path / "od.csv"
    od_matrix(["511425999299"], ["某站", "某站二"], path)  # one row: (0, 1)
    r = _cli(workspace, "coverage", "--cost", "matrix", "--cost-matrix", path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "参数 cost_unit（OD 矩阵的成本单位）必填" in r.stderr
    r = _cli(workspace, "siting", "--layer", LAYER, "--add", "2", "--cost", "matrix",
             "--cost-unit", "min")
    assert r.returncode == 1 and "参数 cost_matrix（OD 矩阵文件）必填" in r.stderr
    r = _cli(workspace, "coverage", "--cost-matrix", path, "--cost-unit", "小时")
    assert r.returncode == 1 and "参数 cost_unit" in r.stderr and "min（分钟）" in r.stderr
    r = _cli(workspace, "coverage", "--cost-matrix", tmp_path / "无.csv", "--cost-unit", "m")
    assert r.returncode != 0 and "参数 --cost-matrix：文件" in r.stderr and "不存在" in r.stderr
    # a code the villages layer does not have: the file, row and field are named
    r = _cli(workspace, "coverage", "--cost-matrix", path, "--cost-unit", "min")
    assert r.returncode == 1 and "od.csv" in r.stderr and "第 2 行" in r.stderr
    assert "村(社区)图层中没有这个代码" in r.stderr


# --- green field --------------------------------------------------------------------------

def test_ignore_existing_equals_a_workspace_without_facilities(workspace, tmp_path):
    args = ("siting", "--layer", LAYER, "--problem", "mclp", "--add", "3", "--radius", "3000",
            "--cost", "network")
    green = _json(workspace, *args, "--ignore-existing")
    empty = tmp_path / "empty.gpkg"
    shutil.copyfile(workspace, empty)
    store = open_store(empty)
    store.write(LAYER, store.read(LAYER).iloc[0:0], source="测试：无设施", source_crs="EPSG:4490")
    assert len(store.read(LAYER)) == 0
    bare = _json(empty, *args)
    assert green["summary"]["ignore_existing"] is True and green["summary"]["facilities"] == 0
    assert [s["candidate"] for s in green["sites"]] == [s["candidate"] for s in bare["sites"]]
    for key in ("covered_elderly_before", "covered_elderly_after", "objective",
                "covered_villages_after"):
        assert green["summary"][key] == bare["summary"][key], key
    assert green["summary"]["covered_elderly_before"] == 0
    # the existing layout covers some: green field is a different answer
    today = _json(workspace, *args)
    assert today["summary"]["covered_elderly_before"] > 0

    r = _cli(workspace, *args, "--ignore-existing")
    assert r.returncode == 0, r.stderr
    assert "不考虑现有设施：是（按尚无任何设施规划" in r.stdout
    assert "出行成本：沿道路网（roads 图层）的道路里程（米）" in r.stdout
