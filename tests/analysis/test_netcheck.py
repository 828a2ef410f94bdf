"""The network check and the service areas on hand-built networks, against hand values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.netcheck import check_network
from geoservice.analysis.network import NetworkCosts, build_graph, snap_points
from geoservice.analysis.service_area import service_areas

GK = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0


def roads(lines, **columns):
    geoms = [LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    data = {"name": [f"路{i}" for i in range(len(lines))],
            "road_class": columns.pop("road_class", ["county"] * len(lines)), **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=GK)


def xy(points):
    return np.array([(X0 + x, Y0 + y) for x, y in points], dtype=float)


# A (with a vertex at 1000,0) and B meet; C crosses A with no shared vertex (an overpass);
# D stops 8 m short of A (a digitising error); E lies far away.
LINES = [
    [(0, 0), (1000, 0), (2000, 0)],          # A
    [(1000, 0), (1000, 1000)],               # B
    [(500, -500), (500, 500)],               # C
    [(1500, 8), (1500, 800)],                # D
    [(5000, 5000), (6000, 5000)],            # E
]


@pytest.fixture(scope="module")
def checked():
    r = roads(LINES)
    graph = build_graph(r, GK)
    villages = xy([(200, 100), (5500, 5100), (-3000, -3000)])
    fac = xy([(500, 600)])
    result = check_network(graph, villages, ["v1", "v2", "v3"], ["一村", "二村", "三村"],
                           {"elderly_service_points": (fac, ["甲站"])}, far_m=1000,
                           dangle_m=20, roads=r)
    return result


def test_parts_are_the_hand_components(checked):
    parts = checked.parts
    # main: A + B (3 km), then C (1 km, one facility), E (1 km, one village), D (792 m)
    assert len(parts) == 4
    main = parts.iloc[0]
    assert main["label"] == "主网" and main["length_km"] == pytest.approx(3.0)
    assert main["junctions"] == 4 and main["villages"] == 2 and main["facilities"] == 0
    assert sorted(parts["length_km"].iloc[1:]) == [pytest.approx(0.792), 1.0, 1.0]
    d_part = parts[parts["length_km"] == 0.792].iloc[0]
    assert (d_part["villages"], d_part["facilities"], d_part["junctions"]) == (0, 0, 2)
    one_km = parts[parts["length_km"] == 1.0]
    assert sorted(zip(one_km["villages"], one_km["facilities"], strict=True)) == [(0, 1), (1, 0)]
    s = checked.summary
    assert s["parts"] == 4 and s["villages_off_main"] == 1 and s["facilities_off_main"] == 1
    assert s["length_km"] == pytest.approx(3 + 1 + 0.792 + 1)


def test_the_short_line_end_is_a_dangle_with_its_position(checked):
    d = checked.dangles
    assert len(d) == 1
    row = d.iloc[0]
    assert row["distance_m"] == pytest.approx(8.0)
    assert row["road"] == "路3" and row["near_road"] == "路0" and not row["same_part"]
    lon, lat = Transformer.from_crs(GK, "EPSG:4490", always_xy=True).transform(X0 + 1500,
                                                                                Y0 + 8)
    assert row["lon"] == pytest.approx(lon, abs=1e-6) and row["lat"] == pytest.approx(lat, abs=1e-6)
    # the crossing C and the far line E have no end within 20 m of another line
    assert checked.summary["dangles"] == 1


def test_far_points(checked):
    far = checked.far
    assert list(far["code"]) == ["v3"]
    assert far.iloc[0]["snap_m"] == pytest.approx(np.hypot(3000, 3000), abs=0.1)
    assert far.iloc[0]["part_label"] == "主网"
    d = checked.to_dict()
    assert d["far"][0]["name"] == "三村" and "超过 1000 米" in d["far"][0]["note"]


def test_a_line_joined_within_tolerance_is_no_dangle():
    r = roads([[(0, 0), (1000, 0)], [(1000.4, 0.3), (1000, 900)], [(0, 30), (0, 900)]])
    res = check_network(build_graph(r, GK), np.zeros((0, 2)), [], [], dangle_m=40, roads=r)
    assert res.summary["parts"] == 2
    # the joined end (0.5 m, within the 1 m tolerance) is no dangle; the first line's start
    # and the third line's start lie 30 m apart, unjoined: each is a dangle near the other
    d = res.dangles.sort_values("road")
    assert list(d["road"]) == ["路0", "路2"] and list(d["near_road"]) == ["路2", "路0"]
    assert list(d["distance_m"]) == [pytest.approx(30.0), pytest.approx(30.0)]


# --- service areas -------------------------------------------------------------------------

def grid(k=4, step=1000.0):
    lines = []
    for i in range(k):
        lines.append([(i * step, j * step) for j in range(k)])
        lines.append([(j * step, i * step) for j in range(k)])
    return lines


def hand_grid_reach(centre, radius, k=4, step=1000.0):
    """Reachable road length on the grid from a junction: shortest path = Manhattan."""
    total = 0.0
    for i in range(k):
        for j in range(k - 1):
            for a, b in (((i, j), (i, j + 1)), ((j, i), (j + 1, i))):
                du = (abs(a[0] - centre[0]) + abs(a[1] - centre[1])) * step
                dv = (abs(b[0] - centre[0]) + abs(b[1] - centre[1])) * step
                total += min(step, max(0.0, radius - du) + max(0.0, radius - dv))
    return total


@pytest.mark.parametrize("radius", [700.0, 1500.0, 2600.0])
def test_grid_reach_equals_hand_value(radius):
    graph = build_graph(roads(grid()), GK)
    sa = service_areas(graph, xy([(1000, 1000)]), ["中心"], radius, buffer_m=10)
    assert sa.areas.iloc[0]["reach_km"] * 1000 == pytest.approx(
        hand_grid_reach((1, 1), radius), abs=1.0)
    pieces = sa.pieces[0]
    assert sum(g.length for g in pieces) == pytest.approx(hand_grid_reach((1, 1), radius),
                                                          abs=1e-6)


def test_time_cost_reach_on_the_grid():
    # 30 km/h everywhere: 2 minutes = 1000 m
    r = roads(grid(), speed_kmh=[30.0] * 8)
    graph = build_graph(r, GK)
    sa = service_areas(graph, xy([(1000, 1000)]), ["中心"], 3.0, field="time", buffer_m=10)
    assert sum(g.length for g in sa.pieces[0]) == pytest.approx(hand_grid_reach((1, 1), 1500.0),
                                                                abs=1e-6)


def test_one_way_direction():
    r = roads([[(0, 0), (2000, 0)]], oneway=[True])
    graph = build_graph(r, GK)
    fac = xy([(1000, 0)])
    toward = service_areas(graph, fac, ["站"], 600, buffer_m=5)
    outward = service_areas(graph, fac, ["站"], 600, buffer_m=5, toward=False)
    # village -> facility along the digitised direction: from x = 400 to 1000
    (piece,) = [g for g in toward.pieces[0] if g.length > 1]
    assert piece.length == pytest.approx(600)
    assert sorted(c[0] - X0 for c in piece.coords)[0] == pytest.approx(400)
    (piece,) = [g for g in outward.pieces[0] if g.length > 1]
    assert sorted(c[0] - X0 for c in piece.coords)[-1] == pytest.approx(1600)
    two_way = service_areas(build_graph(roads([[(0, 0), (2000, 0)]]), GK), fac, ["站"], 600,
                            buffer_m=5)
    assert two_way.summary["reach_km"] == pytest.approx(1.2)


def test_every_village_within_the_radius_lies_in_the_merged_area():
    rng = np.random.default_rng(7)
    graph = build_graph(roads(grid(6, 800.0)), GK)
    villages = xy(rng.uniform(-200, 4200, size=(300, 2)))
    facilities = xy([(800, 800), (3200, 2400), (1700, 3900)])
    radius = 1400.0
    spec = CostSpec(kind="network", field="length", unit="m")
    costs = NetworkCosts(graph, spec, villages, {"facilities": facilities})
    i, _, c = costs.within("facilities", radius)
    inside_cost = np.unique(i)
    sa = service_areas(graph, facilities, ["a", "b", "c"], radius, buffer_m=1.0)
    merged = gpd.GeoSeries(sa.merged.geometry, crs="EPSG:4490").to_crs(GK).iloc[0]
    onroad = snap_points(graph, villages).onroad
    inside_area = shapely.contains_xy(merged.buffer(0.01), onroad[:, 0], onroad[:, 1])
    assert len(inside_cost) > 20
    assert inside_area[inside_cost].all()
    # and a village whose road point is in no area cannot reach any facility in time
    assert not np.isin(np.flatnonzero(~inside_area), inside_cost).any()
    assert sa.merged.iloc[0]["area_km2"] <= sa.areas["area_km2"].sum() + 1e-9
