"""Road-network travel cost on small hand-built networks: every figure is computed by hand
in the test (lengths of straight pieces, minutes at a speed), never by the code under test."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.network import NetworkCosts, build_graph

CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres)
LENGTH = CostSpec(kind="network")
TIME = CostSpec(kind="network", field="time", unit="min")


def roads(lines, cls="county", **cols) -> gpd.GeoDataFrame:
    geoms = [g if isinstance(g, shapely.Geometry) else shapely.LineString(g) for g in lines]
    return gpd.GeoDataFrame({"road_class": [cls] * len(geoms), **cols}, geometry=geoms, crs=CRS)


def costs(r, villages, facilities, spec=LENGTH, **kw) -> NetworkCosts:
    return NetworkCosts(build_graph(r, CRS, **kw), spec, np.array(villages, float),
                        {"facilities": np.array(facilities, float)})


def test_length_along_roads_with_the_walk_to_the_road():
    c = costs(roads([[(0, 0), (1000, 0), (1000, 1000)]]), [(500, 10)], [(1000, 900)])
    # 10 m walk to the road, 500 m east, 900 m north; the facility is on the road
    assert c.dense("facilities").tolist() == [[pytest.approx(1410.0)]]
    assert c.snap().tolist() == [pytest.approx(10.0)]
    assert c.snap("facilities").tolist() == [pytest.approx(0.0)]
    i, j, d = c.within("facilities", 1500)
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0], [0], [pytest.approx(1410.0)])
    assert len(c.within("facilities", 1400)[0]) == 0  # 1,410 m is beyond 1,400


def test_roads_that_cross_without_a_shared_vertex_are_not_connected():
    over = roads([[(0, 0), (2000, 0)], [(1000, -1000), (1000, 1000)]])
    c = costs(over, [(100, 0)], [(1000, 900)])
    assert np.isinf(c.dense("facilities")[0, 0])
    cost, idx = c.nearest("facilities")
    assert np.isinf(cost[0]) and idx[0] == -1
    # the same roads with a junction vertex at the crossing: 900 + 900 m
    junction = roads([[(0, 0), (1000, 0), (2000, 0)], [(1000, -1000), (1000, 0), (1000, 1000)]])
    assert costs(junction, [(100, 0)], [(1000, 900)]).dense("facilities")[0, 0] == \
        pytest.approx(1800.0)


def test_one_way_roads_are_travelled_only_in_their_digitised_direction():
    r = roads([[(0, 0), (1000, 0)]], oneway=[True])
    d = costs(r, [(0, 0), (1000, 0)], [(1000, 0), (0, 0)]).dense("facilities")
    assert d[0, 0] == pytest.approx(1000.0)   # west village -> east facility: along the road
    assert np.isinf(d[1, 1])                  # east village -> west facility: against it
    assert d[0, 1] == pytest.approx(0.0) and d[1, 0] == pytest.approx(0.0)
    # both ways when not one-way
    d2 = costs(roads([[(0, 0), (1000, 0)]], oneway=[False]), [(1000, 0)], [(0, 0)])
    assert d2.dense("facilities")[0, 0] == pytest.approx(1000.0)


def test_time_from_speed_class_default_and_whole_line_minutes():
    # 1.5 km at 60 km/h = 1.5 minutes
    r = roads([[(0, 0), (1500, 0)]], speed_kmh=[60.0])
    assert costs(r, [(0, 0)], [(1500, 0)], TIME).dense("facilities")[0, 0] == \
        pytest.approx(1.5)
    # no speed: the class default (village roads 20 km/h): 1 km = 3 minutes
    r = roads([[(0, 0), (1000, 0)]], cls="village")
    assert costs(r, [(0, 0)], [(1000, 0)], TIME).dense("facilities")[0, 0] == \
        pytest.approx(3.0)
    # minutes of the whole line (5 min for 1 km) shared by length: half the road = 2.5 min,
    # plus a 100 m walk at the access speed (4 km/h = 1.5 min)
    r = roads([[(0, 0), (1000, 0)]], minutes=[5.0], speed_kmh=[100.0])
    assert costs(r, [(0, 100)], [(500, 0)], TIME).dense("facilities")[0, 0] == \
        pytest.approx(4.0)


def test_two_points_on_one_road_travel_along_it():
    c = costs(roads([[(0, 0), (1000, 0)]]), [(300, 0), (700, 0)], [(700, 0), (300, 0)])
    assert c.dense("facilities") == pytest.approx(np.array([[400.0, 0.0], [0.0, 400.0]]))


def test_line_ends_within_the_tolerance_are_one_junction():
    near = roads([[(0, 0), (1000, 0)], [(1000.5, 0), (2000, 0)]])
    assert costs(near, [(0, 0)], [(2000, 0)]).dense("facilities")[0, 0] == \
        pytest.approx(1999.5)
    far = roads([[(0, 0), (1000, 0)], [(1002, 0), (2000, 0)]])
    assert np.isinf(costs(far, [(0, 0)], [(2000, 0)]).dense("facilities")[0, 0])
    # a wider tolerance joins them
    assert costs(far, [(0, 0)], [(2000, 0)], tolerance_m=3.0).dense("facilities")[0, 0] == \
        pytest.approx(1998.0)


def test_parallel_roads_keep_the_shorter_and_rings_close():
    par = roads([[(0, 0), (1000, 0)], [(0, 0), (500, 500), (1000, 0)]])
    assert costs(par, [(0, 0)], [(1000, 0)]).dense("facilities")[0, 0] == \
        pytest.approx(1000.0)
    ring = roads([[(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]])
    # around the ring's closing vertex: 10 m + 10 m, not 3,980 m the long way
    assert costs(ring, [(10, 0)], [(0, 10)]).dense("facilities")[0, 0] == pytest.approx(20.0)


def test_multilinestrings_nearest_and_several_facilities():
    multi = shapely.MultiLineString([[(0, 0), (1000, 0)], [(1000, 0), (1000, 2000)]])
    c = costs(roads([multi]), [(0, 0), (1000, 1900)], [(1000, 2000), (200, 0)])
    d = c.dense("facilities")
    assert d == pytest.approx(np.array([[3000.0, 200.0], [100.0, 2700.0]]))
    cost, idx = c.nearest("facilities")
    assert cost.tolist() == pytest.approx([200.0, 100.0]) and idx.tolist() == [1, 0]
    # cols: only the first facility
    cost, idx = c.nearest("facilities", cols=[0])
    assert cost.tolist() == pytest.approx([3000.0, 100.0]) and idx.tolist() == [0, 0]
    i, j, v = c.within("facilities", 1000)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]
    dd, kk = c.knearest("facilities", 2)
    assert kk.tolist() == [[1, 0], [0, 1]]


def test_empty_roads_are_refused_in_chinese():
    with pytest.raises(InvalidInput, match="道路图层"):
        build_graph(roads([]), CRS)
