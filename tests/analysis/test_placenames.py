"""Each finding of the place-name check on hand-made data; GCJ-02 / BD-09 label files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.placenames import check_placenames
from layers import read_layer
from layers.crs import wgs_to_bd, wgs_to_gcj

GK = "EPSG:4544"  # CGCS2000 GK zone, central meridian 105E
TO_LL = Transformer.from_crs(GK, "EPSG:4490", always_xy=True)
TO_GK = Transformer.from_crs("EPSG:4490", GK, always_xy=True)
X0, Y0 = 480_000.0, 3_300_000.0
SIZE = 2000.0

# 3 x 3 square villages of 2 km, two townships
ROSTER = [
    ("510000001200", "柳溪村村民委员会", "510000001"),
    ("510000001201", "兰沟村民委员会", "510000001"),
    ("510000001001", "凤阳社区居民委员会", "510000001"),
    ("510000001202", "鸿化村村委会", "510000001"),
    ("510000001203", "百家池村委会", "510000001"),
    ("510000002200", "小三峡村委会", "510000002"),
    ("510000002201", "桂花村委会", "510000002"),
    ("510000002202", "红花村委会", "510000002"),   # same sound as 洪花村 below
    ("510000002203", "洪花村委会", "510000002"),
]


def _ll(x, y):
    lon, lat = TO_LL.transform(x, y)
    return shapely.Point(lon, lat)


def villages() -> gpd.GeoDataFrame:
    rows = []
    for i, (code, name, town) in enumerate(ROSTER):
        cx, cy = X0 + (i % 3) * SIZE, Y0 + (i // 3) * SIZE
        box = shapely.box(cx - SIZE / 2, cy - SIZE / 2, cx + SIZE / 2, cy + SIZE / 2)
        poly = shapely.transform(box, lambda c: np.column_stack(TO_LL.transform(c[:, 0],
                                                                                 c[:, 1])))
        rows.append({"code": code, "name": name, "township_code": town, "population": 1000,
                     "elderly_population": 200, "geometry": poly})
    return gpd.GeoDataFrame(rows, crs="EPSG:4490")


def centre(code, dx=0.0, dy=0.0):
    i = [r[0] for r in ROSTER].index(code)
    return _ll(X0 + (i % 3) * SIZE + dx, Y0 + (i // 3) * SIZE + dy)


def labels(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [r[0] for r in rows]},
                            geometry=[r[1] for r in rows], crs="EPSG:4490")


def _types(result):
    f = result.findings
    return sorted(zip(f["type"], f["code"].fillna(""), f["label_name"].fillna(""),
                      strict=True))


def base_labels():
    return [
        ("柳溪村村委会", centre("510000001200", 50, 30)),        # suffix variant: fine
        ("兰沟村村民委员会", centre("510000001201", -40)),        # doubled suffix: fine
        ("凤阳社区居委会", centre("510000001001", 0, 60)),       # fine
        ("鸿化村", centre("510000001202")),
        ("百家池村", centre("510000001203")),
        ("小三峡村", centre("510000002200")),
        ("桂花村", centre("510000002201")),
        ("紅花村", centre("510000002202")),                     # traditional: fine
        ("洪花村", centre("510000002203", 10, 10)),
    ]


def test_clean_labels_give_only_the_roster_finding():
    r = check_placenames(villages(), labels(base_labels()))
    # 红花村 and 洪花村 sound the same in one township: a roster problem, both reported
    assert _types(r) == [("duplicate_name", "510000002202", ""),
                         ("duplicate_name", "510000002203", "")]
    assert r.summary["labels_ok"] == 9


def test_each_label_finding():
    rows = base_labels()
    rows[3] = ("洪化村", centre("510000001202", 30, 0))          # wrong name (homophone)
    rows[4] = ("双河村", centre("510000001203"))                 # former name
    rows[5] = ("小三峡村", centre("510000002200", 0, -1800))     # 800 m outside its village
    rows.append(("桂花村", centre("510000002201", 400, 300)))    # duplicate
    rows.append(("石堰村", centre("510000001200", -500, -500)))  # unknown
    del rows[0]                                                   # 柳溪村 missing
    aliases = pd.DataFrame({"代码": ["510000001203"], "曾用名": ["双河村"]})
    r = check_placenames(villages(), labels(rows), aliases)
    f = r.findings.set_index("type")
    assert set(f.index) == {"missing", "wrong_name", "former_name", "misplaced",
                            "unknown_label", "duplicate_label", "duplicate_name"}
    assert f.loc["missing", "code"] == "510000001200"
    assert f.loc["wrong_name", "suggestion"] == "鸿化村"
    assert f.loc["wrong_name", "label_name"] == "洪化村"
    assert f.loc["former_name", "suggestion"] == "百家池村"
    assert f.loc["misplaced", "code"] == "510000002200"
    assert f.loc["misplaced", "distance_m"] == pytest.approx(800, abs=5)
    assert f.loc["duplicate_label", "code"] == "510000002201"
    assert f.loc["duplicate_label", "distance_m"] == pytest.approx(500, abs=5)
    assert pd.isna(f.loc["unknown_label", "code"])
    assert r.summary["counts"]["missing"] == 1
    d = r.to_dict()
    assert {"summary", "findings", "romanization"} <= set(d)
    keys = {"type", "code", "official_name", "label_name", "suggestion", "distance_m",
            "lon", "lat"}
    assert all(keys <= set(x) for x in d["findings"])
    assert {"code": "510000001200", "name": "柳溪村", "pinyin": "Liuxi Cun"} in d["romanization"]


def test_near_miss_by_edit_distance_and_tolerance():
    rows = base_labels()
    rows[4] = ("百家塘村", centre("510000001203", 20, 20))        # one character off
    r = check_placenames(villages(), labels(rows))
    wrong = r.findings[r.findings["type"] == "wrong_name"]
    assert wrong[["code", "suggestion"]].values.tolist() == [["510000001203", "百家池村"]]
    # the same label 1 km outside the village is not that village's label
    rows[4] = ("百家塘村", centre("510000001203", 0, -2000))
    r = check_placenames(villages(), labels(rows))
    assert "wrong_name" not in set(r.findings["type"])
    assert {"unknown_label", "missing"} <= set(r.findings["type"])


def test_a_misplaced_label_within_tolerance_is_fine():
    rows = base_labels()
    rows[5] = ("小三峡村", centre("510000002200", 0, -1200))     # 200 m outside
    r = check_placenames(villages(), labels(rows))
    assert "misplaced" not in set(r.findings["type"])
    r = check_placenames(villages(), labels(rows), tolerance_m=100)
    assert "misplaced" in set(r.findings["type"])


def test_roster_problems():
    v = villages()
    v.loc[0, "name"] = "柳溪2村村民委员会"
    v.loc[1, "name"] = "垚沟村"
    v.loc[3, "name"] = "鸿化管理区"
    r = check_placenames(v, labels(base_labels()))
    f = r.findings
    assert set(f.loc[f["type"] == "rare_character", "code"]) == {"510000001201"}
    assert set(f.loc[f["type"] == "nonstandard_name", "code"]) == {"510000001200",
                                                                  "510000001202"}


def test_bad_parameters_are_chinese():
    with pytest.raises(InvalidInput, match="容差"):
        check_placenames(villages(), labels(base_labels()), tolerance_m=-1)
    with pytest.raises(InvalidInput, match="阈值"):
        check_placenames(villages(), labels(base_labels()), fuzzy_threshold=2)
    with pytest.raises(InvalidInput, match="曾用名") as exc:
        check_placenames(villages(), labels(base_labels()), pd.DataFrame({"x": ["1"]}))
    assert exc.value.name == "aliases"


@pytest.mark.parametrize("crs, forward", [("gcj02", wgs_to_gcj), ("bd09", wgs_to_bd)])
def test_label_files_in_gcj02_and_bd09_round_trip(tmp_path, crs, forward):
    rows = base_labels()
    lon = np.array([p.x for _, p in rows])
    lat = np.array([p.y for _, p in rows])
    plon, plat = forward(lon, lat)
    # the offset is real: hundreds of metres
    x0, y0 = TO_GK.transform(lon, lat)
    x1, y1 = TO_GK.transform(plon, plat)
    assert np.hypot(x1 - x0, y1 - y0).min() > 100
    path = tmp_path / f"labels_{crs}.csv"
    pd.DataFrame({"名称": [n for n, _ in rows], "经度": plon, "纬度": plat}).to_csv(
        path, index=False, float_format="%.8f", encoding="utf-8-sig")
    read = read_layer(path, "place_labels", crs=crs)
    bx, by = TO_GK.transform(read.geometry.x.to_numpy(), read.geometry.y.to_numpy())
    assert np.hypot(bx - x0, by - y0).max() < 1.0
    r = check_placenames(villages(), read)
    assert set(r.findings["type"]) == {"duplicate_name"}
    # read as if CGCS2000, the same file puts labels hundreds of metres off
    raw = read_layer(path, "place_labels")
    rx, ry = TO_GK.transform(raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy())
    assert np.hypot(rx - x0, ry - y0).min() > 100


def test_distances_are_true_metres_far_from_the_central_meridian():
    """A roster spanning China (75E to 134E) is measured in one GK zone (105E); at 134E a
    projected length is ~8% too long. A label 290 m outside its village must stay within a
    300 m tolerance, and its distance must be ~290 m, as the geodesic says."""
    from pyproj import Geod

    geod = Geod(ellps="GRS80")
    rows, labs = [], []
    for i, lon0 in enumerate((75.0, 104.5, 134.0)):
        lat0 = 40.0
        # a village square of ~2 km around (lon0, lat0), built from geodesic offsets
        dlon = geod.fwd(lon0, lat0, 90, 1000)[0] - lon0
        dlat = geod.fwd(lon0, lat0, 0, 1000)[1] - lat0
        poly = shapely.box(lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat)
        code = f"51000000120{i}"
        rows.append({"code": code, "name": f"{'东南西'[i]}岭村", "township_code": code[:9],
                     "geometry": poly})
        # label 290 m east of the village's east edge (geodesic)
        elon, elat, _ = geod.fwd(lon0 + dlon, lat0, 90, 290)
        labs.append((f"{'东南西'[i]}岭村", shapely.Point(elon, elat)))
    v = gpd.GeoDataFrame(rows, crs="EPSG:4490")
    r = check_placenames(v, labels(labs), tolerance_m=300)
    assert not (r.findings["type"] == "misplaced").any()
    d = r.labels.set_index("name")["distance_m"]
    assert np.allclose(d.to_numpy(dtype=float), 290, atol=1.0), d
    r = check_placenames(v, labels(labs), tolerance_m=280)
    assert (r.findings["type"] == "misplaced").sum() == 3
