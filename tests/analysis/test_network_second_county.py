"""Road travel on data built independently of the demo: the second county (竹山县, its own
seed) gets a road network of its own (a spanning tree of jittered points near the village
centres plus extra links, classes and speeds drawn from a seeded generator), and coverage and
siting on it are checked against an oracle written here: every point's nearest road by brute
force over all lines (shapely distances), the roads split where points join them, and
shortest paths by networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pulp
import pytest
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from spopt.locate import MCLP

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.coverage import coverage, metre_centres
from geoservice.analysis.network import NetworkSource, build_graph
from geoservice.analysis.settings import network_defaults
from geoservice.analysis.siting import siting
from geoservice.analysis.siting.inputs import points_of

SEED = 20261126
CLASSES = ["county", "township", "village", "provincial"]


@pytest.fixture(scope="module")
def roads_case(county):
    import geopandas as gpd

    villages = county.villages
    gk, cxy, _ = metre_centres(villages)
    rng = np.random.default_rng(SEED)
    nodes = cxy + rng.uniform(-400, 400, cxy.shape)          # roads pass near, not through
    tree = minimum_spanning_tree(cdist(nodes, nodes)).tocoo()
    pairs = list(zip(tree.row.tolist(), tree.col.tolist(), strict=True))
    # a few extra links between near neighbours (loops), none duplicated
    d = cdist(nodes, nodes)
    np.fill_diagonal(d, np.inf)
    for a in rng.choice(len(nodes), size=len(nodes) // 4, replace=False):
        b = int(np.argsort(d[a])[1])
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.append((int(a), b))
    lines, cls, speed = [], [], []
    for a, b in pairs:
        mid = (nodes[a] + nodes[b]) / 2 + rng.uniform(-150, 150, 2)  # a bend
        lines.append(shapely.LineString([nodes[a], mid, nodes[b]]))
        cls.append(CLASSES[int(rng.integers(len(CLASSES)))])
        speed.append(float(rng.choice([np.nan, 35.0, 50.0])))
    roads = gpd.GeoDataFrame({"road_class": cls, "speed_kmh": speed}, geometry=lines, crs=gk)
    fac = county.elderly_service_points
    fxy = shapely.get_coordinates(points_of(fac.to_crs(gk)))
    return {"gk": gk, "villages": villages, "fac": fac, "roads": roads, "cxy": cxy,
            "fxy": fxy, "nodes": nodes, "pairs": pairs}


def _oracle(case, field: str) -> np.ndarray:
    """Villages x facilities cost by brute force + networkx, written independently."""
    roads = case["roads"]
    lines = list(roads.geometry)
    speeds = network_defaults()["speed_kmh"]
    kmh = np.where(np.isfinite(roads["speed_kmh"].to_numpy(float)),
                   roads["speed_kmh"].to_numpy(float),
                   [speeds[c] for c in roads["road_class"]])
    per_m = np.ones(len(lines)) if field == "length" else 60.0 / (kmh * 1000.0)
    walk_per_m = 1.0 if field == "length" else 60.0 / (network_defaults()["access_speed_kmh"]
                                                       * 1000.0)
    pts = np.vstack([case["cxy"], case["fxy"]])
    g = nx.DiGraph()

    def key(xy):
        return (round(float(xy[0]), 3), round(float(xy[1]), 3))

    # every point on its nearest line (brute force), at its position along it
    on_line: dict[int, list] = {k: [] for k in range(len(lines))}
    for p, xy in enumerate(pts):
        pt = shapely.Point(xy)
        dist = np.array([ln.distance(pt) for ln in lines])
        k = int(np.argmin(dist))
        on_line[k].append((lines[k].project(pt), ("p", p)))
        g.add_edge(("p", p), ("q", p), weight=dist[k] * walk_per_m)
        g.add_edge(("q", p), ("p", p), weight=dist[k] * walk_per_m)
    # each line as a chain: its first vertex, the joined points by position, its last vertex
    for k, ln in enumerate(lines):
        coords = np.asarray(ln.coords)
        stops = [(0.0, key(coords[0]))]
        stops += [(t, ("q", p[1])) for t, p in sorted(on_line[k], key=lambda s: s[0])]
        stops.append((ln.length, key(coords[-1])))
        for (t0, u), (t1, v) in zip(stops[:-1], stops[1:], strict=True):
            w = (t1 - t0) * per_m[k]
            for a, b in ((u, v), (v, u)):
                if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                    g.add_edge(a, b, weight=w)
    n, m = len(case["cxy"]), len(case["fxy"])
    out = np.full((n, m), np.inf)
    rev = g.reverse(copy=True)
    for j in range(m):
        dist = nx.single_source_dijkstra_path_length(rev, ("p", n + j), weight="weight")
        for i in range(n):
            out[i, j] = dist.get(("p", i), np.inf)
    return out


def _source(case, spec):
    graph = build_graph(case["roads"], case["gk"])
    return NetworkSource(lambda crs: graph, spec)


@pytest.mark.parametrize("field, unit, radius", [("length", "m", 2500.0), ("time", "min", 6.0)])
def test_coverage_on_an_independent_county_network_equals_the_oracle(roads_case, field, unit,
                                                                     radius):
    case = roads_case
    oracle = _oracle(case, field)
    assert np.isfinite(oracle).all()       # one connected network
    spec = CostSpec(kind="network", field=field, unit=unit)
    res = coverage(case["villages"], case["fac"], layer="elderly_service_points",
                   radius_m=radius, cost=_source(case, spec), cutoffs=(radius / 2,))
    near = oracle.min(axis=1)
    assert res.villages["nearest_m"].to_numpy() == pytest.approx(near, rel=1e-9, abs=1e-6)
    assert res.villages["covered"].tolist() == (near <= radius).tolist()
    assert 0.2 < res.summary["village_coverage"] < 1.0     # the radius separates villages
    eld = res.villages["elderly_population"].to_numpy()
    assert res.summary["cutoffs"][0]["elderly"] == int(eld[near <= radius / 2].sum())
    # by road is never shorter than the straight line (the walk included)
    straight = cdist(case["cxy"], case["fxy"]).min(axis=1)
    if field == "length":
        assert (near >= straight - 1e-6).all() and (near > straight * 1.1).mean() > 0.5


def test_mclp_on_an_independent_county_network_equals_spopt(roads_case):
    case = roads_case
    cost_f = _oracle(case, "length")
    # candidates: the village centres, their costs from the same oracle (as facilities)
    fac_c = dict(case, fxy=case["cxy"])
    cost_c = _oracle(fac_c, "length")
    cost = np.hstack([cost_f, cost_c])
    nf, radius, k = cost_f.shape[1], 2000.0, 4
    w = case["villages"]["elderly_population"].to_numpy(dtype=float)
    ref = MCLP.from_cost_matrix(cost, w, radius, p_facilities=nf + k,
                                predefined_facilities_arr=np.arange(nf)).solve(
        pulp.PULP_CBC_CMD(msg=False))
    ours = siting(case["villages"], case["fac"], None, problem="mclp", radius_m=radius, add=k,
                  cost=_source(case, CostSpec(kind="network")))
    assert ours.summary["optimal"]
    assert ours.summary["covered_elderly_after"] == pytest.approx(
        pulp.value(ref.problem.objective), rel=1e-6)
    assert ours.summary["covered_elderly_after"] > ours.summary["covered_elderly_before"]
