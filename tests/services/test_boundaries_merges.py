"""Applied merges on the demo county: what they write, and that the next review and the
place-name check do not report problems the merge itself made."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geoservice.analysis.boundaries.checks import _split_codes
from geoservice.analysis.boundaries.merge import MergeError
from geoservice.services.accounts import cli_actor
from geoservice.services.boundaries import (
    applied_dict,
    applied_text,
    apply_merge_to_store,
    boundary_params,
    merge_params,
    run_boundaries,
)
from layers import open_store
from layers.schema import KINDS

MARKER_TYPES = ("marker_off_line", "marker_wrong_line", "duplicate_marker")
MERGED = ("511425217", "511425218")  # 白果乡 + 罗波乡 → 白罗乡 (511425217)
GK = "EPSG:4544"


def marker_findings(result) -> list[dict]:
    f = result.findings
    return [r for r in f[f["type"].isin(MARKER_TYPES)].to_dict("records")]


def test_township_merge_recodes_markers_and_the_next_review_is_clean(demo_workspace):
    store = open_store(demo_workspace)
    old_markers = store.read("boundary_markers")
    old_villages = store.read("villages")
    before = {layer: marker_findings(run_boundaries(store, boundary_params(layer)))
              for layer in ("townships", "villages")}
    result, versions = apply_merge_to_store(
        store, merge_params(",".join(MERGED), "白罗乡", None, "townships"), actor=cli_actor())
    assert result.new_code == "511425217"
    written = {v.kind: v.version for v in versions}
    assert written["townships"] == 2 and written["villages"] == 2
    assert written["boundary_markers"] == 2
    assert store.current_versions()["boundary_markers"].version == 2

    villages = store.read("villages")
    moved = {r["old_code"]: r["new_code"] for r in result.villages_recoded}
    gone = {"511425218"} | {o for o, n in moved.items() if o != n}
    for layer in ("townships", "villages"):
        after = marker_findings(run_boundaries(store, boundary_params(layer)))
        # The merge creates no marker finding: the same markers as before (the demo's own
        # defects), and none refers to a code the merge retired.
        assert sorted(f["ref"] for f in after) == sorted(f["ref"] for f in before[layer]), layer
        for f in after:
            assert not set(f["codes"]) & gone, (layer, f["message"])
            assert not any(c in f["message"] for c in gone), (layer, f["message"])

    # The markers of the former 白果乡—罗波乡 boundary now name the two villages that meet
    # there, one from each former township: check with the stored geometry.
    markers = store.read("boundary_markers").to_crs(GK)
    vm = villages.to_crs(GK).set_index("code")
    old_town = dict(zip(old_villages["code"], old_villages["township_code"], strict=True))
    new_to_old = {n: o for o, n in moved.items()}
    former = old_markers["codes"].map(lambda c: set(_split_codes(c)) == set(MERGED))
    assert former.sum() == 3
    for k in np.flatnonzero(former.to_numpy()):
        codes = _split_codes(markers["codes"].iloc[k])
        assert len(codes) == 2 and all(len(c) == 12 for c in codes)
        assert {old_town[new_to_old[c]] for c in codes} == set(MERGED)
        a, b = vm.loc[codes[0], "geometry"], vm.loc[codes[1], "geometry"]
        line = shapely.intersection(a.boundary, b.boundary)
        assert line.length > 10  # neighbours along a line, not a corner
        pt = markers.geometry.iloc[k]
        assert shapely.distance(pt, line) <= shapely.distance(
            pt, shapely.union_all(vm.geometry.boundary.to_numpy())) + 5.0
    # Markers naming one of the merged townships and another one follow the new code.
    other = old_markers["codes"].map(
        lambda c: len(set(_split_codes(c)) & set(MERGED)) == 1).to_numpy()
    expected = [",".join("511425217" if c in MERGED else c for c in _split_codes(t))
                for t in old_markers["codes"][other]]
    assert list(store.read("boundary_markers")["codes"][other]) == expected


def test_village_merge_names_and_written_layers(demo_workspace):
    from geoservice.services.placenames import placenames_params, run_placenames

    store = open_store(demo_workspace)
    before = store.current_versions()
    codes = ("511425102201", "511425102208")
    result, versions = apply_merge_to_store(
        store, merge_params(",".join(codes), "文峡村", None, "villages"), actor=cli_actor())
    v = store.read("villages").set_index("code")
    row = v.loc[result.new_code]
    # The roster's forms: the place name, and the committee of a 村 is its name + 村民委员会.
    assert row["name"] == "文峡村"
    assert row["committee_name"] == "文峡村" + "村民委员会"
    assert v["committee_name"].notna().all()
    # Each layer written is reported by its own kind, label and version.
    after = store.current_versions()
    changed = {k for k in after if before.get(k) is None or after[k].version
               != before[k].version}
    assert {v_.kind for v_ in versions} == changed
    assert "villages" in changed and len(changed) > 1  # facilities moved with the villages
    lines = applied_text(versions)
    for v_ in versions:
        assert f"{KINDS[v_.kind].label}图层写入第 {v_.version} 版" in "\n".join(lines)
    applied = applied_dict(versions)
    assert [(x["kind"], x["version"]) for x in applied["layers"]] == \
        [(v_.kind, v_.version) for v_ in versions]
    assert applied["villages"] is None or applied["villages"]["kind"] == "villages"
    assert applied["kind"] == "villages"
    # The place-name check reads the merged village's committee name, not "nan".
    pn = run_placenames(store, placenames_params())
    mine = pn.findings[pn.findings["code"] == result.new_code]
    assert not mine["note"].astype(str).str.contains("nan").any()
    assert "nonstandard_name" not in set(mine["type"])


def test_marker_between_merged_villages_is_no_longer_checked(demo_workspace):
    store = open_store(demo_workspace)
    towns = store.read("townships")
    # A marker on the line between two villages that are then merged.
    v = store.read("villages").to_crs(GK).set_index("code")
    a, b = v.loc["511425102201", "geometry"], v.loc["511425102208", "geometry"]
    line = shapely.intersection(a.boundary, b.boundary)
    assert line.length > 0
    pt = shapely.line_interpolate_point(line, 0.5, normalized=True)
    markers = store.read("boundary_markers")
    extra = gpd.GeoDataFrame({"number": ["文峡01"], "codes": ["511425102201,511425102208"]},
                             geometry=[pt], crs=GK).to_crs(markers.crs)
    store.write("boundary_markers", gpd.GeoDataFrame(
        pd.concat([markers, extra], ignore_index=True), crs=markers.crs), source="测试",
        source_crs="EPSG:4490")
    r = run_boundaries(store, boundary_params("villages"))
    assert "文峡01" not in set(r.findings["ref"].dropna())  # on its line: fine
    result, _ = apply_merge_to_store(
        store, merge_params("511425102201,511425102208", "文峡村", None, "villages"))
    stored = store.read("boundary_markers").set_index("number")
    assert stored.loc["文峡01", "codes"] == f"{result.new_code},{result.new_code}"
    r = run_boundaries(store, boundary_params("villages"))
    assert "文峡01" not in set(r.findings["ref"].dropna())
    assert len(towns) == len(store.read("townships"))


def test_merge_refuses_an_ambiguous_code(demo_workspace):
    from geoservice.errors import http_status

    store = open_store(demo_workspace)
    v = store.read("villages")
    v.loc[v["code"] == "511425102208", "code"] = "511425102201"
    store.write("villages", v, source="测试：重复代码", source_crs="EPSG:4490")
    with pytest.raises(MergeError) as info:
        apply_merge_to_store(store, merge_params("511425102201,511425102001", "合村", None,
                                                 "villages"))
    assert http_status(info.value) == 400
    assert "511425102201 被 2 个单位使用" in str(info.value) and "无法确定" in str(info.value)
    assert store.current_versions()["villages"].version == 2  # nothing written
