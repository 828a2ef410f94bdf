"""Beds per 1,000 elderly as the plans count it: every elderly-care bed (welfare homes and
elderly service points, all levels) per township and county, against the target, beside
the analysed layer's own figure; cemeteries count graves, never beds.

Expected numbers are computed here from the raw layers: each facility in the township of
the village polygon that holds it (shapely, one polygon at a time), sums with pandas.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest
from test_coverage_oracle import generated_county

from geoservice.analysis.coverage import coverage
from geoservice.analysis.settings import DEFAULTS_FILE

CARE = ("welfare_homes", "elderly_service_points")


def beds_target() -> float:
    with DEFAULTS_FILE.open("rb") as fh:
        target = tomllib.load(fh)["coverage"]["beds"]["per_1000_elderly"]
    assert target == 35  # DOMAIN.md: ≥ 35 per 1,000 elderly (Changde)
    return float(target)


def township_of(villages, geom):
    for poly, town in zip(villages.geometry, villages["township_code"], strict=True):
        if poly.covers(geom):
            return town
    return None


def expected(villages, layers: dict, column: str = "beds") -> pd.DataFrame:
    """Per township: the sum of ``column`` over the facilities of ``layers`` and, with the
    elderly of its villages, the figure per 1,000 elderly."""
    rows = [(township_of(villages, g), v) for fac in layers.values()
            for g, v in zip(fac.geometry, fac[column], strict=True)]
    df = pd.DataFrame(rows, columns=["township", "value"])
    df["value"] = pd.to_numeric(df["value"], errors="coerce").fillna(0)
    elderly = villages.groupby("township_code")["elderly_population"].sum()
    total = df.groupby("township")["value"].sum().reindex(elderly.index, fill_value=0)
    return pd.DataFrame({"total": total, "per_1000": total * 1000 / elderly,
                         "elderly": elderly})


@pytest.fixture(scope="module")
def counties():
    from geoservice.config import DEMO_WORKSPACE
    from layers import open_store

    s = open_store(DEMO_WORKSPACE)
    demo = {k: s.read(k) for k in ("villages", "townships", "cemeteries", *CARE)}
    return {"demo": demo, "generated": generated_county()}


@pytest.mark.parametrize("name", ["demo", "generated"])
@pytest.mark.parametrize("layer, level", [("elderly_service_points", "village_station"),
                                          ("elderly_service_points", None),
                                          ("welfare_homes", None)])
def test_all_care_beds_per_township_and_county(counties, name, layer, level):
    county = counties[name]
    villages = county["villages"]
    care = {k: county[k] for k in CARE}
    r = coverage(villages, county[layer], layer=layer, level=level, radius_m=3000,
                 care_facilities=care)
    target = beds_target()
    want = expected(villages, care)
    own = county[layer] if level is None else county[layer][county[layer]["level"] == level]
    want_layer = expected(villages, {layer: own})
    assert want["total"].sum() > want_layer["total"].sum() > 0  # the two figures differ

    t = r.townships.set_index("code")
    assert list(t.index) == list(want.index)
    np.testing.assert_allclose(t["care_beds"], want["total"], rtol=1e-12)
    np.testing.assert_allclose(t["care_beds_per_1000_elderly"], want["per_1000"], rtol=1e-12)
    np.testing.assert_allclose(t["beds"], want_layer["total"], rtol=1e-12)
    np.testing.assert_allclose(t["beds_per_1000_elderly"], want_layer["per_1000"], rtol=1e-12)
    assert (t["meets_beds_target"] == (want["per_1000"] >= target)).all()

    s = r.summary
    all_beds = sum(pd.to_numeric(care[k]["beds"], errors="coerce").fillna(0).sum()
                   for k in CARE)
    elderly = villages["elderly_population"].sum()
    assert s["care_beds"] == pytest.approx(all_beds, rel=1e-12)
    assert s["care_beds_per_1000_elderly"] == pytest.approx(all_beds * 1000 / elderly,
                                                            rel=1e-12)
    assert s["care_beds_by_layer"] == {
        k: pytest.approx(pd.to_numeric(care[k]["beds"], errors="coerce").fillna(0).sum())
        for k in CARE}
    assert s["beds"] == pytest.approx(want_layer["total"].sum())
    assert s["beds_target"] == target
    assert s["meets_beds_target"] is bool(all_beds * 1000 / elderly >= target)
    # every care facility of these counties lies in some village: none left unassigned
    assert s["care_beds_unassigned"] == 0 and s["care_beds_note"] is None


def test_the_target_is_judged_on_all_beds_not_on_one_layer(counties):
    """A township can pass on all its care beds while its service points alone fail."""
    county = counties["demo"]
    care = {k: county[k] for k in CARE}
    r = coverage(county["villages"], county["elderly_service_points"],
                 layer="elderly_service_points", radius_m=2000, care_facilities=care)
    t = r.townships
    passing = t[t["meets_beds_target"]]
    assert len(passing) and (passing["beds_per_1000_elderly"] < beds_target()).any()


def test_without_the_other_care_layer_the_summary_says_so(counties):
    county = counties["demo"]
    r = coverage(county["villages"], county["elderly_service_points"],
                 layer="elderly_service_points", radius_m=2000)
    s = r.summary
    points_beds = pd.to_numeric(county["elderly_service_points"]["beds"],
                                errors="coerce").fillna(0).sum()
    assert s["care_beds_layers"] == ["elderly_service_points"]
    assert s["care_beds"] == pytest.approx(points_beds)
    assert "福利院" in s["care_beds_note"] and "养老服务设施" in s["care_beds_note"]


def test_cemetery_townships_speak_of_graves(counties):
    county = counties["demo"]
    cem = county["cemeteries"]
    r = coverage(county["villages"], cem, layer="cemeteries", radius_m=10000,
                 townships=county["townships"])
    assert not [c for c in r.townships.columns if "bed" in c]
    assert not [k for k in r.summary if "bed" in k]
    cap = expected(county["villages"], {"c": cem}, "capacity_graves")["total"]
    used = expected(county["villages"], {"c": cem}, "used_graves")["total"]
    t = r.townships.set_index("code")
    assert cap.sum() > 0 and used.sum() > 0
    np.testing.assert_allclose(t["capacity_graves"], cap)
    np.testing.assert_allclose(t["used_graves"], used)
    np.testing.assert_allclose(t["remaining_graves"], (cap - used).clip(lower=0))
    assert r.summary["capacity_graves"] == pytest.approx(
        pd.to_numeric(cem["capacity_graves"], errors="coerce").fillna(0).sum())
    assert r.summary["remaining_graves"] == pytest.approx(
        r.summary["capacity_graves"] - r.summary["used_graves"])
