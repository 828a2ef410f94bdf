"""Layer changes made by a person: import and restore, each checked against the actor's
role and written to the audit trail (the web views and the CLI both come through here).

An import is also checked against the workspace's other layers (:func:`workspace_checks`):
villages whose township code is not in the current townships layer, and a point file that
as a whole sits where its villages would be in another coordinate system (GCJ-02, BD-09,
CGCS2000; :func:`layers.crs.suspect_crs`). Those are warnings: the file is imported.
"""

from __future__ import annotations

from pathlib import Path

from geoservice.errors import NotFound
from geoservice.services import audit
from geoservice.services.accounts import Actor, require
from layers import LayerNotFound, LayerStore, LayerVersion, ValidationError, import_file
from layers.errors import Problem
from layers.schema import KINDS

# Point kinds whose rows may name their village by code (the facilities).
CODED_POINT_KINDS = tuple(k for k, v in KINDS.items()
                          if "village_code" in v.field_names and "Point" in v.geometry)
# What the coordinate-system warning calls the points of a kind.
POINTS_WHAT = {"place_labels": "标注"}


def import_layer(store: LayerStore, actor: Actor | None, kind: str, path: str | Path, *,
                 crs: str | None = None, filename: str | None = None,
                 limits=None) -> LayerVersion:
    """Import a file as the new current version of ``kind`` by ``actor``; a refused file
    (ValidationError) changes nothing and is audited as refused. The version returned
    carries the defects imported (``warnings``: the reader's and
    :func:`workspace_checks`'), counted in the audit row."""
    require(actor, "import", kind)
    before = audit.current_version(store, kind)
    name = filename or Path(path).name
    try:
        version = import_file(store, kind, path, crs=crs, filename=filename, limits=limits,
                              user=actor.name,
                              checks=lambda gdf: workspace_checks(store, kind, gdf))
    except ValidationError as exc:
        audit.record(store, actor, "import", layer=kind, before=before, after=before,
                     params={"file": name, "crs": crs},
                     result=f"被拒绝：{len(exc.problems)} 处问题，未改变数据")
        raise
    warned = f"（{len(version.warnings)} 处警告）" if version.warnings else ""
    audit.record(store, actor, "import", layer=kind, before=before, after=version.version,
                 params={"file": name, "crs": crs or version.source_crs},
                 result=f"导入 {version.features} 个要素{warned}，成为第 {version.version} 版")
    return version


def workspace_checks(store: LayerStore, kind: str, gdf) -> list[Problem]:
    """Warnings about a layer as read (``layers.read_layer``) against the workspace's
    current layers, before it is written. A planned_sites file that would change an
    approved plan's sites is refused (``services.plans.guard_layer``, 409)."""
    if kind == "planned_sites":
        from geoservice.services.plans import guard_layer

        guard_layer(store, gdf)
        return []
    if kind == "villages":
        return orphan_townships(store, gdf)
    if kind in CODED_POINT_KINDS or kind == "place_labels":
        return crs_warnings(store, kind, gdf)
    return []


def _current(store: LayerStore, kind: str):
    try:
        return store.read(kind)
    except LayerNotFound:
        return None


def _rows(gdf):
    """(line or feature number of each row, unit) of a layer as read."""
    import numpy as np

    rows = gdf.attrs.get("rows")
    if rows is None or len(rows.rows) != len(gdf):
        return np.arange(1, len(gdf) + 1), "要素"
    return rows.rows, rows.unit


def orphan_townships(store: LayerStore, villages) -> list[Problem]:
    """Villages whose (well-formed) township code is not a code of the current townships
    layer: a warning each (none when the workspace has no townships layer)."""
    import numpy as np

    if "township_code" not in villages.columns:
        return []
    townships = _current(store, "townships")
    if townships is None:
        return []
    version = store.current_versions()["townships"].version
    known = set(townships["code"].dropna().astype(str))
    codes = villages["township_code"]
    text = codes.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    candidates = np.flatnonzero(text)
    given = codes.iloc[candidates].astype(object)
    missing = (given.str.fullmatch("[0-9]{9}") & ~given.isin(known)).to_numpy(dtype=bool)
    rows, unit = _rows(villages)
    label = KINDS["villages"].field("township_code").label
    message = f"{label}不在乡镇(街道)图层（当前第 {version} 版）中"
    source = villages.attrs.get("source", "")
    return [Problem(source, int(rows[i]), label, message, unit, codes.iloc[i])
            for i in candidates[missing]]


def crs_warnings(store: LayerStore, kind: str, gdf) -> list[Problem]:
    """The whole-file coordinate-system check of a point layer against the workspace's
    villages: facilities by the village their ``village_code`` names, labels by the
    village whose standard name is theirs (names borne by one village only). A warning
    (:func:`layers.crs.suspect_message`) when the points fit their villages clearly
    better read in another system."""
    import numpy as np

    from layers.crs import suspect_crs, suspect_message

    villages = _current(store, "villages")
    if villages is None or not len(villages) or not len(gdf):
        return []
    if kind == "place_labels":
        which = _by_name(villages, gdf)
    elif "village_code" in gdf.columns:
        which = _by_code(villages, gdf["village_code"])
    else:
        return []
    import shapely

    points = np.asarray(gdf.geometry.values, dtype=object)
    is_point = shapely.get_type_id(points) == 0  # (-1: missing)
    sel = np.flatnonzero(is_point & (which >= 0))
    if not len(sel):
        return []
    from geoservice.analysis.coverage import village_centres_xy
    from layers.crs import STORED_CRS, metric_crs

    # The centres (layers.crs / analysis.coverage.village_centres) of the villages named
    # only, in the metric zone of the whole layer: a centre depends on its own polygon
    # and that zone alone.
    own = which[sel]
    named, back = np.unique(own, return_inverse=True)
    stored = villages.to_crs(STORED_CRS)
    _, lonlat = village_centres_xy(stored.iloc[named], metric_crs(stored))
    result = suspect_crs(shapely.get_x(points[sel]), shapely.get_y(points[sel]),
                         np.asarray(villages.geometry.values, dtype=object)[own],
                         lonlat[back, 0], lonlat[back, 1],
                         declared=gdf.attrs.get("source_crs"))
    message = suspect_message(result, POINTS_WHAT.get(kind, "设施"))
    if not message:
        return []
    _, unit = _rows(gdf)
    return [Problem(gdf.attrs.get("source", ""), None, None, message, unit)]


def _unique_positions(keys) -> dict:
    """key -> position, for the keys (text, not empty) that occur once."""
    from collections import Counter

    counts = Counter(keys)
    return {k: i for i, k in enumerate(keys)
            if isinstance(k, str) and k and counts[k] == 1}


def _by_code(villages, codes):
    """The position in ``villages`` of the village each code names (-1: none, or a code
    borne by several villages)."""
    import numpy as np

    lookup = _unique_positions(list(villages["code"]))
    return np.fromiter((lookup.get(c, -1) if isinstance(c, str) else -1 for c in codes),
                       dtype=np.int64, count=len(codes))


def _by_name(villages, labels):
    """The position in ``villages`` of the village whose standard name is each label's
    (-1: none, or a name several villages bear)."""
    import numpy as np

    from geoservice.analysis.placenames.names import standard_name

    def std(name) -> str:
        return standard_name(name) if isinstance(name, str) else ""

    lookup = _unique_positions([std(n) for n in villages["name"]])
    return np.fromiter((lookup.get(std(n), -1) for n in labels["name"]), dtype=np.int64,
                       count=len(labels))


def restore_version(store: LayerStore, actor: Actor | None, kind: str,
                    version: int) -> LayerVersion:
    """A new current version of ``kind`` equal to its version ``version`` (never
    destructive: every version stays), by ``actor``, audited."""
    require(actor, "restore", kind)
    label = KINDS[kind].label
    try:
        old = store.read(kind, version=int(version))
    except LayerNotFound:
        raise NotFound(f"“{label}”图层没有第 {version} 版") from None
    src = next(v for v in store.versions(kind) if v.version == int(version))
    if kind == "planned_sites":
        from geoservice.services.plans import guard_layer

        guard_layer(store, old)
    before = audit.current_version(store, kind)
    new = store.write(kind, old, source=f"恢复自第 {version} 版（{src.source}）",
                      source_crs=src.source_crs, user=actor.name)
    audit.record(store, actor, "restore", layer=kind, before=before, after=new.version,
                 params={"restored": int(version)},
                 result=f"第 {new.version} 版 = 第 {version} 版（{new.features} 个要素）")
    return new
