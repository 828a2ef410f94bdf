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
from layers.crs import STORED_CRS, gk_zone_epsg, metric_crs


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


# --- frames built from their blocks, columns read from them (issue: county scale 5x) -------

def _blocks(df: pd.DataFrame) -> list:
    return sorted((str(b.dtype), tuple(b.mgr_locs.as_array)) for b in df._mgr.blocks)


def _frame_columns(n: int) -> dict:
    rng = np.random.default_rng(n)
    text = np.array([f"t{i % 3}" for i in range(n)], dtype=object)
    with_none = text.copy()
    with_none[::2] = None
    mixed = np.array([i if i % 2 else f"s{i}" for i in range(n)], dtype=object)
    return {
        "int": np.arange(n, dtype=np.int64), "float": rng.uniform(0, 1, n),
        "int32": np.arange(n, dtype=np.int32), "bool": np.arange(n) % 2 == 0,
        "text": text, "with_none": with_none, "mixed": mixed,
        "all_none": np.full(n, None, dtype=object), "all_nan": np.full(n, np.nan, dtype=object),
        "str_array": pd.array(text, dtype=cov._text_dtype()),
        "string": pd.array(with_none, dtype="string"),
        "numpy_ea": pd.arrays.NumpyExtensionArray(np.arange(n, dtype=float)),
        "numpy_ea_text": pd.arrays.NumpyExtensionArray(text.copy()),
        "masked": pd.array(np.arange(n), dtype="Int64"),
        "index": pd.Index(text), "int_index": pd.Index(np.arange(n)),
        "dates": np.arange(n).astype("datetime64[D]"),
        "unicode": np.array([f"u{i}" for i in range(n)]),
        "geometry": from_shapely_points(n),
        "float_after": np.full(n, 2.5),
    }


def from_shapely_points(n: int):
    from geopandas.array import from_shapely
    return from_shapely(np.array([shapely.Point(i, i) for i in range(n)], dtype=object),
                        crs=STORED_CRS)


def _arrays_of(df: pd.DataFrame) -> list:
    out = []
    for b in df._mgr.blocks:
        v = b.values
        out.append(getattr(v, "_ndarray", getattr(v, "_data", v)))
    return out


def _shares(columns: dict, df: pd.DataFrame) -> list[str]:
    """The input columns whose memory the frame's blocks share."""
    names = []
    for k, v in columns.items():
        raw = v._values if isinstance(v, pd.Index) else v
        raw = getattr(raw, "_ndarray", getattr(raw, "_data", raw))
        if any(a is raw or (isinstance(a, np.ndarray) and np.shares_memory(a, raw))
               for a in _arrays_of(df)):
            names.append(k)
    return names


@pytest.mark.parametrize("n", [0, 1, 6])
@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("index", [None, "range", "labels"])
def test_frame_equals_the_dataframe_constructor(n, copy, index):
    cols = _frame_columns(n)
    idx = {None: None, "range": pd.RangeIndex(3, 3 + n),
           "labels": pd.Index([f"r{i}" for i in range(n)])}[index]
    got = cov._frame(dict(cols), index=idx, copy=copy)
    ref = pd.DataFrame(dict(cols), index=idx, copy=copy)
    assert type(got) is pd.DataFrame
    assert_frame_equal(got, ref, check_exact=True, check_index_type=True,
                       check_column_type=True, check_flags=True)
    assert list(got.dtypes.astype(str)) == list(ref.dtypes.astype(str))
    assert type(got.index) is type(ref.index) and type(got.columns) is type(ref.columns)
    assert got.columns.dtype == ref.columns.dtype
    assert _blocks(got) == _blocks(ref)
    assert _shares(cols, got) == _shares(cols, ref)
    for c in cols:
        assert [type(x) for x in got[c].tolist()] == [type(x) for x in ref[c].tolist()]


def test_frame_columns_are_a_new_index_each_time():
    a = cov._frame({"x": np.arange(3)})
    b = cov._frame({"x": np.arange(3)})
    assert a.columns is not b.columns and not a.columns.is_(b.columns)
    a.columns.name = "renamed"
    assert b.columns.name is None and cov._frame({"x": np.arange(3)}).columns.name is None


@pytest.mark.parametrize("columns", [
    {}, {0: np.arange(3)}, {"a": np.arange(3), "b": np.arange(4)}, {"a": [1, 2, 3]},
    {"a": np.zeros((3, 2))},
])
def test_frame_leaves_the_unusual_to_the_constructor(columns):
    try:
        ref = pd.DataFrame(dict(columns))
    except ValueError as e:
        with pytest.raises(ValueError, match=str(e)[:20]):
            cov._frame(dict(columns))
        return
    assert_frame_equal(cov._frame(dict(columns)), ref, check_exact=True)


def _read_frame() -> gpd.GeoDataFrame:
    n = 5
    return gpd.GeoDataFrame({
        "text": pd.array(["a", "b", "c", "d", "e"], dtype=cov._text_dtype()),
        "text_nan": pd.array(["a", None, "c", "d", "e"], dtype=cov._text_dtype()),
        "string": pd.array(["a", None, "c", "d", "e"], dtype="string"),
        "obj": np.array(["a", 1, None, 2.5, "e"], dtype=object),
        "int": np.arange(n), "float": [1.5, np.nan, np.inf, 0.0, -2.0],
        "masked": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        "masked_float": pd.array([1.5, None, 3, 4, 5], dtype="Float64"),
        "bool": [True, False, True, True, False],
        "dates": pd.date_range("2020-01-01", periods=n),
        "tz": pd.date_range("2020-01-01", periods=n, tz="Asia/Shanghai"),
        "text_numbers": ["1", "x", None, "4.5", "5"],
    }, geometry=[shapely.Point(104 + i / 10, 30) for i in range(n)], crs=STORED_CRS)


def test_columns_read_from_the_blocks_equal_the_series_ways():
    gdf = _read_frame()
    for name in gdf.columns:
        ref = gdf[name]
        got = cov._stored(gdf, name)
        assert got is ref.array or np.array_equal(np.asarray(got), ref.to_numpy(),
                                                  equal_nan=ref.dtype.kind == "f")
        numpy = cov._numpy_column(gdf, name)
        expect = ref.to_numpy()
        assert numpy.dtype == expect.dtype and numpy.flags.writeable == expect.flags.writeable
        assert [repr(x) for x in numpy] == [repr(x) for x in expect]
        col = cov._column(gdf, name)
        old = ref.array if len(ref) and ref.dtype == cov._text_dtype() and not ref.hasnans \
            else ref.to_numpy()
        assert type(col) is type(old)
        assert [repr(x) for x in np.asarray(col)] == [repr(x) for x in np.asarray(old)]
        if name != "geometry":
            got_n = cov._number_column(gdf, name)
            ref_n = pd.to_numeric(ref, errors="coerce").fillna(0).to_numpy(dtype=float)
            assert got_n.dtype == ref_n.dtype and np.array_equal(got_n, ref_n)
            assert got_n.flags.writeable == cov._numbers(ref).flags.writeable
    assert cov._geometry_values(gdf) is gdf.geometry.array
    assert cov._geoms(gdf).tolist() == list(gdf.geometry)
    assert cov._geometry_values(gdf.geometry) is None
    renamed = gdf.rename_geometry("shape")
    assert cov._geometry_values(renamed) is renamed.geometry.array


def test_a_column_name_several_columns_share_is_read_the_series_way():
    gdf = _read_frame()
    twice = pd.concat([gdf, gdf[["int", "text"]]], axis=1)
    assert isinstance(cov._stored(twice, "int"), pd.DataFrame)
    assert np.array_equal(cov._numpy_column(twice, "int"), twice["int"].to_numpy())
    with pytest.raises(AttributeError):
        cov._column(twice, "text")  # what ``frame[name].dtype`` raised
    with pytest.raises(KeyError):
        cov._stored(gdf, "missing")


@pytest.mark.parametrize("values", [
    pd.array(["t2", "t1", None, "t2", "t10"], dtype=cov._text_dtype()),
    pd.array(["t2", "t1", "t3"], dtype=cov._text_dtype()),
    pd.array([], dtype=cov._text_dtype()),
    pd.array([None, None], dtype=cov._text_dtype()),
    pd.array(["b", None, "a"], dtype="string"),
    np.array(["b", None, "a"], dtype=object),
    np.array([3, 1, 2, 1]),
])
def test_factorize_sorted_equals_factorize_of_the_series(values):
    frame = pd.DataFrame({"x": values})
    codes, uniques = cov._factorize_sorted(frame, "x")
    ref_codes, ref_uniques = pd.factorize(frame["x"], sort=True)
    assert codes.dtype == ref_codes.dtype and np.array_equal(codes, ref_codes)
    pd.testing.assert_index_equal(uniques, ref_uniques, exact=True)


@pytest.mark.parametrize("names, idx", [
    (["甲", "乙", "丙"], [0, 2, 2, 1]),
    (["甲", None, "丙"], [0, 1, 2]),        # a missing name: the general way
    (["甲", "乙"], []),                      # no village
    ([], [-1, -1]),                          # no facility
    (["甲", "乙"], [0, 2]),                  # past the end (query's "none found")
])
def test_nearest_names_equal_the_general_formulation(names, idx):
    fac = pd.DataFrame({"name": pd.array(names, dtype=cov._text_dtype())
                        if names else np.array([], dtype=object)})
    idx = np.asarray(idx, dtype=np.intp)
    fac_names = fac["name"].to_numpy()

    def general():
        return np.where(idx >= 0, fac_names[np.clip(idx, 0, None)] if len(fac) else None,
                        None)

    try:
        ref = pd.Series(general())
    except IndexError:
        with pytest.raises(IndexError):
            cov._nearest_names(fac, idx)
        return
    got = pd.Series(cov._nearest_names(fac, idx))
    pd.testing.assert_series_equal(got, ref, check_exact=True)


@pytest.mark.parametrize("seed", range(40))
def test_nearest_from_the_pairs_equals_the_query(seed):
    """Where the pairs within the radius settle a point's nearest facility (one pair at
    the least distance), the index and the distance are the query's to the last bit; a
    tie or a point without pairs is left to the query."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 300)), int(rng.integers(1, 150))
    kind = seed % 4
    if kind == 0:
        dxy, sxy = rng.uniform(0, 2e4, (n, 2)) + 4e5, rng.uniform(0, 2e4, (m, 2)) + 4e5
    elif kind == 1:  # a grid: exact ties everywhere
        dxy = rng.integers(0, 20, (n, 2)) * 100.0
        sxy = rng.integers(0, 20, (m, 2)) * 100.0
    elif kind == 2:  # facilities at the same place
        sxy = rng.uniform(0, 1e4, (m, 2))
        sxy = np.concatenate([sxy, sxy[: m // 2 + 1]])
        dxy = rng.uniform(0, 1e4, (n, 2))
    else:  # metre coordinates with tiny offsets (roots that round alike)
        dxy = 3.3e6 + rng.integers(0, 5, (n, 2)) * 0.1
        sxy = 3.3e6 + rng.integers(0, 5, (m, 2)) * 0.1 + 1e-9
    radius = float(rng.choice([0.25, 50.0, 300.0, 1500.0, 5000.0]))
    tree = cKDTree(sxy)
    got = cov._nearest(dxy, tree, cov._pairs(dxy, tree, len(sxy), radius))
    ref = tree.query(dxy, k=1)
    for g, r in zip(got, ref, strict=True):
        assert g.dtype == r.dtype and np.array_equal(g, r)


def test_metric_crs_equals_the_zone_of_the_total_bounds():
    boxes = [shapely.box(101.6 + i, 30, 101.7 + i, 30.1) for i in range(4)]
    for geoms in (boxes, boxes + [None, shapely.Polygon()], [None, boxes[0]]):
        geoms = np.array(geoms, dtype=object)
        minx, _, maxx, _ = shapely.total_bounds(geoms)
        assert cov._metric_crs(geoms) == f"EPSG:{gk_zone_epsg((minx + maxx) / 2)}"
        assert cov._metric_crs(geoms) == metric_crs(
            gpd.GeoDataFrame(geometry=list(geoms), crs=STORED_CRS))
    with pytest.raises(ValueError):  # nothing but empty geometries: no zone, as before
        gk_zone_epsg(np.nan)
    with pytest.raises(ValueError):
        cov._metric_crs(np.array([shapely.Polygon(), None], dtype=object))


def _uncovered_by_categorical(out, covered, eld):
    """The uncovered villages ranked by a Categorical of their codes (the formulation
    before the codes were factorised directly)."""
    rows = np.flatnonzero(~covered)
    code = pd.Categorical(out["code"].array.take(rows), ordered=True)
    code_rank = code.codes.astype(np.int64)
    code_rank[code_rank < 0] = len(code.categories)
    rows = rows[np.lexsort((code_rank, -eld[rows]))]
    return pd.DataFrame({c: out[c].array.take(rows) for c in cov._UNCOVERED},
                        index=out.index.take(rows))


@pytest.mark.parametrize("codes", [
    np.array(["b", 1, "c", "a", 1, None], dtype=object),       # mixed: sorted the mixed way
    np.array([5, 3, 9, 3, 1, 2]),                               # integers
    np.array([5.0, np.nan, 9.0, 3.0, 1.0, 2.0]),                # floats, one missing
    pd.array(["b", "a", None, "a", "c", "d"], dtype=cov._text_dtype()),
    pd.array(["b", "a", None, "a", "c", "d"], dtype="string"),
])
def test_uncovered_ranks_codes_as_the_categorical_did(codes):
    out = _frame(["x"] * 6, [5, 5, 9, 5, 5, 0], [0, 0, 0, 0, 0, 1])
    out["code"] = codes
    args = (out, out["covered"].to_numpy(), out["elderly_population"].to_numpy())
    assert_frame_equal(cov._uncovered(*args), _uncovered_by_categorical(*args),
                       check_exact=True, check_index_type=True)
