"""Road travel costs (NetworkCosts) equal networkx shortest paths on random road networks,
the networkx graph built here from the same lines: nodes are the rounded vertex
coordinates, an edge joins consecutive vertices of a line (one direction on a one-way
road), weighted by metres or minutes. Villages and facilities sit on vertices."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.network import NetworkCosts, build_graph

GK = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0
STEP = 100.0
SPEEDS = (20.0, 30.0, 60.0)


def random_lines(rng, k=9, n_lines=22):
    """Self-avoiding random walks on a k x k lattice (a line never meets itself, so the
    builder's rule for a line's own vertices does not arise)."""
    lines = []
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    while len(lines) < n_lines:
        p = tuple(rng.integers(0, k, size=2))
        walk = [p]
        for _ in range(rng.integers(1, 7)):
            options = [(walk[-1][0] + dx, walk[-1][1] + dy) for dx, dy in moves]
            options = [q for q in options if 0 <= q[0] < k and 0 <= q[1] < k and q not in walk]
            if not options:
                break
            walk.append(options[rng.integers(len(options))])
        if len(walk) > 1:
            lines.append(walk)
    return lines


def network(seed):
    rng = np.random.default_rng(seed)
    lines = random_lines(rng)
    oneway = rng.random(len(lines)) < 0.3
    speed = rng.choice(SPEEDS, size=len(lines))
    geoms = [LineString([(X0 + x * STEP, Y0 + y * STEP) for x, y in w]) for w in lines]
    roads = gpd.GeoDataFrame({"name": [f"r{i}" for i in range(len(lines))],
                              "road_class": "county", "speed_kmh": speed, "oneway": oneway},
                             geometry=geoms, crs=GK)
    return rng, lines, oneway, speed, roads


def oracle_graph(lines, oneway, speed, field):
    g = nx.DiGraph()
    for w, ow, v in zip(lines, oneway, speed, strict=True):
        for a, b in zip(w[:-1], w[1:], strict=True):
            u = (round(X0 + a[0] * STEP), round(Y0 + a[1] * STEP))
            t = (round(X0 + b[0] * STEP), round(Y0 + b[1] * STEP))
            cost = STEP if field == "length" else STEP * 60.0 / (v * 1000.0)
            for x, y in ((u, t),) if ow else ((u, t), (t, u)):
                if not g.has_edge(x, y) or g[x][y]["w"] > cost:
                    g.add_edge(x, y, w=cost)
    return g


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("field", ["length", "time"])
def test_costs_equal_networkx(seed, field):
    rng, lines, oneway, speed, roads = network(seed)
    vertices = sorted({p for w in lines for p in w})
    pick = rng.permutation(len(vertices))
    villages = [vertices[i] for i in pick[:25]]
    facilities = [vertices[i] for i in pick[25:31]]
    to_xy = lambda pts: np.array([(X0 + x * STEP, Y0 + y * STEP) for x, y in pts])  # noqa: E731
    spec = CostSpec(kind="network", field=field, unit="m" if field == "length" else "min")
    costs = NetworkCosts(build_graph(roads, GK), spec, to_xy(villages),
                         {"facilities": to_xy(facilities)})
    got = costs.dense("facilities")
    g = oracle_graph(lines, oneway, speed, field)
    want = np.full(got.shape, np.inf)
    for j, f in enumerate(facilities):
        node = (round(X0 + f[0] * STEP), round(Y0 + f[1] * STEP))
        # village -> facility: from the facility over the reversed graph
        d = nx.single_source_dijkstra_path_length(g.reverse(copy=False), node, weight="w")
        for i, v in enumerate(villages):
            want[i, j] = d.get((round(X0 + v[0] * STEP), round(Y0 + v[1] * STEP)), np.inf)
    assert np.isfinite(want).sum() > 10
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # the sparse query with a cutoff gives exactly the pairs within it
    # a cutoff halfway between two distinct costs (no pair sits on it)
    values = np.unique(np.round(want[np.isfinite(want)], 6))
    cutoff = float(values[len(values) // 2:len(values) // 2 + 2].mean())
    i, j, c = costs.within("facilities", cutoff)
    wi, wj = np.nonzero(want <= cutoff)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == \
        sorted(zip(wi.tolist(), wj.tolist(), strict=True))
    np.testing.assert_allclose(c, want[i, j], rtol=1e-9)
    best, idx = costs.nearest("facilities")
    np.testing.assert_allclose(best, want.min(axis=1), rtol=1e-9)


def test_one_way_and_crossing_by_hand():
    """A one-way road is travelled only in its digitised direction; two roads crossing
    without a shared vertex are not joined; the walk to the road is counted."""
    roads = gpd.GeoDataFrame(
        {"road_class": ["county"] * 3, "oneway": [True, False, False]},
        geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)]),              # one-way east
                  LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 500)]),  # two-way north
                  LineString([(X0 + 500, Y0 - 300), (X0 + 500, Y0 + 300)])],  # overpass
        crs=GK)
    spec = CostSpec(kind="network", field="length", unit="m")
    villages = np.array([(X0 + 100, Y0 + 20), (X0 + 1000, Y0 + 500), (X0 + 500, Y0 + 300)])
    fac = np.array([(X0 + 1000, Y0 + 500), (X0 + 200, Y0)])
    d = NetworkCosts(build_graph(roads, GK), spec, villages, {"facilities": fac}).dense(
        "facilities")
    assert d[0, 0] == pytest.approx(20 + 900 + 500)   # walk 20, east 900, north 500
    assert np.isinf(d[1, 1])                          # back west against the one-way road
    assert d[0, 1] == pytest.approx(20 + 100)
    assert np.isinf(d[2]).all()                       # the overpass joins nothing


def test_a_point_at_the_junction_of_a_one_way_road_leaves_both_ways():
    """A village exactly at a junction where a one-way road starts: it stands on the
    junction, so it can take the two-way road behind it (1000 m to the facility)."""
    roads = gpd.GeoDataFrame(
        {"road_class": ["county"] * 2, "oneway": [True, False]},
        geometry=[LineString([(X0 + 1000, Y0), (X0 + 2000, Y0)]),   # one-way east
                  LineString([(X0, Y0), (X0 + 1000, Y0)])],          # two-way
        crs=GK)
    spec = CostSpec(kind="network", field="length", unit="m")
    d = NetworkCosts(build_graph(roads, GK), spec, np.array([(X0 + 1000, Y0)]),
                     {"facilities": np.array([(X0, Y0), (X0 + 2000, Y0)])}).dense("facilities")
    assert d[0, 0] == pytest.approx(1000) and d[0, 1] == pytest.approx(1000)
