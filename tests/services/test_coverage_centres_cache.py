"""The villages' metre centres are computed once per villages version by the app's layer
cache, and a coverage run with the kept centres gives the same result as without."""

from __future__ import annotations

import pandas as pd

from geoservice.analysis.coverage import coverage, metre_centres
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.workspace import CachedLayerStore
from layers import open_store


def test_kept_centres_give_the_same_result(demo_workspace):
    store = open_store(demo_workspace)
    villages = store.read("villages")
    points = store.read("elderly_service_points")
    plain = coverage(villages, points, layer="elderly_service_points", radius_m=2000)
    kept = coverage(villages, points, layer="elderly_service_points", radius_m=2000,
                    centres=metre_centres(villages))
    pd.testing.assert_frame_equal(pd.DataFrame(plain.villages), pd.DataFrame(kept.villages))
    assert plain.summary == kept.summary


def test_centres_are_computed_once_per_villages_version(demo_workspace, monkeypatch):
    import geoservice.services.coverage as svc

    calls = []
    real = svc.metre_centres
    monkeypatch.setattr(svc, "metre_centres", lambda v: calls.append(len(v)) or real(v))
    store = CachedLayerStore(open_store(demo_workspace), max_bytes=256 * 1024 * 1024)
    p = coverage_params(layer="elderly_service_points")
    first = run_coverage(store, p)
    second = run_coverage(store, coverage_params(layer="welfare_homes"))
    third = run_coverage(store, p)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(pd.DataFrame(first.villages), pd.DataFrame(third.villages))
    assert second.summary["layer"] == "welfare_homes"
    # a new villages version is a new key: computed again
    store.write("villages", store.read("villages"), source="again", source_crs="EPSG:4490")
    run_coverage(store, p)
    assert len(calls) == 2
