"""OGC API - Features (Part 1 Core, Part 2 CRS), read-only, framework-free.

The web tier (``geoservice/web/ogcapi.py``) hands each request here as a path, a plain
mapping of query parameters and the base URL, and gets back a JSON-able document (and the
headers it needs); errors are :class:`OgcError` (an HTTP status, an OGC exception code and
a Chinese description). See docs/ogcapi.md.

Collections:

* every stored layer kind, current version (``?version=N`` reads an older one);
* the latest results people look at, computed from the current layer versions with the
  default parameters (``coverage_villages``, ``boundary_findings``, ``boundary_lines``,
  ``placename_findings``), cached in memory keyed by the layer versions, so paging through
  them recomputes nothing until a layer changes.

Coordinates: stored in CGCS2000 (EPSG:4490). Output in CRS84 (lon/lat), EPSG:4490
(lat/lon, the EPSG axis order) or the workspace's CGCS2000 3-degree Gauss-Kruger zone
(northing/easting, the EPSG axis order). CGCS2000 and WGS 84 agree to centimetres: PROJ
gives identical numbers for CRS84 and EPSG:4490, so a ``bbox`` in either finds the same
features.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import box

from geoservice.errors import BadParameter
from geoservice.services.params import whole_number
from layers import LayerStore
from layers.crs import STORED_CRS, gk_zone_epsg
from layers.errors import LayerNotFound
from layers.schema import KINDS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
STORAGE_CRS = EPSG_URI + "4490"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
REL_DATA = "data"
REL_CONFORMANCE = "conformance"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

# Query parameters each kind of resource accepts (besides the queryable fields on items).
COMMON_PARAMS = {"f"}
ITEMS_PARAMS = {"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "version"}
ITEM_PARAMS = {"f", "crs", "version"}
COLLECTION_PARAMS = {"f", "version"}

# Internal column holding each feature's id (never shown as a property).
FID = "_ogc_id"


class OgcError(Exception):
    """A request this service refuses: ``status`` (400/404), the OGC exception ``code``
    and a Chinese ``description``."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description

    def to_dict(self) -> dict:
        return {"code": self.code, "description": self.description}


def bad(description: str, code: str = "InvalidParameterValue") -> OgcError:
    return OgcError(400, code, description)


def not_found(description: str) -> OgcError:
    return OgcError(404, "NotFound", description)


# --- collections ----------------------------------------------------------------------

# Chinese labels of the result columns (the layer kinds' fields have theirs in the schema).
RESULT_LABELS = {
    "code": "代码", "name": "名称", "township_code": "所属乡镇代码", "population": "户籍人口",
    "elderly_population": "60岁以上人口", "covered": "是否覆盖", "nearest_m": "到最近设施距离（米）",
    "nearest_facility": "最近设施", "facilities_inside": "村内设施数", "has_facility": "村内有设施",
    "access": "可达性指数（床位/老人）", "access_per_1000": "每千名老人可达床位",
    "centre_lon": "中心经度", "centre_lat": "中心纬度",
    "type": "问题类型", "severity": "严重程度", "layer": "图层", "codes": "相关代码",
    "names": "相关名称", "area_m2": "面积（平方米）", "length_m": "长度（米）", "lon": "经度",
    "lat": "纬度", "message": "说明", "subtype": "子类型", "ref": "编号",
    "kind": "类型", "code_a": "一侧代码", "name_a": "一侧名称", "code_b": "另一侧代码",
    "name_b": "另一侧名称", "length_km": "长度（千米）",
    "official_name": "标准名称", "label_name": "标注名称", "suggestion": "建议",
    "distance_m": "距离（米）", "type_label": "问题类型（中文）", "township_name": "所属乡镇",
    "note": "说明", "label_id": "标注序号",
}


@dataclass
class Collection:
    """One collection: its features (EPSG:4490, with the id column), what describes it,
    and where it came from."""

    id: str
    title: str
    description: str
    frame: gpd.GeoDataFrame
    labels: dict[str, str]
    date: str  # ISO date-time of the layer version (results: the newest input)
    layer: bool  # a stored layer kind (``?version=N`` allowed)
    version: int | None = None
    id_field: str | None = None
    _bbox: tuple | None = field(default=None, repr=False)

    @property
    def fields(self) -> list[str]:
        return [c for c in self.frame.columns if c not in (FID, self.frame.geometry.name)]

    @property
    def queryables(self) -> list[str]:
        """Fields a query parameter can filter on: every field whose name is not one of
        the standard parameters (place_labels' ``crs`` field is not: ``crs`` is the
        output CRS)."""
        return [f for f in self.fields if f not in ITEMS_PARAMS]

    @property
    def bbox(self) -> list[float] | None:
        if self._bbox is None:
            geoms = self.frame.geometry
            geoms = geoms[~(geoms.isna() | geoms.is_empty)]
            self._bbox = tuple(float(v) for v in geoms.total_bounds) if len(geoms) else ()
        return list(self._bbox) or None


def _ids(frame: gpd.GeoDataFrame, id_field: str | None) -> tuple[gpd.GeoDataFrame, str | None]:
    """Give every feature a stable id: the code where there is one (unique, never empty),
    else its 1-based position in the layer version or result."""
    frame = frame.copy()
    if id_field and id_field in frame.columns:
        values = frame[id_field]
        if values.notna().all() and values.astype(str).str.len().gt(0).all() \
                and values.astype(str).is_unique:
            frame[FID] = values.astype(str).to_numpy()
            return frame, id_field
    frame[FID] = [str(i) for i in range(1, len(frame) + 1)]
    return frame, None


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Result columns as values every client can store: lists joined with '、'."""
    frame = frame.copy()
    for col in frame.columns:
        if col == frame.geometry.name or frame[col].dtype != object:
            continue
        if frame[col].map(lambda v: isinstance(v, (list, tuple))).any():
            frame[col] = frame[col].map(
                lambda v: "、".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return frame.reset_index(drop=True)


def layer_collection(store: LayerStore, kind: str, version: int | None = None) -> Collection:
    """A stored layer kind (``version=None``: the current one) as a collection."""
    lk = KINDS[kind]
    versions = {v.version: v for v in store.versions(kind)}
    if version is None:
        current = store.current_versions().get(kind)
        if current is None:
            raise not_found(f"工作空间中没有“{lk.label}”图层（{kind}）")
        v = current
    else:
        if version not in versions:
            known = "、".join(str(n) for n in sorted(versions)) or "无"
            raise not_found(f"“{lk.label}”图层没有第 {version} 版（现有版本：{known}）")
        v = versions[version]
    try:
        gdf = store.read(kind, version=v.version)
    except LayerNotFound as exc:
        raise not_found(str(exc)) from None
    id_field = "code" if "code" in gdf.columns else ("number" if kind == "boundary_markers"
                                                      else None)
    frame, id_field = _ids(gdf.reset_index(drop=True), id_field)
    labels = {f.name: f.label for f in lk.fields}
    labels.update({c: labels.get(c, RESULT_LABELS.get(c, c)) for c in frame.columns})
    current_note = "当前版本" if v.current else "历史版本"
    description = (f"工作空间图层“{lk.label}”（{kind}）第 {v.version} 版（{current_note}），"
                   f"{lk.geometry_label}要素 {len(frame)} 个，来源：{v.source}，导入时间 {v.created}。")
    return Collection(kind, f"{lk.label}（第 {v.version} 版）" if version else lk.label,
                      description, frame, labels, v.created, True, v.version, id_field)


def _result_collections(store: LayerStore, log: Callable[[str], None]) -> list[Collection]:
    """The analysis results, with the default parameters, on the current layer versions."""
    from geoservice.services.boundaries import boundary_params, run_boundaries
    from geoservice.services.coverage import coverage_params, run_coverage
    from geoservice.services.placenames import run_placenames

    versions = store.current_versions()

    def date_of(kinds) -> str:
        dates = [versions[k].created for k in kinds if k in versions]
        return max(dates) if dates else ""

    def used(layer_versions: dict) -> str:
        return "、".join(f"{KINDS[k].label}第 {n} 版" for k, n in layer_versions.items()
                        if k in KINDS)

    out: list[Collection] = []
    try:
        params = coverage_params()
        cov = run_coverage(store, params)
        lv = cov.summary["inputs"]["layer_versions"]
        frame, id_field = _ids(_plain(cov.villages), "code")
        out.append(Collection(
            "coverage_villages", "养老服务覆盖（村）",
            f"按默认参数（{KINDS[params.layer].label}，服务半径 {params.radius_m:g} 米）"
            f"计算的各村(社区)覆盖情况：是否覆盖（covered）、到最近设施距离（nearest_m）、"
            f"可达性（access）。使用的图层：{used(lv)}；图层更新后自动重算。",
            frame, dict(RESULT_LABELS), date_of(lv), False, None, id_field))
    except Exception as exc:  # noqa: BLE001 - a result that cannot run is left out
        log(f"coverage result left out: {exc}")
    try:
        rev = run_boundaries(store, boundary_params())
        lv = rev.summary.get("inputs", {}).get("layer_versions", {})
        note = f"按默认容差审查乡镇(街道)边界。使用的图层：{used(lv)}；图层更新后自动重算。"
        frame, _ = _ids(_plain(rev.findings), None)
        out.append(Collection("boundary_findings", "边界审查问题",
                              "边界审查发现的问题（缝隙、重叠、界桩等）。" + note,
                              frame, dict(RESULT_LABELS), date_of(lv), False))
        frame, _ = _ids(_plain(rev.boundary_lines), None)
        out.append(Collection("boundary_lines", "边界线",
                              "相邻乡镇(街道)之间的共有边界线和县界段，含长度。" + note,
                              frame, dict(RESULT_LABELS), date_of(lv), False))
    except Exception as exc:  # noqa: BLE001
        log(f"boundary results left out: {exc}")
    try:
        pn = run_placenames(store, labels_optional=True)
        lv = pn.summary.get("inputs", {}).get("layer_versions", {})
        frame, _ = _ids(_plain(pn.findings), None)
        out.append(Collection(
            "placename_findings", "地名核查问题",
            "按默认容差核对地名标注与村(社区)名册的结果（缺失、错位、错别字等）。"
            f"使用的图层：{used(lv)}；图层更新后自动重算。",
            frame, dict(RESULT_LABELS), date_of(lv), False))
    except Exception as exc:  # noqa: BLE001
        log(f"place-name results left out: {exc}")
    return out


class Catalog:
    """Every collection of one workspace, built once per set of current layer versions
    (results included) and kept in memory; old layer versions are kept in a small LRU."""

    OLD_VERSIONS_KEPT = 8

    def __init__(self, store: LayerStore, log: Callable[[str], None] = lambda _m: None):
        self.store = store
        self.log = log
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._collections: dict[str, Collection] = {}
        self._zone: int | None = None
        self._old: OrderedDict[tuple[str, int], Collection] = OrderedDict()

    def _refresh(self) -> None:
        versions = self.store.current_versions()
        key = tuple(sorted((k, v.version, v.created) for k, v in versions.items()))
        with self._lock:
            if key == self._key:
                return
            collections: dict[str, Collection] = {}
            for kind in KINDS:
                if kind in versions:
                    collections[kind] = layer_collection(self.store, kind)
            for c in _result_collections(self.store, self.log):
                collections[c.id] = c
            self._collections, self._key = collections, key
            self._zone = self._gk_zone(collections)

    @staticmethod
    def _gk_zone(collections: dict[str, Collection]) -> int:
        for kind in ("townships", "villages", *collections):
            c = collections.get(kind)
            if c is not None and c.bbox:
                minx, _, maxx, _ = c.bbox
                return gk_zone_epsg((minx + maxx) / 2)
        return gk_zone_epsg(105.0)

    def all(self) -> list[Collection]:
        self._refresh()
        return list(self._collections.values())

    def zone_epsg(self) -> int:
        self._refresh()
        return self._zone or gk_zone_epsg(105.0)

    def crs_list(self) -> list[str]:
        return [CRS84, STORAGE_CRS, f"{EPSG_URI}{self.zone_epsg()}"]

    def get(self, cid: str, version: int | None = None) -> Collection:
        self._refresh()
        c = self._collections.get(cid)
        if version is None or (c is not None and c.layer and c.version == version):
            if c is None:
                if cid in KINDS:
                    raise not_found(f"工作空间中没有“{KINDS[cid].label}”图层（{cid}）")
                raise not_found(f"没有名为“{cid}”的集合，可用集合见 /ogcapi/collections")
            return c
        if cid not in KINDS:
            if c is None:
                raise not_found(f"没有名为“{cid}”的集合，可用集合见 /ogcapi/collections")
            raise bad(f"参数 version 只适用于图层集合，“{c.title}”是分析结果，总是按当前图层计算")
        key = (cid, version)
        with self._lock:
            if key in self._old:
                self._old.move_to_end(key)
                return self._old[key]
        old = layer_collection(self.store, cid, version)
        with self._lock:
            self._old[key] = old
            while len(self._old) > self.OLD_VERSIONS_KEPT:
                self._old.popitem(last=False)
        return old


# --- parameters -----------------------------------------------------------------------

def check_params(args: Mapping[str, str], allowed: set[str], fields: list[str] = ()) -> None:
    unknown = [k for k in args if k not in allowed and k not in fields]
    if unknown:
        names = "、".join(sorted(allowed | set(fields)))
        raise bad(f"未知的查询参数“{unknown[0]}”；可用参数：{names}", "InvalidParameterValue")


def whole(text: str | None, name: str, *, default: int, lowest: int, highest: int) -> int:
    """``params.whole_number`` (blank text counts as not given), as an OGC exception."""
    if text is None or text.strip() == "":
        return default
    try:
        return whole_number(text, name, default=default, lowest=lowest, highest=highest)
    except BadParameter as exc:
        raise bad(str(exc)) from None


def crs_uri(text: str, supported: list[str], name: str = "crs") -> str:
    """A CRS URI from ``supported``; ``[EPSG:4490]``/``EPSG:4490``/``OGC:CRS84`` accepted
    for the same URIs; anything else is a Chinese 400."""
    t = text.strip().strip("[]")
    m = re.fullmatch(r"(?i)epsg:(\d+)", t)
    if m:
        t = EPSG_URI + m.group(1)
    elif t.upper() in ("OGC:CRS84", "CRS84"):
        t = CRS84
    t = t.replace("https://", "http://")
    if t not in supported:
        raise bad(f"参数 {name}“{text}”不是本集合支持的坐标系；可用：" + "、".join(supported))
    return t


def _crs(uri: str) -> CRS:
    return CRS("OGC:CRS84") if uri == CRS84 else CRS(f"EPSG:{uri.rsplit('/', 1)[1]}")


def north_first(uri: str) -> bool:
    """Whether the CRS's first axis points north (EPSG:4490 lat/lon, GK northing/easting)."""
    return _crs(uri).axis_info[0].direction in ("north", "south")


def parse_bbox(text: str, bbox_crs: str):
    """``bbox`` in ``bbox_crs`` (its own axis order) as a polygon in EPSG:4490."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    shape_ok = len(values) == 4 and all(math.isfinite(v) for v in values)
    if shape_ok and north_first(bbox_crs):
        values = [values[1], values[0], values[3], values[2]]
    geographic = bbox_crs in (CRS84, STORAGE_CRS)
    if (not shape_ok or values[0] > values[2] or values[1] > values[3]
            or (geographic and not (-180 <= values[0] <= values[2] <= 180
                                    and -90 <= values[1] <= values[3] <= 90))):
        order = ("最小纬度,最小经度,最大纬度,最大经度" if bbox_crs == STORAGE_CRS
                 else "最小经度,最小纬度,最大经度,最大纬度" if bbox_crs == CRS84
                 else "最小北坐标,最小东坐标,最大北坐标,最大东坐标（米）")
        raise bad(f"参数 bbox“{text}”格式错误：在坐标系 {bbox_crs} 中应为 {order}，"
                  "四个有限数值且最小值不大于最大值")
    poly = box(*values)
    if geographic:
        return poly
    dense = shapely.segmentize(poly, max(values[2] - values[0], values[3] - values[1]) / 32 or 1)
    return gpd.GeoSeries([dense], crs=_crs(bbox_crs)).to_crs(STORED_CRS).iloc[0]


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?)?")


def _instant(text: str, name: str = "datetime") -> dt.datetime | None:
    if text in ("..", ""):
        return None
    if not _INSTANT.fullmatch(text):
        raise bad(f"参数 {name}“{text}”格式错误：应为 RFC 3339 日期时间（如 2024-05-01 或"
                  " 2024-05-01T08:00:00Z）或区间 开始/结束（一端可为 ..）")
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"参数 {name}“{text}”不是有效的日期时间") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def datetime_matches(text: str, date: str) -> bool:
    """Whether the collection's date (its version date) falls in ``datetime`` (an
    instant, a date = the whole day, or an interval with open ends ``..``)."""
    parts = text.split("/")
    if len(parts) > 2:
        raise bad(f"参数 datetime“{text}”格式错误")
    when = _instant(date) if date else None
    if when is None:
        return False
    if len(parts) == 1:
        start = _instant(parts[0])
        if start is None:
            raise bad(f"参数 datetime“{text}”格式错误：单个时间不能为 ..")
        end = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1) \
            if len(parts[0]) == 10 else start
    else:
        if parts == ["..", ".."] or parts == ["", ""]:
            raise bad(f"参数 datetime“{text}”格式错误：区间至少一端应为日期时间")
        start, end = _instant(parts[0]), _instant(parts[1])
        if end is not None and len(parts[1]) == 10:
            end = end + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        if start is not None and end is not None and start > end:
            raise bad(f"参数 datetime“{text}”的开始时间晚于结束时间")
    return (start is None or when >= start) and (end is None or when <= end)


_TRUE = {"true", "1", "yes", "是"}
_FALSE = {"false", "0", "no", "否"}


def field_mask(frame: gpd.GeoDataFrame, name: str, text: str, label: str) -> pd.Series:
    """Features whose field ``name`` equals ``text`` (typed by the column)."""
    col = frame[name]
    if pd.api.types.is_bool_dtype(col.dtype):
        low = text.strip().lower()
        if low not in _TRUE | _FALSE:
            raise bad(f"参数 {name}（{label}）“{text}”应为 true 或 false")
        return (col == (low in _TRUE)).fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(col.dtype):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise bad(f"参数 {name}（{label}）“{text}”应为数值")
        return (col.astype("Float64") == value).fillna(False).astype(bool)
    return (col.astype("string") == text).fillna(False).astype(bool)


def json_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "number"
    return "string"


# --- documents ------------------------------------------------------------------------

def link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def with_query(url: str, args: Mapping[str, str]) -> str:
    query = urlencode({k: v for k, v in args.items() if v is not None})
    return f"{url}?{query}" if query else url


def landing(base: str, title: str) -> dict:
    return {
        "title": f"{title} · OGC API - Features",
        "description": "县级民政规划图层和分析结果的只读 OGC API - Features 服务"
                       "（可在 QGIS、ArcGIS Pro 中作为数据源添加）",
        "links": [
            link(f"{base}?f=json", "self", JSON, "本页（JSON）"),
            link(f"{base}?f=html", "alternate", HTML, "本页（网页）"),
            link(f"{base}/openapi?f=json", "service-desc", OPENAPI, "接口定义（OpenAPI 3.0）"),
            link(f"{base}/openapi?f=html", "service-doc", HTML, "接口说明（网页）"),
            link(f"{base}/conformance?f=json", REL_CONFORMANCE, JSON, "符合的标准"),
            link(f"{base}/conformance?f=json",
                 "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, "符合的标准"),
            link(f"{base}/collections?f=json", REL_DATA, JSON, "数据集合"),
            link(f"{base}/collections?f=json", "http://www.opengis.net/def/rel/ogc/1.0/data",
                 JSON, "数据集合"),
        ],
    }


def conformance(base: str) -> dict:
    return {"conformsTo": list(CONFORMANCE),
            "links": [link(f"{base}/conformance?f=json", "self", JSON, "本页"),
                      link(f"{base}/conformance?f=html", "alternate", HTML, "本页（网页）")]}


def collection_doc(c: Collection, base: str, crs_list: list[str], *,
                   version_arg: bool = False) -> dict:
    url = f"{base}/collections/{c.id}"
    extra = {"version": str(c.version)} if version_arg else {}
    doc: dict = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "links": [
            link(with_query(url, {"f": "json", **extra}), "self", JSON, "本集合"),
            link(with_query(url, {"f": "html", **extra}), "alternate", HTML, "本集合（网页）"),
            link(with_query(f"{url}/items", {"f": "json", **extra}), "items", GEOJSON,
                 "要素（GeoJSON）"),
            link(with_query(f"{url}/items", {"f": "html", **extra}), "items", HTML,
                 "要素（网页地图）"),
            link(f"{url}/queryables?f=json", REL_QUERYABLES, "application/schema+json",
                 "可查询字段"),
        ],
        "extent": {
            "spatial": {"bbox": [c.bbox or [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84},
            "temporal": {"interval": [[c.date or None, c.date or None]], "trs": TRS},
        },
        "crs": list(crs_list),
        "storageCrs": STORAGE_CRS,
    }
    if c.layer:
        doc["version"] = c.version
    return doc


def collections_doc(catalog: Catalog, base: str) -> dict:
    crs = catalog.crs_list()
    return {
        "links": [link(f"{base}/collections?f=json", "self", JSON, "数据集合"),
                  link(f"{base}/collections?f=html", "alternate", HTML, "数据集合（网页）")],
        "collections": [collection_doc(c, base, crs) for c in catalog.all()],
        "crs": crs,
    }


def queryables(c: Collection, base: str) -> dict:
    url = f"{base}/collections/{c.id}/queryables"
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": c.title,
        "description": "可作为查询参数筛选要素的字段（如 ?township_code=511425102），取值须完全相等",
        "properties": {name: {"title": c.labels.get(name, name),
                              "type": json_type(c.frame[name])} for name in c.queryables},
        "additionalProperties": False,
    }


@dataclass
class Page:
    """An items response: the GeoJSON body and the CRS of its coordinates."""

    body: dict
    crs: str
    collection: Collection
    frame: gpd.GeoDataFrame  # the page's features, EPSG:4490 (for an HTML map)


def output_frame(frame: gpd.GeoDataFrame, uri: str) -> gpd.GeoDataFrame:
    """``frame`` (EPSG:4490) in ``uri`` with coordinates in that CRS's axis order."""
    out = frame.to_crs(_crs(uri))
    if north_first(uri):
        geoms = out.geometry.values
        present = ~(pd.isna(geoms) | shapely.is_empty(np.asarray(geoms)))
        swapped = np.asarray(geoms).copy()
        swapped[present] = shapely.transform(swapped[present], lambda xy: xy[:, ::-1])
        out = out.set_geometry(gpd.GeoSeries(swapped, index=out.index, crs=out.crs))
    return out


def features_json(frame: gpd.GeoDataFrame, uri: str, base: str, cid: str) -> list[dict]:
    ids = frame[FID].tolist()
    out = output_frame(frame.drop(columns=[FID]), uri)
    data = json.loads(out.to_json(drop_id=True, na="null"))
    for fid, feature in zip(ids, data["features"], strict=True):
        feature["id"] = int(fid) if fid.isdigit() and len(fid) < 10 else fid
        feature["links"] = [link(f"{base}/collections/{cid}/items/{fid}?f=json", "self",
                                 GEOJSON, "本要素")]
    return data["features"]


def items(catalog: Catalog, cid: str, args: Mapping[str, str], base: str, *,
          page_default: int, page_max: int) -> Page:
    version = _version(args)
    c = catalog.get(cid, version)
    check_params(args, ITEMS_PARAMS, c.queryables)
    crs_list = catalog.crs_list()
    uri = crs_uri(args["crs"], crs_list) if args.get("crs") else CRS84
    limit = whole(args.get("limit"), "limit", default=page_default, lowest=1, highest=page_max)
    offset = whole(args.get("offset"), "offset", default=0, lowest=0, highest=2**31 - 1)
    frame = c.frame
    mask = np.ones(len(frame), dtype=bool)
    for name in c.queryables:
        if name in args:
            mask &= field_mask(frame, name, args[name], c.labels.get(name, name)).to_numpy()
    if args.get("bbox"):
        bbox_crs = crs_uri(args["bbox-crs"], crs_list, "bbox-crs") if args.get("bbox-crs") \
            else CRS84
        poly = parse_bbox(args["bbox"], bbox_crs)
        hit = np.zeros(len(frame), dtype=bool)
        hit[frame.sindex.query(poly, predicate="intersects")] = True
        mask &= hit
    elif args.get("bbox-crs"):
        crs_uri(args["bbox-crs"], crs_list, "bbox-crs")
    if args.get("datetime") and not datetime_matches(args["datetime"], c.date):
        mask[:] = False
    matched = frame[mask]
    page = matched.iloc[offset:offset + limit]
    url = f"{base}/collections/{c.id}/items"
    keep = {k: v for k, v in args.items() if k not in ("f", "offset", "limit")}
    links = [link(with_query(url, {**keep, "f": "json", "limit": limit, "offset": offset}),
                  "self", GEOJSON, "本页"),
             link(with_query(url, {**keep, "f": "html", "limit": limit, "offset": offset}),
                  "alternate", HTML, "本页（网页地图）"),
             link(with_query(f"{base}/collections/{c.id}",
                             {"f": "json", **({"version": keep["version"]}
                                              if "version" in keep else {})}),
                  "collection", JSON, c.title)]
    if offset + limit < len(matched):
        links.append(link(with_query(url, {**keep, "f": "json", "limit": limit,
                                           "offset": offset + limit}),
                          "next", GEOJSON, "下一页"))
    if offset > 0:
        links.append(link(with_query(url, {**keep, "f": "json", "limit": limit,
                                           "offset": max(offset - limit, 0)}),
                          "prev", GEOJSON, "上一页"))
    body = {
        "type": "FeatureCollection",
        "features": features_json(page, uri, base, c.id),
        "numberMatched": int(len(matched)),
        "numberReturned": int(len(page)),
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    return Page(body, uri, c, page)


def item(catalog: Catalog, cid: str, fid: str, args: Mapping[str, str], base: str) -> Page:
    version = _version(args)
    c = catalog.get(cid, version)
    check_params(args, ITEM_PARAMS)
    uri = crs_uri(args["crs"], catalog.crs_list()) if args.get("crs") else CRS84
    hit = c.frame[c.frame[FID] == fid]
    if hit.empty:
        raise not_found(f"集合“{c.title}”中没有编号为“{fid}”的要素")
    feature = features_json(hit, uri, base, c.id)[0]
    extra = {"version": str(version)} if version else {}
    feature["links"] = [
        link(with_query(f"{base}/collections/{c.id}/items/{fid}", {"f": "json", **extra}),
             "self", GEOJSON, "本要素"),
        link(with_query(f"{base}/collections/{c.id}/items/{fid}", {"f": "html", **extra}),
             "alternate", HTML, "本要素（网页地图）"),
        link(with_query(f"{base}/collections/{c.id}", {"f": "json", **extra}), "collection",
             JSON, c.title)]
    return Page(feature, uri, c, hit)


def _version(args: Mapping[str, str]) -> int | None:
    if args.get("version") in (None, ""):
        return None
    return whole(args["version"], "version", default=0, lowest=1, highest=2**31 - 1)


def collection(catalog: Catalog, cid: str, args: Mapping[str, str], base: str) -> dict:
    version = _version(args)
    c = catalog.get(cid, version)
    check_params(args, COLLECTION_PARAMS)
    doc = collection_doc(c, base, catalog.crs_list(), version_arg=version is not None)
    if c.layer:
        doc["versions"] = [v.version for v in catalog.store.versions(cid)]
    return doc


# --- OpenAPI --------------------------------------------------------------------------

def openapi(catalog: Catalog, base: str, title: str, *, page_default: int,
            page_max: int) -> dict:
    """The OpenAPI 3.0 document, generated from the collections (one items path each,
    with its queryable fields as parameters)."""
    crs_list = catalog.crs_list()

    def param(name, description, schema, where="query", required=False, **extra):
        return {"name": name, "in": where, "description": description, "required": required,
                "schema": schema, **extra}

    f_param = param("f", "输出格式：json 或 html", {"type": "string", "enum": ["json", "html"]})
    common_items = [
        f_param,
        param("limit", f"每页要素数（默认 {page_default}，最多 {page_max}）",
              {"type": "integer", "minimum": 1, "maximum": page_max, "default": page_default},
              style="form", explode=False),
        param("offset", "跳过的要素数", {"type": "integer", "minimum": 0, "default": 0}),
        param("bbox", "范围：按 bbox-crs 的坐标轴顺序的 最小1,最小2,最大1,最大2",
              {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
              style="form", explode=False),
        param("bbox-crs", "bbox 的坐标系（默认 CRS84）",
              {"type": "string", "format": "uri", "enum": crs_list, "default": CRS84}),
        param("crs", "输出坐标系（默认 CRS84）",
              {"type": "string", "format": "uri", "enum": crs_list, "default": CRS84}),
        param("datetime", "按版本日期筛选：日期时间或区间 开始/结束（一端可为 ..）",
              {"type": "string"}),
    ]
    fc = {"200": {"description": "要素集合",
                  "content": {GEOJSON: {"schema": {"type": "object"}},
                              HTML: {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "404": {"$ref": "#/components/responses/NotFound"}}
    paths: dict = {
        "/": {"get": {"summary": "服务首页", "operationId": "getLandingPage",
                      "parameters": [f_param],
                      "responses": {"200": {"description": "首页"}}}},
        "/conformance": {"get": {"summary": "符合的标准", "operationId": "getConformance",
                                 "parameters": [f_param],
                                 "responses": {"200": {"description": "标准列表"}}}},
        "/openapi": {"get": {"summary": "接口定义", "operationId": "getOpenAPI",
                             "parameters": [f_param],
                             "responses": {"200": {"description": "OpenAPI 3.0 文档"}}}},
        "/collections": {"get": {"summary": "数据集合列表", "operationId": "getCollections",
                                 "parameters": [f_param],
                                 "responses": {"200": {"description": "集合列表"}}}},
    }
    for c in catalog.all():
        p = f"/collections/{c.id}"
        version = [param("version", "图层版本号（默认当前版本）",
                         {"type": "integer", "minimum": 1})] if c.layer else []
        fields = [param(n, f"{c.labels.get(n, n)}：取值完全相等的要素",
                        {"type": json_type(c.frame[n])}) for n in c.queryables]
        paths[p] = {"get": {"summary": f"集合：{c.title}", "operationId": f"describe_{c.id}",
                            "parameters": [f_param, *version],
                            "responses": {"200": {"description": c.description},
                                          "404": {"$ref": "#/components/responses/NotFound"}}}}
        paths[f"{p}/queryables"] = {"get": {
            "summary": f"可查询字段：{c.title}", "operationId": f"queryables_{c.id}",
            "parameters": [f_param],
            "responses": {"200": {"description": "JSON Schema",
                                  "content": {"application/schema+json": {
                                      "schema": {"type": "object"}}}}}}}
        paths[f"{p}/items"] = {"get": {
            "summary": f"要素：{c.title}", "operationId": f"getFeatures_{c.id}",
            "parameters": [*common_items, *version, *fields], "responses": fc}}
        paths[f"{p}/items/{{featureId}}"] = {"get": {
            "summary": f"单个要素：{c.title}", "operationId": f"getFeature_{c.id}",
            "parameters": [param("featureId", "要素编号" + ("（代码）" if c.id_field else "（序号）"),
                                 {"type": "string"}, where="path", required=True),
                           f_param, common_items[5], *version],
            "responses": {"200": {"description": "要素",
                                  "content": {GEOJSON: {"schema": {"type": "object"}}}},
                          "404": {"$ref": "#/components/responses/NotFound"}}}}
    exception = {"type": "object", "required": ["code"],
                 "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{title} · OGC API - Features", "version": "1.0",
                 "description": "只读的图层与分析结果服务（OGC API - Features 第 1、2 部分）"},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": {"exception": exception},
            "responses": {
                "BadRequest": {"description": "参数错误",
                               "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "NotFound": {"description": "不存在",
                             "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
            },
        },
    }


def workspace_title(store: LayerStore) -> str:
    return store.info().get("title", "") or "工作空间"
