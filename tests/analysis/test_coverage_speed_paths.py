"""The fast paths of the coverage analysis give what the general formulation gives: the
same values, dtypes, index and order (issue 19: the whole analysis at county scale)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from geoservice.analysis import coverage as cov
from layers.crs import STORED_CRS, metric_crs


def _sparse_g2sfca(dxy, demand, sxy, supply, d0):
    """G2SFCA by scipy.sparse matrix products, the general formulation."""
    n, m = len(dxy), len(sxy)
    pairs = cKDTree(dxy).sparse_distance_matrix(cKDTree(sxy), d0, output_type="ndarray")
    g = sparse.csr_matrix((cov.gaussian_weight(pairs["v"], d0), (pairs["i"], pairs["j"])),
                          shape=(n, m))
    reach = g.T @ demand
    ratio = np.divide(supply, reach, out=np.zeros(m), where=reach > 0)
    return g @ ratio, ratio


@pytest.mark.parametrize("seed", range(12))
def test_g2sfca_equals_the_sparse_matrix_products_to_the_last_bit(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 800)), int(rng.integers(1, 300))
    side = rng.uniform(2e3, 5e4)
    dxy = rng.uniform(0, side, (n, 2)) + 4e5
    sxy = rng.uniform(0, side, (m, 2)) + 4e5
    demand = rng.integers(0, 2000, n).astype(float)
    supply = rng.integers(0, 80, m).astype(float)
    d0 = float(rng.uniform(300, 8000))
    access, ratio = cov.g2sfca(dxy, demand, sxy, supply, d0)
    ref_access, ref_ratio = _sparse_g2sfca(dxy, demand, sxy, supply, d0)
    assert access.dtype == ref_access.dtype == float
    assert np.array_equal(access, ref_access) and np.array_equal(ratio, ref_ratio)
    tree_access, tree_ratio = cov.g2sfca(dxy, demand, sxy, supply, d0,
                                         supply_tree=cKDTree(sxy))
    assert np.array_equal(tree_access, access) and np.array_equal(tree_ratio, ratio)


def test_g2sfca_with_nobody_in_reach_gives_float_zeros():
    access, ratio = cov.g2sfca(np.array([[0.0, 0.0]]), np.array([10.0]),
                               np.array([[1e6, 1e6]]), np.array([5.0]), 1000.0)
    assert access.dtype == float and ratio.dtype == float
    assert access.tolist() == [0.0] and ratio.tolist() == [0.0]


def _code_text_general(values) -> np.ndarray:
    col = pd.Series(np.asarray(values, dtype=object), dtype=object)
    given = col.notna().to_numpy()
    out = np.full(len(col), None, dtype=object)
    if given.any():
        text = col[given].astype(str).str.strip().str.replace(r"^(\d+)\.0$", r"\1",
                                                              regex=True)
        out[given] = np.where(text.to_numpy() == "", None, text.to_numpy())
    return out


@pytest.mark.parametrize("values", [
    ["511425001001", "511425001002", "A12b"],                 # plain: the fast path
    pd.Series(["511425001001", "511425001002"], dtype="str").to_numpy(),
    ["511425001001", None, "511425001002"],                   # missing
    [" 511425001001 ", "511425001002"],                       # spaces
    ["511425001001.0", "1.5", ""],                            # float text, empty
    [511425001001, 511425001002.0, np.nan],                   # numbers
    ["村一", "511425001002"],                                  # not ASCII
    ["５１１", "511"],                                         # full-width digits
    [np.str_("511425001001"), "511425001002"],                # a str subclass
    [],
])
def test_code_text_fast_path_equals_the_general_one(values):
    got, ref = cov._code_text(values), _code_text_general(values)
    assert got.dtype == ref.dtype == object
    assert got.tolist() == ref.tolist()
    assert [type(x) for x in got] == [type(x) for x in ref]


def test_plain_codes_are_only_nonempty_ascii_letters_and_digits():
    assert cov._plain_codes(np.array(["12", "ab3"], dtype=object))
    for values in (["12", ""], ["12", " 3"], ["1.0"], ["１"], ["12", None], [12], []):
        assert not cov._plain_codes(np.array(values, dtype=object))


@pytest.mark.parametrize("col", [
    pd.Series([1, 2, 3], dtype="int64"),
    pd.Series([1.5, np.nan, np.inf], dtype="float64"),
    pd.Series([1, pd.NA, 3], dtype="Int64"),
    pd.Series([1.5, pd.NA], dtype="Float64"),
    pd.Series(["1", "x", None], dtype=object),
    pd.Series([True, False]),
    pd.Series([], dtype="int64"),
])
def test_numbers_equal_to_numeric_fillna(col):
    got = cov._numbers(col)
    ref = pd.to_numeric(col, errors="coerce").fillna(0).to_numpy(dtype=float)
    assert got.dtype == ref.dtype and np.array_equal(got, ref)


def _columns(n: int, geoms) -> dict:
    return {"code": np.array([f"c{i}" for i in range(n)], dtype=object),
            "count": np.arange(n), "share": np.linspace(0, 1, n), "flag": np.arange(n) % 2 == 0,
            "maybe": np.array([None if i % 3 else f"m{i}" for i in range(n)], dtype=object),
            "geometry": geoms, "after": np.full(n, 2.5)}


@pytest.mark.parametrize("n", [0, 1, 7])
def test_geoframe_equals_the_geodataframe_constructor(n):
    geoms = np.array([shapely.Point(104 + i / 100, 30) for i in range(n)], dtype=object)
    cols = _columns(n, geoms)
    got = cov._geoframe(dict(cols))
    plain = {k: v for k, v in cols.items() if k not in ("geometry", "after")}
    ref = gpd.GeoDataFrame(plain, geometry=geoms, crs=STORED_CRS)
    ref["after"] = cols["after"]
    assert type(got) is gpd.GeoDataFrame and got.geometry.name == "geometry"
    assert got.crs == ref.crs
    assert_geodataframe_equal(got, ref, check_dtype=True, check_index_type=True,
                              check_column_type=True, check_crs=True)
    assert list(got.dtypes.astype(str)) == list(ref.dtypes.astype(str))
    assert type(got.index) is type(ref.index)


def _frame(codes, eld, covered) -> gpd.GeoDataFrame:
    n = len(codes)
    return gpd.GeoDataFrame({
        "code": np.array(codes, dtype=object), "name": [f"村{i}" for i in range(n)],
        "township_code": ["t1"] * n, "elderly_population": np.asarray(eld, dtype=np.int64),
        "population": np.arange(n, dtype=np.int64) * 10, "nearest_m": np.linspace(0, 9e3, n),
        "covered": np.asarray(covered, dtype=bool),
    }, geometry=[shapely.Point(104, 30)] * n, crs=STORED_CRS)


@pytest.mark.parametrize("codes, eld, covered", [
    (["b", "a", "c", "a", None, "d"], [5, 5, 9, 5, 5, 0], [0, 0, 0, 0, 0, 1]),  # ties, repeats
    (["b", "a", "c"], [1, 2, 3], [1, 1, 1]),                                    # none uncovered
    (["b", "a", "c", "e"], [1, 2, 3, 4], [0, 1, 0, 1]),                         # every other
    (["x"], [3], [0]),
    ([None, None, "a"], [1, 1, 1], [0, 0, 0]),
])
def test_uncovered_equals_loc_and_sort_values(codes, eld, covered):
    out = _frame(codes, eld, covered)
    got = cov._uncovered(out, out["covered"].to_numpy(), out["elderly_population"].to_numpy())
    ref = pd.DataFrame(out.loc[~out["covered"], cov._UNCOVERED].sort_values(
        ["elderly_population", "code"], ascending=[False, True]))
    assert_frame_equal(got, ref, check_exact=True, check_index_type=True)
    assert type(got.index) is type(ref.index)


@pytest.mark.parametrize("names", [
    {}, {"t1": "甲镇", "t2": "乙镇"}, {"t1": "甲镇"}, {"t1": "甲镇", "t2": None},
])
@pytest.mark.parametrize("codes", [
    pd.Index(["t1", "t2"], dtype="str"), pd.Index([], dtype="str"), pd.Index([1, 2]),
])
def test_township_names_equal_series_map(codes, names):
    got = pd.Series(cov._township_names(codes, names))
    ref = pd.Series(pd.Series(codes).map(names).array)
    pd.testing.assert_series_equal(got, ref, check_exact=True)


def test_stored_geometries_are_those_of_to_crs_in_any_crs():
    geoms = [shapely.box(104, 30, 104.01, 30.01), shapely.box(104.02, 30, 104.03, 30.01)]
    stored = gpd.GeoDataFrame({"a": [1, 2]}, geometry=geoms, crs=STORED_CRS)
    for gdf in (stored, stored.to_crs("EPSG:4545"), stored.to_crs("EPSG:4326"),
                stored.set_crs(stored.crs.to_wkt(), allow_override=True)):
        got = cov._stored_geoms(gdf)
        ref = np.asarray(gdf.to_crs(STORED_CRS).geometry.array, dtype=object)
        assert all(shapely.equals_exact(got, ref, 0))
    assert cov._metric_crs(cov._geoms(stored)) == metric_crs(stored)


def test_usable_facilities_keep_the_frame_when_nothing_is_dropped():
    pts = gpd.GeoDataFrame({"name": ["a", "b", "c"]},
                           geometry=[shapely.Point(104, 30), None, shapely.Point()],
                           crs=STORED_CRS)
    fac, geoms = cov._usable(pts)
    assert fac["name"].tolist() == ["a"] and fac.index.tolist() == [0] and len(geoms) == 1
    whole = pts.iloc[[0]]
    fac, geoms = cov._usable(whole)
    assert fac is whole and geoms[0] is whole.geometry.array[0]
    fac, _ = cov._usable(pts.to_crs("EPSG:4545"))
    assert fac.crs == STORED_CRS and fac["name"].tolist() == ["a"]


def test_villages_positions_and_repeated_codes_equal_the_pandas_formulation():
    vill = gpd.GeoDataFrame({
        "code": ["a", "b", "a", None, "c", "b", "a"], "name": list("1234567"),
        "township_code": ["t"] * 7}, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(7)],
        crs=STORED_CRS)
    places = cov._Villages(vill)
    codes = pd.Series(places.codes)
    first = ~codes.duplicated() & codes.notna()
    assert places.position == dict(zip(codes[first], np.flatnonzero(first), strict=True))
    counts = codes.dropna().value_counts()
    assert places.duplicated == set(counts.index[counts > 1])
    assert places.names.tolist() == list("1234567")


def test_centres_tested_by_coordinates_equal_the_point_test():
    """A concave village (centroid outside) and a plain one: the centre found with
    ``contains_xy`` is the one ``contains`` finds."""
    c_shape = Polygon([(0, 0), (300, 0), (300, 60), (60, 60), (60, 240), (300, 240),
                       (300, 300), (0, 300)])
    square = shapely.box(1000, 0, 1300, 300)
    gk = "EPSG:4545"
    metric = gpd.GeoSeries([c_shape, square], crs=gk).translate(500000, 3300000)
    vill = gpd.GeoDataFrame({"code": ["1", "2"]}, geometry=metric.to_crs(STORED_CRS))
    xy, _ = cov._centres_xy(vill, cov._geoms(vill), gk)
    projected = shapely.transform(cov._geoms(vill), cov._transform(STORED_CRS, gk))
    points = shapely.centroid(projected)
    outside = ~shapely.contains(projected, points)
    assert outside.tolist() == [True, False]
    points[outside] = shapely.point_on_surface(projected[outside])
    assert np.array_equal(xy, shapely.get_coordinates(points))
