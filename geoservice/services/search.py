"""Search the workspace's named features: villages, townships, facilities, place labels …

``search(store, q, limit=…)`` matches ``q`` (case-insensitive) against each feature's
name, code, full pinyin and pinyin initials, over the current version of every layer kind
with a ``name`` field, and ranks the hits:

0. the name (or the code) is ``q``;
1. the name (or the code) starts with ``q``;
2. the pinyin initials start with ``q`` ("hy" finds 汉阳);
3. the full pinyin starts with ``q``;
4. the name contains ``q``;
5. the initials, the full pinyin or the code contain ``q``;

then shorter names first, then by kind and name. Each hit is a plain dict: ``kind``,
``kind_label``, ``name``, ``code``, ``lon``/``lat`` (a point on the feature, CGCS2000
degrees as stored), ``layer`` (the registry key the home map gives the kind: the kind
itself), ``index`` (the feature's position in its layer version), ``version``, and the
name's ``pinyin`` and ``initials`` (the map ranks them with its own entries).

The index of one (kind, version) is built once and kept in the ``cache`` the caller owns
(the web tier keeps one per app); a new version is a new key, the old one is dropped.
Pinyin comes from ``pinyin`` (names -> [full, initials] each), by default pypinyin with
the names cached.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from layers import KINDS, LayerStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_QUERY = 100
_NOT_PINYIN = re.compile(r"[^a-z0-9]")
_NAMES: dict[str, tuple[str, str]] = {}
_NAMES_MAX = 500_000
_LOCK = threading.Lock()


def searchable_kinds() -> list[str]:
    """Layer kinds with a ``name`` field, in the schema's order."""
    return [k for k, lk in KINDS.items() if any(f.name == "name" for f in lk.fields)]


def default_pinyin(names: list) -> list:
    """[full pinyin, initials] of each name (lower-case letters and digits), names cached."""
    from pypinyin import lazy_pinyin

    out = []
    with _LOCK:
        for name in names:
            if not isinstance(name, str) or not name:
                out.append(("", ""))
                continue
            hit = _NAMES.get(name)
            if hit is None:
                syl = [_NOT_PINYIN.sub("", s.lower()) for s in lazy_pinyin(name)]
                syl = [s for s in syl if s]
                hit = ("".join(syl), "".join(s[0] for s in syl))
                if len(_NAMES) < _NAMES_MAX:
                    _NAMES[name] = hit
            out.append(hit)
    return out


@dataclass
class KindIndex:
    """The searchable entries of one layer version (parallel lists)."""

    kind: str
    version: int
    names: list[str]
    codes: list[str]
    lower: list[str]
    full: list[str]
    initials: list[str]
    lon: list[float]
    lat: list[float]
    index: list[int]


def _text(value) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def build_index(store: LayerStore, kind: str, version: int,
                pinyin: Callable[[list], list] = default_pinyin) -> KindIndex:
    """The entries of ``kind`` at ``version``: every feature with a name and a geometry."""
    import shapely

    gdf = store.read(kind, version=version)
    names = [_text(v) for v in gdf["name"]] if "name" in gdf else [""] * len(gdf)
    codes = [_text(v) for v in gdf["code"]] if "code" in gdf else [""] * len(gdf)
    points = shapely.point_on_surface(gdf.geometry.to_numpy()) if len(gdf) else []
    keep = [i for i in range(len(gdf))
            if names[i] and points[i] is not None and not shapely.is_empty(points[i])]
    kept_names = [names[i] for i in keep]
    py = pinyin(kept_names)
    return KindIndex(
        kind=kind, version=version, names=kept_names, codes=[codes[i] for i in keep],
        lower=[n.lower() for n in kept_names], full=[p[0] for p in py],
        initials=[p[1] for p in py],
        lon=[round(float(shapely.get_x(points[i])), 6) for i in keep],
        lat=[round(float(shapely.get_y(points[i])), 6) for i in keep], index=keep)


def kind_index(store: LayerStore, kind: str, version: int, cache: dict,
               pinyin: Callable[[list], list] = default_pinyin) -> KindIndex:
    """The index of (kind, version) from ``cache``, built once; older versions dropped."""
    key = (kind, version)
    got = cache.get(key)
    if got is None:
        got = build_index(store, kind, version, pinyin)
        for old in [k for k in cache if k[0] == kind and k != key]:
            cache.pop(old, None)
        cache[key] = got
    return got


def normalise_query(q: str | None) -> str:
    """The query as matched: trimmed, lower case; a Chinese error when empty or too long."""
    from geoservice.errors import BadParameter

    text = (q or "").strip().lower()
    if not text:
        raise BadParameter("请提供搜索内容（参数 q）")
    if len(text) > MAX_QUERY:
        raise BadParameter(f"搜索内容过长：最多 {MAX_QUERY} 个字符")
    return text


def _rank(q: str, ascii_q: bool, name: str, code: str, full: str, initials: str) -> int:
    code_l = code.lower()
    if name == q or (code_l and code_l == q):
        return 0
    if name.startswith(q) or (code_l and code_l.startswith(q)):
        return 1
    if ascii_q and initials.startswith(q):
        return 2
    if ascii_q and full.startswith(q):
        return 3
    if q in name:
        return 4
    if (ascii_q and (q in initials or q in full)) or (code_l and q in code_l):
        return 5
    return -1


def search(store: LayerStore, q: str, *, limit: int = DEFAULT_LIMIT, cache: dict,
           kinds: list[str] | None = None,
           pinyin: Callable[[list], list] = default_pinyin) -> list[dict]:
    """The best ``limit`` features matching ``q`` (see the module docstring)."""
    query = normalise_query(q)
    ascii_q = bool(re.fullmatch(r"[a-z0-9]+", query))
    current = store.current_versions()
    order = {k: i for i, k in enumerate(searchable_kinds())}
    scored: list[tuple] = []
    for kind in kinds or searchable_kinds():
        v = current.get(kind)
        if v is None or not v.features:
            continue
        ix = kind_index(store, kind, v.version, cache, pinyin)
        for j, name in enumerate(ix.lower):
            r = _rank(query, ascii_q, name, ix.codes[j], ix.full[j], ix.initials[j])
            if r >= 0:
                scored.append((r, len(name), order.get(kind, 99), ix.names[j], ix, j))
    scored.sort(key=lambda t: t[:4])
    out = []
    for _r, _n, _o, _name, ix, j in scored[:limit]:
        out.append({
            "kind": ix.kind, "kind_label": KINDS[ix.kind].label, "name": ix.names[j],
            "code": ix.codes[j] or None, "lon": ix.lon[j], "lat": ix.lat[j],
            "layer": ix.kind, "index": ix.index[j], "version": ix.version,
            "pinyin": ix.full[j], "initials": ix.initials[j],
        })
    return out
