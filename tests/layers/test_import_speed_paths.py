"""The faster import paths of issue 19 give exactly what the plain ones gave.

- code checks on arrays of code points (``readers._codes_ok``) judge every text as
  ``readers.code_defect`` does, and ``readers._stripped`` strips as ``.str.strip()``;
- a version written by the GeoPackage store through a staged file and one sqlite3
  transaction reads back as the same layer, with the same GeoPackage metadata and a sound
  spatial index, as one GDAL writes into the workspace directly; a failed copy leaves
  nothing behind;
- the coordinate-system check of a facility import computes the centres of the villages
  it names only, the same centres as for the whole layer.
"""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

import layers.store.gpkg as store_mod
from layers import GeoPackageStore, StoreError, readers

STORED = "EPSG:4490"


# --- code checks and text ----------------------------------------------------------------

def _texts() -> list[str]:
    rng = np.random.default_rng(19)
    out = ["511425102201", "511425102", "511425", "001425102201", "511425000201",
           "511425600201", "511425102600", "511425102000", "991425102201", "71", "",
           "５１１４２５１０２２０１", "511425102\x00", "51142510220\x00", "\x00" * 12,
           "51142510220a", "5114251022011", "51142510220", " 51142510220", "٥١١٤٢٥١٠٢",
           "511425102201.0", "5114 25102", "511425599599", "511425001001"]
    digits = np.array(list("0123456789"))
    for n in (2, 6, 8, 9, 11, 12, 13):
        for _ in range(40):
            text = "".join(rng.choice(digits, n))
            if rng.random() < 0.5:
                text = rng.choice(["51", "42", "11", "82", "99", "00"]) + text[2:]
            out.append(text)
    return out


@pytest.mark.parametrize("digits", [2, 6, 9, 12])
def test_code_checks_judge_each_text_as_code_defect(digits):
    texts = _texts()
    fast = readers._codes_ok(np.array(texts, dtype=object), digits)
    plain = [readers.code_defect(t, "代码", digits) is None for t in texts]
    assert fast.tolist() == plain


def test_stripping_and_text_masks_as_pandas_gives_them():
    texts = np.array([" a ", "\u3000村\u3000", "\xa0b", "c\t\n", "", "  ", "d\u2003", "e"],
                     dtype=object)
    assert readers._stripped(texts).tolist() == \
        pd.Series(texts, dtype=object).str.strip().tolist()
    col = pd.Series(["a", None, "b", np.nan], dtype="str")
    assert readers._str_mask(col).tolist() == [True, False, True, False]
    mixed = pd.Series(["a", None, 3, 2.5, "b"], dtype=object)
    assert readers._str_mask(mixed).tolist() == [True, False, False, False, True]


# --- the store's write -------------------------------------------------------------------

def _villages(n: int = 60) -> gpd.GeoDataFrame:
    cells = [box(103.7 + 0.01 * (i % 10), 29.7 + 0.01 * (i // 10),
                 103.71 + 0.01 * (i % 10), 29.71 + 0.01 * (i // 10)) for i in range(n)]
    return gpd.GeoDataFrame({
        "code": [f"511425102{200 + i:03d}" for i in range(n)],
        "name": [f"村{i}" for i in range(n)],
        "township_code": ["511425102"] * n,
        "population": pd.array([100 + i if i % 7 else None for i in range(n)], dtype="Int64"),
        "elderly_population": pd.array([10 + i for i in range(n)], dtype="Int64"),
    }, geometry=gpd.GeoSeries(cells, crs=STORED))


def _meta(path, table: str) -> dict:
    con = sqlite3.connect(path)
    try:
        out = {}
        for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions",
                     "gpkg_ogr_contents"):
            rows = con.execute(f"SELECT * FROM {meta} WHERE table_name = ?", (table,)).fetchall()
            cols = [d[0] for d in con.execute(f"SELECT * FROM {meta} LIMIT 0").description]
            out[meta] = [{c: v for c, v in zip(cols, r, strict=True) if c != "last_change"}
                         for r in rows]
        out["objects"] = sorted(con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name LIKE ?",
            (f"%{table}%",)).fetchall())
        out["integrity"] = con.execute("PRAGMA integrity_check").fetchone()[0]
        out["rtree"] = con.execute(f"SELECT rtreecheck('rtree_{table}_geom')").fetchone()[0]
        return out
    finally:
        con.close()


def test_staged_write_equals_a_direct_gdal_write(tmp_path, monkeypatch):
    gdf = _villages()
    staged = GeoPackageStore(tmp_path / "staged.gpkg")
    first = staged.write("villages", gdf, source="a.gpkg", source_crs=STORED)
    second = staged.write("villages", gdf.iloc[:20], source="b.gpkg", source_crs=STORED)
    monkeypatch.setattr(store_mod, "_copy_supported", lambda: False)
    direct = GeoPackageStore(tmp_path / "direct.gpkg")
    direct.write("villages", gdf, source="a.gpkg", source_crs=STORED)
    direct.write("villages", gdf.iloc[:20], source="b.gpkg", source_crs=STORED)

    assert (first.version, second.version, second.features) == (1, 2, 20)
    for version in (1, 2):
        a = staged.read("villages", version=version)
        b = direct.read("villages", version=version)
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
        bbox = (103.72, 29.72, 103.75, 29.74)
        assert sorted(staged.read("villages", version=version, bbox=bbox)["code"]) == \
            sorted(direct.read("villages", version=version, bbox=bbox)["code"])
        table = f"villages_v{version}"
        got, want = _meta(staged.path, table), _meta(direct.path, table)
        assert got == want and got["integrity"] == "ok" and got["rtree"] == "ok"
        info = pyogrio.read_info(staged.path, layer=table)
        assert info["features"] == (60 if version == 1 else 20)
    assert [v.version for v in staged.versions("villages") if v.current] == [2]


def test_a_failed_copy_leaves_no_table_and_no_version(tmp_path, monkeypatch):
    store = GeoPackageStore(tmp_path / "ws.gpkg")
    store.write("villages", _villages(), source="a.gpkg", source_crs=STORED)

    def broken(con, table):
        con.execute(f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY)')
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_mod, "_copy_table", broken)
    with pytest.raises(StoreError):
        store.write("villages", _villages(10), source="b.gpkg", source_crs=STORED)
    con = sqlite3.connect(store.path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        contents = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    finally:
        con.close()
    assert "villages_v2" not in tables and "villages_v2" not in contents
    assert [(v.version, v.current) for v in store.versions("villages")] == [(1, True)]
    assert len(store.read("villages")) == 60


# --- the coordinate-system check's centres -------------------------------------------

def test_centres_of_the_named_villages_are_those_of_the_whole_layer():
    from geoservice.analysis.coverage import village_centres, village_centres_xy
    from layers.crs import metric_crs

    villages = _villages()
    villages["center_lon"] = pd.array([103.705 if i % 5 == 0 else None for i in range(60)],
                                      dtype="Float64")
    villages["center_lat"] = pd.array([29.705 if i % 5 == 0 else None for i in range(60)],
                                      dtype="Float64")
    whole = village_centres(villages)
    own = np.array([3, 3, 10, 59, 0, 17])
    named, back = np.unique(own, return_inverse=True)
    _, lonlat = village_centres_xy(villages.iloc[named], metric_crs(villages))
    assert lonlat[back, 0].tolist() == whole.x.to_numpy()[own].tolist()
    assert lonlat[back, 1].tolist() == whole.y.to_numpy()[own].tolist()
