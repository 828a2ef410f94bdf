"""The vectorised validation gives exactly the problems (messages, order, rows, fields) and
values of the row-by-row checks it replaced, on inputs with many mixed defects.

``_RowReader`` is the reader with the row loops: the conversion kept in ``readers.py`` as
``_Reader._convert_rows`` and the geometry and code-nesting loops copied here as they were,
brought up to issue 12 (code defects, duplicates, villages outside their township and
repairable polygons of villages and townships are warnings, not problems): problems and
warnings are both compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from layers import readers
from layers.errors import ValidationError
from layers.schema import KINDS, get_kind


class _RowReader(readers._Reader):
    def _convert(self, col, f):
        return self._convert_rows(col, f)

    def _check_geometry(self, gdf):
        want = self.kind.geometry
        for idx, g in enumerate(gdf.geometry.values):
            if g is None or g.is_empty:
                if idx not in self.coord_problem_rows:
                    self.add(idx, readers.GEOMETRY_LABEL, "几何为空")
                continue
            if g.geom_type not in want:
                self.add(idx, readers.GEOMETRY_LABEL,
                         f"几何类型为 {g.geom_type}，{self.kind.label}图层应为{self.kind.geometry_label}")
                continue
            if not g.is_valid:
                reason = shapely.is_valid_reason(g)
                if self.kind.name in ("villages", "townships"):
                    self.invalid_rows.append((idx, reason))
                else:
                    self.add(idx, readers.GEOMETRY_LABEL,
                             f"几何无效：{readers.validity_reason_zh(reason)}")

    def _check_codes(self, gdf):
        if "code" not in self.kind.field_names or "code" not in gdf.columns:
            return
        label, codes = self.kind.field("code").label, gdf["code"]
        seen: dict[str, int] = {}
        for code in codes:
            if code is not None:
                seen[code] = seen.get(code, 0) + 1
        for idx, code in enumerate(codes):
            if code is not None and seen[code] > 1:
                self.warn(idx, label, f"{label}重复", code)
        if self.kind.name != "villages" or "township_code" not in gdf.columns:
            return
        for idx, (code, parent) in enumerate(zip(codes, gdf["township_code"], strict=True)):
            if (isinstance(code, str) and isinstance(parent, str) and len(code) == 12
                    and code.isascii() and code.isdigit() and len(parent) == 9
                    and parent.isascii() and parent.isdigit() and code[:9] != parent):
                self.warn(idx, label, f"{label}前 9 位与所属乡镇代码不同",
                          f"{code}，所属乡镇代码 {parent}")


def _problems(cls, path, kind):
    """(problems, warnings, the layer or None), as tuples."""
    reader = cls(path, path.name, get_kind(kind), None, readers.DEFAULT_LIMITS)
    try:
        out = reader.run()
    except ValidationError as exc:
        return [(p.file, p.row, p.field, p.message, p.unit) for p in exc.problems], \
            sorted((p.file, p.row, p.field, p.message, p.unit, p.value)
                   for p in reader.warnings), None
    return [], [(p.file, p.row, p.field, p.message, p.unit, p.value)
                for p in out.attrs["warnings"]], out


MESSY_TEXT = ["", " ", "12", " 12 ", "1,200", "-3", "3.5", "35.0", "1e3", "abc", "inf", "nan",
              "1_000", "٣", "+7", ".5", "5.", "1e999", "是", "否", "Y", "no", "√", "×", "maybe",
              "511425102201", "511425102201.0", "51142510220", "５１１４２５１０２２０１",
              "511425101201", "a11425102201", "养老机构", "nursing_home", "welfare_home",
              "  长寿村 ", "9" * 25, "-0", "0.0", "1,2,3", None, np.nan]


def _column(rng, n):
    return [MESSY_TEXT[i] for i in rng.integers(0, len(MESSY_TEXT), n)]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_field_converts_like_the_row_path(kind):
    rng = np.random.default_rng(19)
    lk = get_kind(kind)
    columns = {
        "object": lambda v: pd.Series(v, dtype=object),
        "str": lambda v: pd.Series([x if isinstance(x, str) else np.nan for x in v], dtype="str"),
        "float": lambda v: pd.Series(rng.choice([1.0, 2.5, -1.0, np.nan, 1200.0, 3e20, 0.1 + 0.2],
                                                len(v))),
        "float32": lambda v: pd.Series(rng.choice([1.0, 2.5, -1.0, np.nan], len(v)),
                                       dtype="float32"),
        "string_na": lambda v: pd.Series([x if isinstance(x, str) else None for x in v],
                                         dtype="string"),
        "Int64": lambda v: pd.Series(rng.choice([1, 2, None, -4], len(v)), dtype="Int64"),
        "uint8": lambda v: pd.Series(rng.integers(0, 255, len(v)), dtype="uint8"),
        "int": lambda v: pd.Series(rng.integers(-5, 5000, len(v)), dtype="int32"),
        "bool": lambda v: pd.Series(rng.integers(0, 2, len(v)).astype(bool)),
        "mixed": lambda v: pd.Series([3, 4.0, "5", None, True, " x "] * (len(v) // 6),
                                     dtype=object),
    }
    for f in lk.fields:
        for make in columns.values():
            col = make(_column(rng, 300))
            new = readers._Reader(readers.Path("x.csv"), "x.csv", lk, None)
            old = readers._Reader(readers.Path("x.csv"), "x.csv", lk, None)
            got, want = new._convert(col, f), old._convert_rows(col, f)
            assert new.problems == old.problems
            assert new.warnings == old.warnings
            pd.testing.assert_series_equal(got, want)


def test_a_number_too_large_for_an_integer_field_is_a_problem_not_a_crash():
    lk = readers.get_kind("villages")
    f = lk.field("population")
    for col in (pd.Series(["9" * 25, "12"], dtype=object), pd.Series([1e25, 12.0])):
        r = readers._Reader(readers.Path("x.csv"), "x.csv", lk, None)
        got = r._convert(col, f)
        assert got.isna().tolist() == [True, False] and int(got.iloc[1]) == 12
        assert len(r.problems) == 1 and "超出整数的可用范围" in r.problems[0].message


@pytest.fixture
def messy_villages(tmp_path):
    rng = np.random.default_rng(2024)
    n = 600
    geoms = []
    for i in range(n):
        x, y = 103.8 + (i % 30) * 0.01, 29.8 + (i // 30) * 0.01
        roll = rng.random()
        if roll < 0.05:
            geoms.append(None)
        elif roll < 0.08:
            geoms.append(Polygon())
        elif roll < 0.12:
            geoms.append(Point(x, y))
        elif roll < 0.14:
            geoms.append(LineString([(x, y), (x + 0.001, y)]))
        elif roll < 0.20:  # a bow tie
            geoms.append(Polygon([(x, y), (x + .005, y + .005), (x + .005, y), (x, y + .005)]))
        elif roll < 0.23:  # outside China
            geoms.append(box(x + 60, y, x + 60.005, y + .005))
        elif roll < 0.25:  # swapped
            geoms.append(box(y, x, y + .005, x + .005))
        else:
            geoms.append(box(x, y, x + .005, y + .005))
    codes = [f"511425{100 + i % 7:03d}{200 + i % 40:03d}" for i in range(n)]
    towns = [c[:9] if rng.random() > 0.1 else "511425199" for c in codes]
    for i in rng.integers(0, n, 40):
        codes[i] = _column(rng, 1)[0]
    gdf = pd.DataFrame({
        "code": codes, "name": _column(rng, n), "township_code": towns,
        "population": _column(rng, n), "elderly_population": _column(rng, n),
        "center_lon": _column(rng, n), "center_lat": _column(rng, n)})
    for col in gdf.columns:  # (a number too large for Int64 fails both ways, see above)
        gdf[col] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else
                    "99999" if v == "9" * 25 else str(v) for v in gdf[col]]
    for i in rng.integers(0, n, 30):
        gdf.loc[i, "name"] = f"村{i}"
    gdf.loc[:, "population"] = gdf["population"].where(rng.random(n) > 0.5, "3000")
    gdf.loc[:, "elderly_population"] = gdf["elderly_population"].where(rng.random(n) > 0.5, "900")
    import geopandas as gpd

    frame = gpd.GeoDataFrame(gdf, geometry=gpd.GeoSeries(geoms), crs="EPSG:4490")
    paths = []
    for suffix in (".geojson", ".gpkg"):
        path = tmp_path / f"messy{suffix}"
        pyogrio.write_dataframe(frame, path)
        paths.append(path)
    csv = tmp_path / "messy.csv"
    table = pd.DataFrame(gdf)
    table["wkt"] = [g.wkt if g is not None else "" for g in geoms]
    for i in rng.integers(0, n, 25):
        table.loc[i, "wkt"] = ["POLYGON((103 29, 104", "garbage", "  ", "POINT (1 2)"][i % 4]
    table.loc[rng.integers(0, n, 10), :] = ""  # blank rows keep their line numbers
    table.to_csv(csv, index=False)
    paths.append(csv)
    return paths


def test_a_file_with_many_mixed_defects_gives_the_row_path_problems(messy_villages):
    for path in messy_villages:
        got, got_warnings, _ = _problems(readers._Reader, path, "villages")
        want, want_warnings, _ = _problems(_RowReader, path, "villages")
        assert len(want) > 100 and len(want_warnings) > 50
        assert got == want
        assert got_warnings == want_warnings
        fields = {p[2] for p in got}
        assert {"几何(坐标)", "户籍人口", "中心经度"} <= fields
        assert ("wkt" in fields) == (path.suffix == ".csv")
        warned = {p[2] for p in got_warnings}
        assert {"村(社区)代码", "几何(坐标)"} <= warned
        # the bow ties are repaired (a warning each), not refused
        assert not any(p[3].startswith("几何无效：") for p in got)


def test_a_clean_file_reads_the_same_values(tmp_path):
    import geopandas as gpd

    n = 500
    codes = [f"511425{100 + i // 50:03d}{200 + i % 50:03d}" for i in range(n)]
    frame = gpd.GeoDataFrame({
        "code": codes, "name": [f"村{i}" for i in range(n)],
        "township_code": [c[:9] for c in codes],
        "population": np.arange(n) + 1000, "elderly_population": np.arange(n) + 100,
    }, geometry=[box(103.8 + i * 1e-3, 29.8, 103.8 + i * 1e-3 + 5e-4, 29.8005)
                 for i in range(n)], crs="EPSG:4490")
    path = tmp_path / "clean.gpkg"
    pyogrio.write_dataframe(frame, path)
    (_, _, got), (_, _, want) = _problems(readers._Reader, path, "villages"), \
        _problems(_RowReader, path, "villages")
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")))
