"""The vectorised ``derive_lines`` (shared ring segments by hashing, snap + intersection
only for the pairs that need it) against the former one-pair-at-a-time implementation,
(bench/boundaries.py's baseline) as the oracle, on generated counties with irregular polygons and defects."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import affinity

from bench.boundaries import derive_lines_baseline
from geoservice.analysis.boundaries.lines import OUTER_NAME, derive_lines

CRS = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0


def derive_lines_oracle(geoms, codes, names, *, snap_m):
    """The implementation before vectorisation (bench/boundaries.py keeps it as the named
    baseline): snap + intersection for every pair; its lines keyed like ``got`` below."""
    old = derive_lines_baseline(geoms, codes, names, snap_m=snap_m, crs=CRS)
    return {(k, a, b if isinstance(b, str) else None): g
            for k, a, b, g in zip(old["kind"], old["code_a"], old["code_b"],
                                  old.geometry.values, strict=True)}


def county(seed: int, n: int = 400):
    """Voronoi villages in an irregular outline, with the defects a review meets."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 60))
    rad = rng.uniform(6000, 10000, 60)
    outline = shapely.Polygon(np.c_[X0 + rad * np.cos(ang), Y0 + rad * np.sin(ang)])
    outline = shapely.make_valid(outline)
    pts = shapely.points(rng.uniform((X0 - 9000, Y0 - 9000), (X0 + 9000, Y0 + 9000), (n, 2)))
    pts = pts[shapely.contains(outline, pts)]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), ordered=True))
    cells = shapely.make_valid(shapely.intersection(cells, outline))
    keep = shapely.area(cells) > 1.0
    cells = np.asarray(cells[keep], dtype=object)
    m = len(cells)
    pick = rng.choice(m, 40, replace=False)
    # Shifted 30 m (an overlap on one side, a gap on the other) and 0.4 m (both narrower
    # than the snap tolerance), rotated a little, one removed (a hole), one grown by a
    # ring (an enclave: a unit inside another), extra vertices on one side only
    # (T-junctions), vertices nudged by less than the tolerance.
    for k in pick[:4]:
        cells[k] = affinity.translate(cells[k], 30.0, 0.0)
    for k in pick[4:8]:
        cells[k] = affinity.translate(cells[k], 0.4, -0.3)
    for k in pick[8:10]:
        cells[k] = affinity.rotate(cells[k], 0.05)
    for k in pick[10:16]:
        cells[k] = shapely.segmentize(cells[k], 150.0)
    for k in pick[16:22]:
        xy = shapely.get_coordinates(cells[k])
        xy[:-1] += rng.uniform(-0.3, 0.3, xy[:-1].shape)
        xy[-1] = xy[0]
        cells[k] = shapely.make_valid(shapely.Polygon(xy))
    host = pick[22]
    inner = shapely.buffer(shapely.centroid(cells[host]), 60.0, quad_segs=4)
    if shapely.contains(cells[host], inner):
        cells[host] = shapely.difference(cells[host], inner)
        cells = np.append(cells, np.array([inner], dtype=object))
    cells = np.delete(cells, pick[23])
    multi = pick[24]
    cells[multi] = shapely.union(cells[multi], shapely.box(X0 + 20000, Y0, X0 + 20500, Y0 + 500))
    cells = np.asarray([shapely.make_valid(c) for c in cells], dtype=object)
    # Only the polygonal parts (the review passes valid polygons).
    parts, owner = shapely.get_parts(cells, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    cells = np.array([shapely.multipolygons(parts[poly & (owner == k)])
                      if (owner[poly] == k).sum() > 1 else parts[poly & (owner == k)][0]
                      for k in np.unique(owner[poly])], dtype=object)
    codes = np.array([f"420323{k:06d}" for k in range(len(cells))], dtype=object)
    names = np.array([f"村{k}" for k in range(len(cells))], dtype=object)
    return cells, codes, names


@pytest.mark.parametrize("seed,snap_m", [(1, 1.0), (2, 1.0), (3, 0.5), (4, 2.0)])
def test_vectorised_lines_equal_the_pairwise_oracle(seed, snap_m):
    geoms, codes, names = county(seed)
    assert shapely.is_valid(geoms).all()
    new = derive_lines(geoms, codes, names, snap_m=snap_m, crs=CRS)
    old = derive_lines_oracle(geoms, codes, names, snap_m=snap_m)
    got = {(k, a, b if isinstance(b, str) else None): g
           for k, a, b, g in zip(new["kind"], new["code_a"], new["code_b"],
                                 new.geometry.values, strict=True)}
    assert set(got) == set(old)
    assert sum(1 for k in got if k[0] == "shared") > 500
    assert sum(1 for k in got if k[0] == "outer") > 20
    for key, g in old.items():
        assert shapely.length(got[key]) == pytest.approx(g.length, rel=1e-6, abs=1e-9), key
        # The same line, not only the same length.
        assert shapely.hausdorff_distance(got[key], g) < 1e-6, key
    assert (new["length_m"] == np.round(shapely.length(new.geometry.values), 3)).all()
    outer = new[new["kind"] == "outer"]
    assert outer["code_b"].isna().all() and (outer["name_b"] == OUTER_NAME).all()


def test_no_units_and_a_lone_unit():
    assert len(derive_lines(np.array([], dtype=object), np.array([]), np.array([]),
                            snap_m=1.0, crs=CRS)) == 0
    one = derive_lines(np.array([shapely.box(0, 0, 10, 10)], dtype=object),
                       np.array(["a"], dtype=object), np.array(["甲"], dtype=object),
                       snap_m=1.0, crs=CRS)
    assert list(one["kind"]) == ["outer"] and one["length_m"].iloc[0] == 40.0
