"""The demo county against independent computations: PySAL `access` and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from access import fca

from geoservice.analysis.coverage import coverage, gaussian_weight, village_centres
from layers import open_store
from layers.crs import metric_crs


@pytest.fixture(scope="module")
def demo():
    from geoservice.config import DEMO_WORKSPACE

    s = open_store(DEMO_WORKSPACE)
    return {k: s.read(k) for k in ("villages", "welfare_homes", "elderly_service_points")}


def _dense(villages, facilities):
    gk = metric_crs(villages)
    c = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    f = shapely.get_coordinates(facilities.to_crs(gk).geometry.array)
    return np.sqrt(((c[:, None, :] - f[None, :, :]) ** 2).sum(axis=2))


@pytest.mark.parametrize("layer, radius", [("elderly_service_points", 2000),
                                           ("elderly_service_points", 5000),
                                           ("welfare_homes", 15000)])
def test_g2sfca_equals_pysal_access(demo, layer, radius):
    villages, facilities = demo["villages"], demo[layer]
    ours = coverage(villages, facilities, layer=layer, radius_m=radius)
    d = _dense(villages, facilities)
    i, j = np.nonzero(np.isfinite(d))
    cost = pd.DataFrame({"origin": villages["code"].to_numpy()[i], "dest": j, "cost": d[i, j]})
    demand = pd.DataFrame({"elderly": villages["elderly_population"].astype(float).to_numpy()},
                          index=pd.Index(villages["code"].to_numpy(), name="geoid"))
    supply = pd.DataFrame({"beds": facilities["beds"].fillna(0).astype(float).to_numpy()},
                          index=pd.Index(np.arange(len(facilities)), name="geoid"))
    ref = fca.two_stage_fca(demand, supply, cost, max_cost=radius, demand_index=True,
                            demand_name="elderly", supply_index=True, supply_name="beds",
                            cost_origin="origin", cost_dest="dest", cost_name="cost",
                            weight_fn=lambda x: gaussian_weight(x, radius))
    ref = ref.reindex(villages["code"].to_numpy()).fillna(0.0).to_numpy()
    assert np.abs(ref).max() > 0  # the comparison is not between two zero vectors
    np.testing.assert_allclose(ours.villages["access"].to_numpy(), ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("radius", [800, 2000, 5000])
def test_coverage_and_nearest_equal_brute_force(demo, radius):
    villages, facilities = demo["villages"], demo["elderly_service_points"]
    ours = coverage(villages, facilities, layer="elderly_service_points", radius_m=radius)
    d = _dense(villages, facilities)
    np.testing.assert_allclose(ours.villages["nearest_m"].to_numpy(), d.min(axis=1), atol=1e-3)
    covered = d.min(axis=1) <= radius
    assert (ours.villages["covered"].to_numpy() == covered).all()
    assert ours.summary["covered_villages"] == covered.sum()
    eld = villages["elderly_population"].to_numpy()
    assert ours.summary["covered_elderly"] == eld[covered].sum()
    # Presence: facilities inside each village polygon, counted one polygon at a time.
    inside = np.array([sum(poly.intersects(p) for p in facilities.geometry)
                       for poly in villages.geometry])
    assert (ours.villages["facilities_inside"].to_numpy() == inside).all()
    assert 0 < ours.summary["covered_villages"] <= 58
