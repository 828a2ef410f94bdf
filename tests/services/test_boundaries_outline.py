"""The county outline of a boundary review: a file of several features is refused unless one
is chosen (their union would count the neighbouring counties as gaps); one feature of
several parts is a county with an exclave and is used as it is. Gap areas are checked
against shapely on the same files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geoservice.analysis.boundaries import review
from geoservice.analysis.errors import InvalidInput
from geoservice.errors import BadParameter
from geoservice.services.boundaries import boundary_params, read_outline, run_boundaries
from layers import open_store
from layers.crs import gk_zone_epsg

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"
MEISHAN = DATA / "meishan_counties.geojson"
ZHUSHAN = DATA.parent / "second_county" / "zhushan_outline.geojson"
DROPPED = "511425218"  # 罗波乡: left out of the townships, so the outline has a real gap


def counties(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path).set_crs("EPSG:4490", allow_override=True)


def gk_of(gdf: gpd.GeoDataFrame) -> str:
    minx, _, maxx, _ = gdf.total_bounds
    return f"EPSG:{gk_zone_epsg((minx + maxx) / 2)}"


@pytest.fixture(scope="module")
def without_luobo(module_demo_workspace):
    """The demo county with a townships version lacking 罗波乡 (written directly)."""
    store = open_store(module_demo_workspace)
    towns = store.read("townships")
    store.write("townships", towns[towns["code"] != DROPPED].reset_index(drop=True),
                source="测试：缺一个乡镇", source_crs="EPSG:4490")
    return module_demo_workspace


def test_several_features_are_refused_with_the_features_listed():
    m = counties(MEISHAN)
    areas = m.to_crs(gk_of(m)).area / 1e6
    with pytest.raises(BadParameter) as info:
        read_outline(str(MEISHAN), filename="meishan_counties.geojson")
    text = str(info.value)
    assert "“meishan_counties.geojson”包含 6 个面要素" in text and "--outline-feature" in text
    for code, name, km2 in zip(m["code"], m["name"], areas, strict=True):
        assert f"{name}（{code}），{km2:,.1f} 平方千米" in text
    with pytest.raises(BadParameter, match="“511499”在县界文件.*没有对应的要素.*青神县（511425）"):
        read_outline(str(MEISHAN), "511499", filename="meishan_counties.geojson")
    # The analysis itself refuses a frame of several features too.
    with pytest.raises(InvalidInput, match="县界应为一个要素"):
        review(m.iloc[[5]], layer="townships", outline=m)


def test_chosen_county_gives_the_gap_shapely_gives(without_luobo):
    store = open_store(without_luobo)
    by_code = read_outline(str(MEISHAN), "511425")
    by_name = read_outline(str(MEISHAN), "青神县")
    assert by_code.label.endswith("青神县（511425）") and by_code.note is None
    assert by_code.frame.geometry.iloc[0].equals(by_name.frame.geometry.iloc[0])
    r = run_boundaries(store, boundary_params("townships"), by_code)
    assert r.summary["inputs"]["outline"] == by_code.label
    # Truth: the county minus the union of the townships, in the same GK zone.
    towns = store.read("townships")
    gk = gk_of(towns)
    county = counties(MEISHAN)
    county = county[county["code"] == "511425"].to_crs(gk).geometry.iloc[0]
    truth = shapely.difference(county, shapely.union_all(towns.to_crs(gk).geometry.to_numpy()))
    luobo = open_store(without_luobo).read("townships", version=1)
    luobo = luobo[luobo["code"] == DROPPED].to_crs(gk).geometry.iloc[0]
    assert truth.area == pytest.approx(luobo.area, rel=1e-6)  # the township left out
    found = r.summary["gap_area_m2"] + r.summary["ignored"]["gap_area_m2"]
    # The review unions on a 1 mm grid (checks.GRID_M): at most the gap's perimeter × 1 mm.
    assert found == pytest.approx(truth.area, abs=truth.length * 1e-3)
    assert 30e6 < found < 80e6  # tens of km², not the thousands a union would give
    union = shapely.union_all(counties(MEISHAN).to_crs(gk).geometry.to_numpy())
    assert shapely.difference(union, county).area > 5e9


def test_one_feature_of_two_parts_is_one_county():
    o = read_outline(str(ZHUSHAN), filename="zhushan_outline.geojson")
    z = counties(ZHUSHAN)
    gk = gk_of(z)
    parts = sorted((p.area / 1e6 for p in shapely.get_parts(z.to_crs(gk).geometry.iloc[0])),
                   reverse=True)
    assert len(parts) == 2
    assert o.parts == pytest.approx(parts)
    assert "由 2 个不相连的部分组成" in o.note
    assert f"{parts[0]:,.2f}、{parts[1]:,.2f} 平方千米" in o.note
    assert o.label == "zhushan_outline.geojson：竹山县（420323）"
    # A township layer covering the main part only: the exclave is the gap.
    main = max(shapely.get_parts(z.geometry.iloc[0]), key=lambda p: p.area)
    units = gpd.GeoDataFrame({"code": ["420323100"], "name": ["主体镇"]}, geometry=[main],
                             crs="EPSG:4490")
    r = review(units, layer="townships", outline=o.frame)
    gaps = r.findings[r.findings["type"].isin(["gap", "sliver"])]
    # The outline's own 2 holes (land of another county) are holes of the units too, and
    # no gap: the one gap is the exclave.
    assert shapely.get_num_interior_rings(main) == 2
    assert len(gaps) == 1
    assert gaps["area_m2"].iloc[0] == pytest.approx(parts[1] * 1e6, rel=1e-6)
