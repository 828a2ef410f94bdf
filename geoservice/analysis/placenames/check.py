"""The place-name check: findings on map labels and on the roster, and roman spellings.

Plain function :func:`check_placenames`: villages (polygons, stored CRS), labels (points,
already converted to the stored CRS, e.g. by ``layers.read_layer(..., crs="gcj02")``) and
an aliases table (code, former_name) in; a :class:`PlacenamesResult` out.

A label is judged by its name first (:mod:`.match`). The labels matched by name then show
whether the whole label set was read in the wrong coordinate system
(:func:`layers.crs.suspect_crs`): ``summary["crs_suspect"]`` and ``crs_offset_m``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoservice.analysis.coverage import village_centres
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import page_records, records
from geoservice.analysis.placenames.match import (
    EXACT,
    FORMER,
    FUZZY,
    KIND_NAMES,
    NONE,
    SOUND,
    match_labels,
)
from geoservice.analysis.placenames.names import nonstandard_reasons, rare_characters, standard_name
from geoservice.analysis.placenames.romanize import Romanizer
from geoservice.analysis.settings import placenames_defaults
from layers.crs import (
    BD09,
    CGCS2000,
    GCJ02,
    STORED_CRS,
    metric_crs,
    suspect_crs,
    suspect_message,
)
from layers.labels import aliases_frame, read_systems

FINDING_TYPES = {
    "missing": "缺失标注",
    "wrong_name": "名称错误",
    "former_name": "使用旧名",
    "misplaced": "位置偏差",
    "unknown_label": "无对应村(社区)",
    "duplicate_label": "重复标注",
    "duplicate_name": "同名/同音村名",
    "rare_character": "生僻字",
    "nonstandard_name": "名称不规范",
}
LABEL_TYPES = ("wrong_name", "former_name", "misplaced", "unknown_label", "duplicate_label")
ROSTER_TYPES = ("duplicate_name", "rare_character", "nonstandard_name")
FINDING_COLUMNS = ["type", "code", "official_name", "label_name", "suggestion", "distance_m",
                   "lon", "lat", "type_label", "township_code", "township_name", "note",
                   "label_id"]
JSON_COLUMNS = ["type", "type_label", "code", "official_name", "label_name", "suggestion",
                "distance_m", "lon", "lat", "township_code", "township_name", "note"]


@dataclass
class PlacenamesResult:
    """Findings (points), labels and villages as checked, roman spellings, summary."""

    findings: gpd.GeoDataFrame
    labels: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    romanization: pd.DataFrame
    summary: dict
    params: dict = field(default_factory=dict)

    def to_dict(self, *, fields: list[str] | None = None, offset: int = 0,
                limit: int | None = None) -> dict:
        """The JSON of the CLI's ``--json`` and ``/api/placenames``.

        ``fields`` keeps only those fields of the findings (in the order given);
        ``offset``/``limit`` return one page of the findings. The summary and the roman
        spellings are always whole. Unknown fields raise ``InvalidInput``.
        """
        return {
            # Counts by type at the top of the summary, and also under "counts".
            "summary": {**self.summary.get("counts", {}), **self.summary},
            "findings": page_records(self.findings, JSON_COLUMNS, fields=fields,
                                     offset=offset, limit=limit, noun="问题"),
            "romanization": records(self.romanization[["code", "name", "pinyin"]]),
        }


def _geoms(gdf) -> np.ndarray:
    return np.asarray(gdf.geometry.array, dtype=object)


def check_placenames(villages: gpd.GeoDataFrame, labels: gpd.GeoDataFrame,
                     aliases: pd.DataFrame | None = None, *,
                     townships: gpd.GeoDataFrame | None = None,
                     tolerance_m: float | None = None, search_radius_m: float | None = None,
                     fuzzy_threshold: float | None = None, fuzzy_neighbours: int | None = None,
                     romanizer: Romanizer | None = None,
                     inputs: dict | None = None,
                     labels_given: bool = True,
                     labels_crs: str | None = None) -> PlacenamesResult:
    """Check map labels against the roster.

    Parameters
    ----------
    villages : villages layer (code, name, township_code, polygon; ``committee_name`` and
        ``center_lon``/``center_lat`` used when present).
    labels : label points (``name``; ``source`` and ``crs`` kept when present) in any CRS
        pyproj knows; GCJ-02/BD-09 must be converted before (``layers.crs.to_stored``).
        ``crs``: the system each label was read in (gcj02, bd09, EPSG code).
    aliases : former names, columns code and former_name. A code several villages share
        (a roster with duplicate codes) gives the former name to each of them, distance
        decides, and the summary says so (``ambiguous_alias_codes``, ``code_warnings``).
    tolerance_m : a correctly named label further than this outside its village is
        misplaced; near misses must lie within it. Defaults from defaults.toml.
    search_radius_m : labels are compared with villages whose centre is this near.
    fuzzy_threshold : edit-distance similarity (0-1) for a near-miss name.
    labels_given : False when there is no label set at all (a workspace without the
        place_labels layer): the roster is checked, but no village is reported missing.
    labels_crs : the system labels without their own ``crs`` value were read in (the
        label file's or layer version's source system); CGCS2000 when None. With each
        label's own ``crs`` it is the ``declared`` system of the wrong-system check.
    """
    d = placenames_defaults()
    tol = d["misplaced_tolerance_m"] if tolerance_m is None else float(tolerance_m)
    radius = d["search_radius_m"] if search_radius_m is None else float(search_radius_m)
    thr = d["fuzzy_threshold"] if fuzzy_threshold is None else float(fuzzy_threshold)
    k = d["fuzzy_neighbours"] if fuzzy_neighbours is None else int(fuzzy_neighbours)
    if not (tol >= 0 and np.isfinite(tol)):
        raise InvalidInput(f"参数 tolerance_m（位置容差）应为非负数（米），而不是 {tol}",
                           name="tolerance_m")
    if not (radius > 0 and np.isfinite(radius)):
        raise InvalidInput(f"参数 search_radius_m（搜索半径）应为正数（米），而不是 {radius}",
                           name="search_radius_m")
    if not 0 < thr <= 1:
        raise InvalidInput(f"参数 fuzzy_threshold（近似名称阈值）应在 0 到 1 之间，而不是 {thr}",
                           name="fuzzy_threshold")
    rom = romanizer or Romanizer()

    vill = villages.to_crs(STORED_CRS).reset_index(drop=True)
    lab = labels.to_crs(STORED_CRS).reset_index(drop=True)
    lab = lab[lab.geometry.notna() & ~lab.geometry.is_empty].reset_index(drop=True)
    vgeoms = _geoms(vill)
    centres = _geoms(village_centres(vill))
    gk = metric_crs(vill) if len(vill) else "EPSG:4544"

    codes = vill["code"].astype(str).to_numpy()
    raw_names = vill["name"].astype(str).tolist()
    l_raw = lab["name"].astype(str).tolist() if len(lab) else []
    # standard names once per distinct text (labels mostly repeat the roster's names)
    std_of = {n: standard_name(n) for n in dict.fromkeys(raw_names + l_raw)}
    v_std = [std_of[n] for n in raw_names]
    l_std = [std_of[n] for n in l_raw]
    del std_of
    # Sound keys are computed only where needed, once per distinct name.
    sound_cache: dict[str, str] = {}

    def sound_key(name: str) -> str:
        key = sound_cache.get(name)
        if key is None:
            key = sound_cache[name] = rom.key(name)
        return key

    try:
        al = aliases_frame(aliases)
    except ValueError as exc:
        raise InvalidInput(str(exc), name="aliases") from None
    alias_pairs, known, ambiguous = _alias_pairs(al, codes, v_std)

    county = pd.factorize(pd.Series(codes, dtype=object).str[:6])[0] if len(codes) else None
    m = match_labels(l_std, _point_geoms(lab), v_std, vgeoms, centres, alias_pairs, gk,
                     sound_key=sound_key, village_county=county,
                     search_radius_m=radius, tolerance_m=tol,
                     fuzzy_threshold=thr, fuzzy_neighbours=k)
    ambiguous_codes = {a["code"] for a in ambiguous}

    tnames = {}
    if townships is not None and len(townships):
        tnames = dict(zip(townships["code"].astype(str), townships["name"].astype(str),
                          strict=False))
    town = vill["township_code"].astype(str).to_numpy() if "township_code" in vill else \
        np.array([c[:9] for c in codes])
    cxy = shapely.get_coordinates(centres) if len(centres) else np.zeros((0, 2))
    lxy = shapely.get_coordinates(_point_geoms(lab)) if len(lab) else np.zeros((0, 2))

    # --- label findings ------------------------------------------------------------
    vi = np.clip(m.village, 0, None)
    has = m.village >= 0
    ltype = np.full(len(lab), "", dtype=object)
    ltype[~has] = "unknown_label"
    ltype[has & ~m.primary] = "duplicate_label"
    prim = has & m.primary
    ltype[prim & (m.kind == FORMER)] = "former_name"
    ltype[prim & np.isin(m.kind, (SOUND, FUZZY))] = "wrong_name"
    ltype[prim & (m.kind == EXACT) & (m.outside_m > tol)] = "misplaced"
    off_name = np.where(has, np.asarray(v_std, dtype=object)[vi] if len(v_std) else None, None)
    l_code = np.where(has, codes[vi] if len(codes) else None, None)
    # distance: outside the village (misplaced ...); to the primary label for duplicates
    dist = np.where(has, m.outside_m, np.nan)
    dup = np.flatnonzero(ltype == "duplicate_label")
    if len(dup):
        metric = gpd.GeoSeries(_point_geoms(lab)[np.r_[dup, m.primary_of[dup]]],
                               crs=STORED_CRS).to_crs(gk)
        a, b = _geoms(metric)[: len(dup)], _geoms(metric)[len(dup):]
        dist[dup] = shapely.distance(a, b) / m.scale[dup]
    notes = np.array([_label_note(t, m, i, v_std, codes, ambiguous_codes)
                      for i, t in enumerate(ltype)],
                     dtype=object) if len(lab) else np.array([], dtype=object)
    suggestion = np.where(np.isin(ltype, ("wrong_name", "former_name")), off_name, None)
    lf = pd.DataFrame({
        "type": ltype, "code": l_code, "official_name": off_name, "label_name": l_raw,
        "suggestion": suggestion, "distance_m": np.round(dist, 1),
        "lon": lxy[:, 0] if len(lxy) else [], "lat": lxy[:, 1] if len(lxy) else [],
        "township_code": np.where(has, town[vi] if len(town) else None, None),
        "note": notes, "label_id": np.arange(len(lab)),
    })
    lf.loc[lf["type"].isin(["wrong_name", "former_name", "duplicate_label"])
           & (lf["distance_m"] == 0), "distance_m"] = 0.0
    lf.loc[lf["type"] == "unknown_label", "distance_m"] = np.nan
    lf_out = lf[lf["type"] != ""]

    # --- missing: villages no label stands for -------------------------------------
    claimed = np.zeros(len(vill), dtype=bool)
    claimed[m.village[has]] = True
    miss = np.flatnonzero(~claimed) if labels_given else np.zeros(0, dtype=np.int64)
    mf = pd.DataFrame({
        "type": "missing", "code": codes[miss], "official_name": np.asarray(v_std,
                                                                           dtype=object)[miss]
        if len(miss) else [], "label_name": None, "suggestion": None, "distance_m": np.nan,
        "lon": cxy[miss, 0] if len(miss) else [], "lat": cxy[miss, 1] if len(miss) else [],
        "township_code": town[miss] if len(miss) else [],
        "note": "该村(社区)在地图上没有对应标注", "label_id": None})

    # --- roster: duplicate names, rare characters, nonstandard names -----------------
    v_sound = [sound_key(n) for n in v_std]
    roster = roster_findings(codes, v_std, v_sound, town, cxy,
                             vill["committee_name"].astype(str).tolist()
                             if "committee_name" in vill else raw_names, d["valid_generics"])

    findings = pd.concat([f for f in (mf, lf_out, roster) if len(f)], ignore_index=True) \
        if (len(mf) or len(lf_out) or len(roster)) else pd.DataFrame(columns=FINDING_COLUMNS)
    findings["type_label"] = findings["type"].map(FINDING_TYPES)
    findings["township_name"] = findings["township_code"].map(tnames)
    order = {t: i for i, t in enumerate(FINDING_TYPES)}
    findings["_o"] = findings["type"].map(order)
    findings = findings.sort_values(["_o", "code", "label_name"], kind="stable",
                                    na_position="last").drop(columns="_o")
    findings = findings.reindex(columns=FINDING_COLUMNS).reset_index(drop=True)
    findings = gpd.GeoDataFrame(
        findings, geometry=shapely.points(findings["lon"].to_numpy(dtype=float),
                                          findings["lat"].to_numpy(dtype=float)),
        crs=STORED_CRS)

    # --- romanisation ----------------------------------------------------------------
    spelled = {n: rom.romanize(n) for n in dict.fromkeys(v_std)}
    pinyin = [spelled[n] for n in v_std]
    del spelled
    roman = pd.DataFrame({"code": codes, "name": v_std, "pinyin": pinyin,
                          "township_code": town})

    # --- a whole label set read in the wrong system ------------------------------------
    systems = read_systems(lab, labels_crs)
    crs_check = _crs_check(m, lxy, vgeoms, cxy, systems)

    labels_out = gpd.GeoDataFrame({
        "label_id": np.arange(len(lab)), "name": l_raw, "standard_name": l_std,
        "status": np.where(ltype == "", "ok", ltype),
        "match": [KIND_NAMES[int(x)] for x in m.kind],
        "code": l_code, "official_name": off_name,
        "distance_m": np.round(dist, 1),
        "source": lab["source"].to_numpy() if "source" in lab else None,
        "crs": systems,
    }, geometry=_point_geoms(lab), crs=STORED_CRS)
    types_by_code = findings.dropna(subset=["code"]).groupby("code")["type"].agg(
        lambda s: "、".join(dict.fromkeys(FINDING_TYPES[t] for t in s)))
    problems = types_by_code.to_dict()
    villages_out = gpd.GeoDataFrame({
        "code": codes, "name": v_std, "township_code": town, "pinyin": pinyin,
        "labelled": claimed, "problems": np.array([problems.get(c, "") for c in codes], dtype=object),
    }, geometry=vgeoms, crs=STORED_CRS)

    counts = findings["type"].value_counts()
    params = {"tolerance_m": tol, "search_radius_m": radius, "fuzzy_threshold": thr,
              "fuzzy_neighbours": k}
    summary = {
        "villages": int(len(vill)), "labels": int(len(lab)),
        "labels_ok": int((ltype == "").sum()),
        "labels_matched": int(has.sum()),
        "labels_given": bool(labels_given),
        "aliases": int(len(al)), "aliases_unknown_code": int((~known).sum()),
        "ambiguous_alias_codes": ambiguous,
        "code_warnings": _code_warnings(ambiguous),
        "crs_suspect": crs_check["suspect"],
        "crs_offset_m": crs_check["offset_m"],
        "crs_message": suspect_message(crs_check, "标注"),
        "crs_check": crs_check,
        "counts": {t: int(counts.get(t, 0)) for t in FINDING_TYPES},
        "corrections": int(sum(int(counts.get(t, 0)) for t in ("missing",) + LABEL_TYPES)),
        "roster_problems": int(sum(int(counts.get(t, 0)) for t in ROSTER_TYPES)),
        **params,
        "source": d["source"],
        "metric_crs": f"{gk}（高斯-克吕格，米；距离已按各标注处的投影长度变形改正）",
        "inputs": {**(inputs or {}), "date": dt.date.today().isoformat()},
    }
    return PlacenamesResult(findings, labels_out, villages_out, roman, summary, params)


def _point_geoms(lab) -> np.ndarray:
    g = _geoms(lab) if len(lab) else np.array([], dtype=object)
    if len(g) and not (shapely.get_type_id(g) == 0).all():
        g = np.where(shapely.get_type_id(g) == 0, g, shapely.point_on_surface(g))
    return g


def _label_note(t: str, m, i: int, v_std, codes, ambiguous_codes=frozenset()) -> str:
    if t == "":
        return ""
    v = int(m.village[i])
    if t == "unknown_label":
        inside = int(m.inside[i])
        return (f"名称不对应任何村(社区)，位于{v_std[inside]}（{codes[inside]}）境内" if inside >= 0
                else "名称不对应任何村(社区)，不在任何村(社区)范围内")
    if t == "wrong_name":
        how = "同音" if m.kind[i] == SOUND else f"近似（相似度 {m.score[i]:.2f}）"
        return f"标注名称与“{v_std[v]}”{how}，应改为标准名称"
    if t == "former_name":
        if codes[v] in ambiguous_codes:
            return (f"标注为曾用名，现名“{v_std[v]}”（曾用名表中的代码 {codes[v]} 对应多个村(社区)，"
                    "按标注位置判定为此村）")
        return f"标注为曾用名，现名“{v_std[v]}”"
    if t == "misplaced":
        return (f"标注位于村界外 {m.outside_m[i]:,.0f} 米（距村中心 {m.centre_m[i]:,.0f} 米），"
                "应移至村内")
    if t == "duplicate_label":
        return "与同一村(社区)的另一标注重复（保留距村中心较近者）"
    return KIND_NAMES.get(int(m.kind[i]), "") if m.kind[i] != NONE else ""


def _alias_pairs(al: pd.DataFrame, codes: np.ndarray, v_std: list[str]):
    """(village index, standard former name) for each former name; a code several
    villages share gives the name to each of them (distance decides, :mod:`.match`).

    Returns the pairs, which aliases have a known code, and the ambiguous codes:
    ``[{"code", "villages": [standard names], "former_names": [...]}]``."""
    roster = pd.DataFrame({"code": codes, "i": np.arange(len(codes))})
    known = al["code"].isin(roster["code"]).to_numpy()
    hits = al[known].merge(roster, on="code", how="inner")
    pairs = [(int(i), standard_name(n)) for i, n in
             zip(hits["i"], hits["former_name"], strict=True)]
    shared = roster[roster["code"].duplicated(keep=False)]
    ambiguous = []
    if len(shared) and len(hits):
        for code, g in hits[hits["code"].isin(shared["code"])].groupby("code", sort=True):
            idx = roster.loc[roster["code"] == code, "i"].to_numpy()
            ambiguous.append({"code": str(code),
                              "villages": [v_std[i] for i in idx],
                              "former_names": list(dict.fromkeys(g["former_name"]))})
    return pairs, known, ambiguous


def _code_warnings(ambiguous: list[dict]) -> list[str]:
    if not ambiguous:
        return []
    listed = [f"{a['code']}（{'、'.join(a['villages'])}；曾用名 {'、'.join(a['former_names'])}）"
              for a in ambiguous[:5]]
    more = f" 等 {len(ambiguous)} 个" if len(ambiguous) > 5 else ""
    return [f"曾用名表中有 {len(ambiguous)} 个代码在村(社区)图层中对应多个村(社区)："
            f"{'；'.join(listed)}{more}。这些曾用名无法按代码确定属于哪个村(社区)，已按标注位置"
            "在同代码的村(社区)中就近判定；请在村(社区)图层中更正重复的代码"]


def _crs_check(m, lxy: np.ndarray, vgeoms: np.ndarray, cxy: np.ndarray,
               systems: np.ndarray) -> dict:
    """:func:`layers.crs.suspect_crs` over the labels matched by name (exact or former
    name): each label with its village and the village centre, per system the labels
    were read in. The group with a suspect (the largest) is reported, else the largest."""
    named = (m.village >= 0) & np.isin(m.kind, (EXACT, FORMER))
    declared = np.where(np.isin(systems, (GCJ02, BD09)), systems, CGCS2000) \
        if len(systems) else np.array([], dtype=object)
    results = []
    for system in dict.fromkeys(declared[named]):
        sel = named & (declared == system)
        v = m.village[sel]
        results.append(suspect_crs(lxy[sel, 0], lxy[sel, 1], vgeoms[v], cxy[v, 0], cxy[v, 1],
                                   declared=system))
    if not results:
        return suspect_crs([], [], [], [], [])
    flagged = [r for r in results if r["suspect"]]
    return max(flagged or results, key=lambda r: r["points"])


def roster_findings(codes: np.ndarray, v_std: list[str], v_sound: list[str],
                    town: np.ndarray, cxy: np.ndarray, committee: list[str],
                    generics: tuple[str, ...]) -> pd.DataFrame:
    """duplicate_name (same or same-sounding standard name in one township),
    rare_character and nonstandard_name findings of the roster."""
    n = len(codes)
    if n == 0:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    df = pd.DataFrame({"code": codes, "std": v_std, "sound": v_sound, "town": town,
                       "i": np.arange(n)})
    rows = []
    # same standard name implies same sound: one grouping by (township, sound) finds both
    size = df.groupby(["town", "sound"])["i"].transform("size")
    for _, g in df[size > 1].groupby(["town", "sound"], sort=False):
        for r in g.itertuples():
            others = g[g["i"] != r.i]
            how = "同名" if (others["std"] == r.std).any() else "同音"
            listed = "、".join(f"{o.std}（{o.code}）" for o in others.itertuples())
            rows.append(_roster_row("duplicate_name", r.i, codes, v_std, town, cxy,
                                    f"与同一乡镇的{listed}{how}"))
    rare_cache: dict[str, list[str]] = {}
    ns_cache: dict[str, list[str]] = {}
    for i in range(n):
        name = v_std[i]
        rc = rare_cache.get(name)
        if rc is None:
            rc = rare_cache[name] = rare_characters(name)
        if rc:
            rows.append(_roster_row("rare_character", i, codes, v_std, town, cxy,
                                    f"含生僻字：{'、'.join(rc)}（不在 GB 2312 字符集内）"))
        raw = committee[i]
        ns = ns_cache.get(raw)
        if ns is None:
            ns = ns_cache[raw] = nonstandard_reasons(raw, generics)
        if ns:
            rows.append(_roster_row("nonstandard_name", i, codes, v_std, town, cxy,
                                    f"名册名称“{raw}”：{'；'.join(ns)}"))
    if not rows:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.DataFrame(rows)


def _roster_row(t, i, codes, v_std, town, cxy, note) -> dict:
    return {"type": t, "code": codes[i], "official_name": v_std[i], "label_name": None,
            "suggestion": None, "distance_m": np.nan, "lon": cxy[i, 0], "lat": cxy[i, 1],
            "township_code": town[i], "note": note, "label_id": None}

