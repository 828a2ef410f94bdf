"""Evaluation: a label set with injected errors of every type over a real roster subset
(two Hunan counties, tests/data/placenames), recall and precision >= 0.98 per type.

Villages get synthetic polygons (Voronoi cells of random points in a 70 x 50 km box),
labels sit near the village centres, then errors are injected with a fixed seed. Suffix
variants (村委会, doubled, full-width space, traditional) are injected too and must not be
reported. Roster errors (duplicate / same-sounding names in a township, rare characters,
nonstandard names) are injected into the roster copy.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from opencc import OpenCC
from pyproj import Transformer

from geoservice.analysis.placenames import Romanizer, check_placenames, standard_name
from geoservice.analysis.placenames.check import FINDING_TYPES
from geoservice.analysis.placenames.match import name_similarity
from geoservice.analysis.placenames.names import nonstandard_reasons, rare_characters

DATA = Path(__file__).resolve().parents[1] / "data" / "placenames"
GK = "EPSG:4545"  # central meridian 108E
TO_LL = Transformer.from_crs(GK, "EPSG:4490", always_xy=True)
COUNTIES = ("433124", "431226")
POOL = list("东南西北上下大小新老前后中高长金银石山河湖塘坪沟岭坡田花桥岩竹林庄寨溪冲湾坝")
def _gb(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


RARE = [ch for ch in "垚堃犇燚畾玥婳珺琤堉" if not _gb(ch)]
N = {"missing": 40, "wrong_name": 40, "former_name": 40, "misplaced": 30,
     "duplicate_label": 40, "unknown_label": 40, "suffix": 40,
     "duplicate_name": 10, "rare_character": 15, "nonstandard_name": 15}


def _roster() -> pd.DataFrame:
    v = pd.read_csv(DATA / "villages_subset.csv", dtype=str, keep_default_na=False)
    return v[v["areaCode"].isin(COUNTIES)].sort_values("code").reset_index(drop=True)


def build(seed: int = 6):
    rng = np.random.default_rng(seed)
    v = _roster()
    n = len(v)
    pts = np.column_stack([rng.uniform(0, 70_000, n), rng.uniform(0, 50_000, n)])
    box = shapely.box(-2000, -2000, 72_000, 52_000)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    tree = shapely.STRtree(cells)
    pidx, cidx = tree.query(shapely.points(pts), predicate="intersects")
    poly_of = dict(zip(pidx, cidx, strict=True))
    polys = [shapely.intersection(cells[poly_of[i]], box) for i in range(n)]

    def ll(g):
        return shapely.transform(g, lambda c: np.column_stack(TO_LL.transform(c[:, 0], c[:, 1])))

    roster_names = v["name"].tolist()
    std = [standard_name(x) for x in roster_names]
    rom = Romanizer()
    names_used = set(std)
    sounds_used = {rom.key(s) for s in std}
    order = rng.permutation(n)
    take = iter(order)
    chosen: dict[str, list[int]] = {}
    counts = pd.Series(std).value_counts()

    def pick(kind, k, ok=lambda i: True):
        out = []
        while len(out) < k:
            i = int(next(take))
            if ok(i):
                out.append(i)
            else:
                spare.append(i)
        chosen[kind] = out
        return out

    spare: list[int] = []
    truth: set[tuple[str, str]] = set()
    aliases = []
    # roster injections first (labels follow the roster's names)
    towns = v["streetCode"].to_numpy()
    dn = []
    for i in pick("duplicate_name", N["duplicate_name"]):
        same_town = [j for j in range(n) if towns[j] == towns[i] and j != i
                     and j not in dn and j not in set(sum(chosen.values(), []))]
        j = int(rng.choice(same_town))
        roster_names[j] = roster_names[i]
        std[j] = std[i]
        dn.append(j)
        truth |= {("duplicate_name", v["code"][i]), ("duplicate_name", v["code"][j])}
    used = set(dn) | set(sum(chosen.values(), []))
    take = iter([i for i in order if i not in used])
    for i in pick("rare_character", N["rare_character"]):
        s = std[i]
        new = RARE[i % len(RARE)] + s[1:]
        roster_names[i] = new + "村委会" if new.endswith("村") else new
        std[i] = standard_name(roster_names[i])
        truth.add(("rare_character", v["code"][i]))
    variants = ["{s}2组", "{s}A", "{s}（新）", "{b}管理区"]
    for k, i in enumerate(pick("nonstandard_name", N["nonstandard_name"])):
        s = std[i]
        b = s[:-1] if s.endswith("村") else s
        roster_names[i] = variants[k % 4].format(s=s, b=b)
        std[i] = standard_name(roster_names[i])
        truth.add(("nonstandard_name", v["code"][i]))
    centres = pts + rng.uniform(-100, 100, (n, 2))
    label_rows = []  # (name, x, y)

    def unique_name(i):
        return counts.get(std[i], 0) == 1 and std[i] in names_used

    def long_specific(i):
        return len(std[i]) >= 3 and std[i].endswith("村") and not rare_characters(std[i])

    special = {}
    for i in pick("missing", N["missing"]):
        special[i] = "missing"
        truth.add(("missing", v["code"][i]))
    for i in pick("wrong_name", N["wrong_name"], long_specific):
        s = std[i]
        while True:
            pos = int(rng.integers(0, len(s) - 1))
            w = s[:pos] + str(rng.choice(POOL)) + s[pos + 1:]
            if w not in names_used and rom.key(w) not in sounds_used:
                break
        # a wrong name must not be anyone's name, former names included: a label whose
        # name is the (former) name of exactly one village is that village's label
        names_used.add(w)
        special[i] = ("name", w)
        truth.add(("wrong_name", v["code"][i]))
    for i in pick("former_name", N["former_name"]):
        while True:
            f = "".join(rng.choice(POOL, 2)) + "村"
            if f not in names_used and rom.key(f) not in sounds_used:
                break
        names_used.add(f)
        aliases.append((v["code"][i], f))
        special[i] = ("name", f)
        truth.add(("former_name", v["code"][i]))
    for i in pick("misplaced", N["misplaced"], unique_name):
        special[i] = "misplaced"
        truth.add(("misplaced", v["code"][i]))
    for i in pick("duplicate_label", N["duplicate_label"]):
        special[i] = "duplicate"
        truth.add(("duplicate_label", v["code"][i]))
    t2s = OpenCC("s2t")
    forms = [lambda s: s + "村委会" if not s.endswith("村") else s[:-1] + "村委会",
             lambda s: s + "村民委员会" if s.endswith("村") else s + "居民委员会",
             lambda s: s[:1] + "\u3000" + s[1:],
             lambda s: t2s.convert(s)]
    for k, i in enumerate(pick("suffix", N["suffix"])):
        special[i] = ("name", forms[k % 4](std[i]))
        assert standard_name(special[i][1]) == std[i], special[i]

    poly_gk = [shapely.Polygon(p) if p.geom_type == "Polygon" else p for p in polys]
    for i in range(n):
        s = special.get(i)
        if s == "missing":
            continue
        name = std[i]
        if isinstance(s, tuple):
            name = s[1]
        cx, cy = centres[i]
        if s == "misplaced":
            for _ in range(1000):
                r, a = rng.uniform(1500, 3000), rng.uniform(0, 2 * np.pi)
                x, y = cx + r * np.cos(a), cy + r * np.sin(a)
                if box.contains(shapely.Point(x, y)) and \
                        poly_gk[i].distance(shapely.Point(x, y)) > 600:
                    break
            label_rows.append((name, x, y))
            continue
        label_rows.append((name, cx, cy))
        if s == "duplicate":
            for _ in range(1000):
                r, a = rng.uniform(150, 500), rng.uniform(0, 2 * np.pi)
                x, y = cx + r * np.cos(a), cy + r * np.sin(a)
                if poly_gk[i].contains(shapely.Point(x, y)):
                    break
            label_rows.append((name, x, y))
    unknown = []
    while len(unknown) < N["unknown_label"]:
        u = "".join(rng.choice(POOL, 3)) + "村"
        if u in names_used or rom.key(u) in sounds_used:
            continue
        if max(name_similarity(u, s) for s in std) >= 0.5:
            continue
        names_used.add(u)
        x, y = rng.uniform(0, 70_000), rng.uniform(0, 50_000)
        unknown.append(len(label_rows))
        label_rows.append((u, x, y))
    villages = gpd.GeoDataFrame({
        "code": v["code"], "name": roster_names, "township_code": v["streetCode"],
        "population": 1000, "elderly_population": 200,
        "center_lon": TO_LL.transform(centres[:, 0], centres[:, 1])[0],
        "center_lat": TO_LL.transform(centres[:, 0], centres[:, 1])[1],
    }, geometry=[ll(p) for p in polys], crs="EPSG:4490")
    lx, ly = TO_LL.transform([r[1] for r in label_rows], [r[2] for r in label_rows])
    labels = gpd.GeoDataFrame({"name": [r[0] for r in label_rows]},
                              geometry=shapely.points(lx, ly), crs="EPSG:4490")
    return villages, labels, pd.DataFrame(aliases, columns=["code", "former_name"]), truth, \
        unknown


def test_base_roster_has_no_roster_problems():
    v = _roster()
    std = [standard_name(x) for x in v["name"]]
    rom = Romanizer()
    keys = pd.DataFrame({"t": v["streetCode"], "k": [rom.key(s) for s in std]})
    assert not keys.duplicated().any()
    assert not any(rare_characters(s) for s in std)
    assert not any(nonstandard_reasons(x, ("村", "社区", "嘎查")) for x in v["name"])


@pytest.mark.parametrize("seed", [6, 2024])
def test_recall_and_precision_per_type(seed):
    villages, labels, aliases, truth, unknown = build(seed)
    r = check_placenames(villages, labels, aliases)
    f = r.findings
    found = set()
    for t, code, lid in zip(f["type"], f["code"], f["label_id"], strict=True):
        found.add((t, f"label{lid}") if t == "unknown_label" else (t, code))
    truth = set(truth) | {("unknown_label", f"label{i}") for i in unknown}
    report = {}
    for t in FINDING_TYPES:
        tp = len({x for x in found if x[0] == t} & {x for x in truth if x[0] == t})
        n_found = len({x for x in found if x[0] == t})
        n_true = len({x for x in truth if x[0] == t})
        assert n_true > 0, t
        report[t] = (tp / n_true, tp / n_found if n_found else 0.0, n_true, n_found)
    bad = {t: x for t, x in report.items() if x[0] < 0.98 or x[1] < 0.98}
    assert not bad, (bad, sorted(found - truth)[:10], sorted(truth - found)[:10])
