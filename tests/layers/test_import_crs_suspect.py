"""``layers.crs.suspect_crs``: a whole point file read in the wrong coordinate system is
noticed, and the system it is really in named (issue 12, "Place names").

A synthetic grid of square villages (away from the demo county, near 108.6E 31.2N) and
points near each village's centre, well inside it. The file is "written" in one system
(the true CGCS2000 points shifted with ``wgs_to_gcj`` / ``wgs_to_bd``) and "read" in
another (the import's conversion applied: ``gcj_to_wgs`` for a file read as GCJ-02); the
expected suspect and the distance the points move once re-read come from that
construction and from geodesic distances (pyproj, GRS80), not from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from layers.crs import (
    bd_to_wgs,
    gcj_to_wgs,
    suspect_crs,
    suspect_message,
    wgs_to_bd,
    wgs_to_gcj,
)

GEOD = Geod(ellps="GRS80")
X0, Y0, SIDE = 108.60, 31.20, 0.03  # about 2.9 km x 3.3 km villages
COLS, ROWS = 8, 6


@pytest.fixture(scope="module")
def grid():
    """(polygons, centre lon, centre lat, point lon, point lat, village of each point):
    two points per village within about 350 m of its centre."""
    rng = np.random.default_rng(31)
    polys, cx, cy = [], [], []
    for r in range(ROWS):
        for c in range(COLS):
            x, y = X0 + c * SIDE, Y0 + r * SIDE
            polys.append(shapely.box(x, y, x + SIDE, y + SIDE))
            cx.append(x + SIDE / 2)
            cy.append(y + SIDE / 2)
    polys, cx, cy = np.array(polys, dtype=object), np.array(cx), np.array(cy)
    own = np.repeat(np.arange(len(polys)), 2)
    lon = cx[own] + rng.uniform(-0.0035, 0.0035, len(own))
    lat = cy[own] + rng.uniform(-0.003, 0.003, len(own))
    return polys, cx, cy, lon, lat, own


def run(grid, lon, lat, declared):
    polys, cx, cy, _, _, own = grid
    return suspect_crs(lon, lat, polys[own], cx[own], cy[own], declared=declared)


def median_m(lon1, lat1, lon2, lat2) -> float:
    return float(np.median(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


def inside(grid, lon, lat) -> int:
    polys, *_, own = grid
    return sum(bool(polys[v].contains(shapely.Point(x, y)))
               for v, x, y in zip(own, lon, lat, strict=True))


def test_points_read_in_their_own_system_raise_no_suspicion(grid):
    _, _, _, lon, lat, own = grid
    for declared in (None, "EPSG:4490"):
        result = run(grid, lon, lat, declared)
        assert result["suspect"] is None and result["offset_m"] is None
        assert result["points"] == len(own) and result["inside"] == len(own)
        assert result["declared"] == "cgcs2000"
        assert suspect_message(result, "设施") is None


@pytest.mark.parametrize(("written", "declared", "expected"), [
    ("gcj02", None, "gcj02"),  # an Amap export read as CGCS2000
    ("bd09", "EPSG:4490", "bd09"),  # a Baidu export read as CGCS2000
    ("cgcs2000", "gcj02", "cgcs2000"),  # a survey file read as GCJ-02
    ("bd09", "gcj02", "bd09"),  # a Baidu export read as GCJ-02
    ("gcj02", "bd09", "gcj02"),  # an Amap export read as BD-09
])
def test_a_whole_file_in_another_system_is_named(grid, written, declared, expected):
    _, _, _, lon, lat, own = grid
    # the file's numbers, then what the import stored (its conversion from `declared`)
    fx, fy = {"gcj02": wgs_to_gcj, "bd09": wgs_to_bd}.get(written, lambda a, b: (a, b))(lon, lat)
    sx, sy = {"gcj02": gcj_to_wgs, "bd09": bd_to_wgs}.get(declared, lambda a, b: (a, b))(fx, fy)
    result = run(grid, sx, sy, declared)
    assert result["suspect"] == expected
    assert result["declared"] == {"gcj02": "gcj02", "bd09": "bd09"}.get(declared, "cgcs2000")
    # re-read in the suspect, each point goes back to where it truly is
    want = median_m(sx, sy, lon, lat)
    assert 100 < want < 1500
    assert result["offset_m"] == pytest.approx(want, rel=0.01)
    assert result["inside"] == inside(grid, sx, sy)
    assert result["inside_if_reread"] == len(own) == inside(grid, lon, lat)
    message = suspect_message(result, "设施")
    label = {"gcj02": "GCJ-02", "bd09": "BD-09", "cgcs2000": "CGCS2000"}[expected]
    assert label in message and f"{len(own)} 个设施" in message
    assert f"约 {result['offset_m']:,.0f} 米" in message


def test_a_few_misplaced_points_do_not_hide_the_shift_nor_make_one(grid):
    polys, cx, cy, lon, lat, own = grid
    rng = np.random.default_rng(5)
    wrong = rng.choice(len(own), len(own) // 10, replace=False)
    lon2, lat2 = lon.copy(), lat.copy()
    # a tenth of the points sit in some other village, kilometres away
    other = (own[wrong] + 7) % len(polys)
    lon2[wrong], lat2[wrong] = cx[other], cy[other]
    assert run(grid, lon2, lat2, None)["suspect"] is None
    gx, gy = wgs_to_gcj(lon2, lat2)
    result = run(grid, gx, gy, None)
    assert result["suspect"] == "gcj02"
    assert result["offset_m"] == pytest.approx(median_m(gx, gy, lon2, lat2), rel=0.01)


def test_too_few_points_say_nothing(grid):
    _, _, _, lon, lat, _ = grid
    gx, gy = wgs_to_gcj(lon[:4], lat[:4])
    polys, cx, cy, *_ = grid
    result = suspect_crs(gx, gy, polys[[0, 0, 1, 1]], cx[[0, 0, 1, 1]], cy[[0, 0, 1, 1]])
    assert result["suspect"] is None and result["points"] == 4


def test_points_without_a_village_are_left_out(grid):
    polys, cx, cy, lon, lat, own = grid
    gx, gy = wgs_to_gcj(lon, lat)
    geoms = polys[own].copy()
    geoms[::3] = None  # no village named (or none found) for a third of them
    result = suspect_crs(gx, gy, geoms, cx[own], cy[own])
    assert result["points"] == len(own) - len(own[::3]) and result["suspect"] == "gcj02"
