"""The layer kinds: their fields, Chinese labels, header aliases and geometry types.

Field names are English identifiers; every field and value a person sees has a Chinese
label. Readers use ``aliases`` to map the headers people actually write (名称, 经度,
床位数, 行政区划代码 ...) onto the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

POINT = ("Point", "MultiPoint")
POLYGON = ("Polygon", "MultiPolygon")
LINE = ("LineString", "MultiLineString")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    dtype: str = "str"  # str | int | float | bool | code
    required: bool = False
    aliases: tuple[str, ...] = ()
    # Allowed values: stored value -> Chinese label. Readers accept either.
    choices: dict[str, str] | None = None
    code_digits: int | None = None


@dataclass(frozen=True)
class LayerKind:
    name: str
    label: str
    geometry: tuple[str, ...]
    fields: tuple[Field, ...] = field(default_factory=tuple)
    optional: bool = False

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def geometry_label(self) -> str:
        if self.geometry == POINT:
            return "点"
        if self.geometry == POLYGON:
            return "面"
        if self.geometry == LINE:
            return "线"
        return "点或面"


NAME = Field("name", "名称", required=True,
             aliases=("名称", "名字", "机构名称", "设施名称", "村名", "地名", "标注名称", "单位名称"))
TOWNSHIP_CODE = Field("code", "乡镇代码", "code", required=True, code_digits=9,
                      aliases=("代码", "乡镇代码", "行政区划代码", "区划代码", "统计用区划代码", "编码"))
VILLAGE_CODE = Field("code", "村(社区)代码", "code", required=True, code_digits=12,
                     aliases=("代码", "村代码", "村(社区)代码", "行政区划代码", "区划代码",
                              "统计用区划代码", "编码"))
PARENT_TOWNSHIP = Field("township_code", "所属乡镇代码", "code", required=True, code_digits=9,
                        aliases=("乡镇代码", "所属乡镇代码", "所属乡镇", "streetcode", "上级代码"))
OPTIONAL_VILLAGE = Field("village_code", "所在村(社区)代码", "code", code_digits=12,
                         aliases=("村代码", "所在村代码", "所在村(社区)代码"))
BEDS = Field("beds", "床位数", "int", aliases=("床位数", "床位", "床位总数", "核定床位"))

# Column of a reviewed layer (villages, townships) naming the rows whose invalid polygon was
# repaired on import, with the reason (layers.readers); the boundary review lists them.
REPAIR_COLUMN = "geometry_repair"

KINDS: dict[str, LayerKind] = {}


def _register(kind: LayerKind) -> LayerKind:
    KINDS[kind.name] = kind
    return kind


_register(LayerKind("townships", "乡镇(街道)", POLYGON, (
    TOWNSHIP_CODE, NAME,
    Field("population", "户籍人口", "int", aliases=("人口", "户籍人口", "总人口")),
)))

_register(LayerKind("villages", "村(社区)", POLYGON, (
    VILLAGE_CODE, NAME, PARENT_TOWNSHIP,
    Field("population", "户籍人口", "int", required=True, aliases=("人口", "户籍人口", "总人口")),
    Field("elderly_population", "60岁以上人口", "int", required=True,
          aliases=("老年人口", "60岁以上人口", "60周岁以上人口", "老龄人口")),
    # The village's own centre (e.g. where its committee sits), in the file's CRS.
    Field("center_lon", "中心经度", "float",
          aliases=("中心经度", "村委会经度", "驻地经度", "经度", "lon", "lng")),
    Field("center_lat", "中心纬度", "float",
          aliases=("中心纬度", "村委会纬度", "驻地纬度", "纬度", "lat")),
)))

_register(LayerKind("welfare_homes", "福利院/特困供养机构", POINT, (
    NAME,
    Field("kind", "类型", aliases=("类型", "机构类型", "类别"),
          choices={"county": "县级福利院", "regional": "区域性福利院", "township": "乡镇敬老院"}),
    BEDS,
    Field("occupied_beds", "在住人数", "int", aliases=("在住人数", "入住人数", "已用床位")),
    Field("accepts_disabled", "失能照护", "bool", aliases=("失能照护", "收住失能", "是否失能照护")),
    OPTIONAL_VILLAGE,
)))

_register(LayerKind("elderly_service_points", "养老服务设施", POINT, (
    NAME,
    Field("level", "层级", required=True, aliases=("层级", "级别", "设施层级", "类型"),
          choices={"township_center": "乡镇养老服务中心", "village_station": "村级互助养老服务站",
                   "group_point": "村民小组养老服务点"}),
    BEDS,
    OPTIONAL_VILLAGE,
)))

_register(LayerKind("cemeteries", "公墓", POINT + POLYGON, (
    NAME,
    Field("kind", "性质", required=True, aliases=("性质", "类型", "公墓性质"),
          choices={"public_welfare": "公益性", "commercial": "经营性"}),
    Field("capacity_graves", "设计墓穴数", "int", aliases=("设计墓穴数", "墓穴容量", "容量")),
    Field("used_graves", "已用墓穴数", "int", aliases=("已用墓穴数", "已用墓穴", "已安葬数")),
    OPTIONAL_VILLAGE,
)))

_register(LayerKind("place_labels", "地名标注", POINT, (
    NAME,
    Field("source", "来源", aliases=("来源", "数据来源", "地图来源"),
          choices={"amap": "高德地图", "baidu": "百度地图", "tianditu": "天地图", "tencent": "腾讯地图",
                   "survey": "实地调查"}),
    Field("crs", "原始坐标系", aliases=("原始坐标系", "坐标系")),
)))

_register(LayerKind("candidates", "备选站点", POINT, (
    NAME,
    Field("note", "备注", aliases=("备注", "说明")),
), optional=True))

_register(LayerKind("boundary_markers", "界桩", POINT, (
    Field("number", "界桩编号", required=True, aliases=("编号", "界桩编号", "界桩号")),
    Field("codes", "相邻单位代码", aliases=("相邻单位代码", "相邻单位")),
), optional=True))

_register(LayerKind("exclusion_zones", "禁建区", POLYGON, (
    Field("zone_type", "类型", required=True, aliases=("类型", "禁建区类型", "地类"),
          choices={"farmland": "耕地", "forest": "林地", "water_source": "水源保护区",
                   "park": "公园", "scenic": "风景名胜区", "relic": "文物保护区",
                   "railway": "铁路", "trunk_road": "公路干线", "reservoir": "水库及河堤"}),
    Field("name", "名称", aliases=NAME.aliases),
), optional=True))


# Roads for travel by road (docs/network.md): the graph is built from the line ends and
# shared vertices; ``minutes`` (the whole line) overrides length / speed; ``oneway``: travel
# only in the digitised direction.
ROAD_CLASSES = {"expressway": "高速公路", "national": "国道", "provincial": "省道", "county": "县道",
                "township": "乡道", "village": "村道", "other": "其他"}
_register(LayerKind("roads", "道路", LINE, (
    Field("name", "名称", aliases=("名称", "道路名称", "路名", "名字")),
    Field("road_class", "道路等级", required=True,
          aliases=("道路等级", "等级", "公路等级", "技术等级", "行政等级", "class", "fclass"),
          choices=ROAD_CLASSES),
    Field("speed_kmh", "设计时速", "float",
          aliases=("设计时速", "设计速度", "时速", "车速", "速度", "speed", "maxspeed")),
    Field("minutes", "通行时间(分钟)", "float",
          aliases=("通行时间(分钟)", "通行时间", "通行分钟", "分钟", "minutes", "time")),
    Field("oneway", "单行", "bool", aliases=("单行", "单向", "单行道", "oneway")),
), optional=True))


# The sites of the plans (规划方案): accepted from the siting suggestions or placed by hand
# (never the real facility layers); ``scenario`` is the plan's name, ``site_id`` a site's
# number within the workspace (kept when it is moved or edited). Written by the plans
# service (geoservice/services/plans.py) as a new version each time.
_register(LayerKind("planned_sites", "规划新增设施", POINT, (
    NAME,
    Field("facility_layer", "设施图层", required=True, aliases=("设施图层", "设施类型"),
          choices={"welfare_homes": "福利院/特困供养机构", "elderly_service_points": "养老服务设施",
                   "cemeteries": "公墓"}),
    Field("level", "层级/类型", aliases=("层级", "级别")),
    Field("rank", "建议序号", "int", aliases=("序号", "建议序号")),
    Field("scenario", "规划方案", required=True, aliases=("方案", "规划方案")),
    Field("note", "备注", aliases=("备注", "说明")),
    BEDS,
    Field("site_id", "站点编号", "int", aliases=("站点编号", "编号")),
), optional=True))

def get_kind(name: str) -> LayerKind:
    """Return the layer kind called ``name``; raise KeyError with a Chinese message."""
    try:
        return KINDS[name]
    except KeyError:
        known = "、".join(f"{k}({v.label})" for k, v in KINDS.items())
        raise KeyError(f"未知的图层类型“{name}”，可用类型：{known}") from None


def choice_label(kind: str, field_name: str, value) -> str:
    """The Chinese label of a stored choice value (the value itself when unknown)."""
    f = KINDS[kind].field(field_name)
    if f.choices and value in f.choices:
        return f.choices[value]
    return "" if value is None else str(value)


def docs_markdown() -> str:
    """docs/layers.md, generated from the kinds above (``python -m layers.schema``)."""
    lines = ["# 图层类型（Layer kinds）", "",
             "每个图层类型的字段、中文名和可用的列名（导入时自动识别）。坐标统一存为 CGCS2000"
             "（EPSG:4490）。本页由 `python -m layers.schema > docs/layers.md` 生成。", ""]
    for name, kind in KINDS.items():
        optional = "，可选输入" if kind.optional else ""
        lines += [f"## `{name}` {kind.label}（{kind.geometry_label}{optional}）", "",
                  "| 字段 | 中文名 | 类型 | 必填 | 可用列名 / 取值 |",
                  "| --- | --- | --- | --- | --- |"]
        for f in kind.fields:
            extra = "、".join(f.aliases)
            if f.choices:
                extra += "；取值：" + "、".join(f"{a}（{b}）" for a, b in f.choices.items())
            if f.code_digits:
                extra += f"；{f.code_digits} 位数字"
            required = "是" if f.required else ""
            lines.append(f"| `{f.name}` | {f.label} | {f.dtype} | {required} | {extra} |")
        lines.append("")
    lines += ["## 坐标列", "",
              "CSV/XLSX 点图层需要经度、纬度两列（经度/lon/lng/longitude/x，纬度/lat/latitude/y）；"
              "测量表格中 X 为北坐标、Y 为东坐标时自动识别。面图层和线图层（道路）用一列 WKT（wkt/geometry/几何，如 LINESTRING (103.8 29.8, 103.9 29.85)），"
              "村图层的经度、纬度列作为村中心（如村委会位置），与边界一起换算坐标系。", "",
              "## PostGIS 工作空间的表结构", "",
              "工作空间为 `postgresql://` 地址时（见 README），图层存放在 PostgreSQL/PostGIS 中：",
              "",
              "- 模式 `geoservice`：元数据表（版本、工作空间信息、用户、操作记录（只能追加）、任务、"
              "`schema_migrations` 表结构版本），以及每个图层每个版本一张普通表 `geoservice.<图层>_v<版本>`"
              "（`fid` 按文件顺序，字段为 text/bigint/double precision/boolean，几何列 "
              "`geom geometry(<类型>, 4490)` 带 GiST 空间索引；文件中的其他列也保留）；",
              "- 模式 `current`：每个图层一个视图 `current.<图层>`，总是指向当前版本，与版本切换在同一事务中替换，"
              "QGIS、ArcGIS 用自己的 PostGIS 连接只读打开即可；",
              "- 表结构由服务自己创建和升级（编号的迁移脚本，记录在 `geoservice.schema_migrations`）；",
              "- 权限：PostGIS 扩展须由超级用户执行一次 `CREATE EXTENSION postgis;`；服务的账号首次需要在该数据库上有 "
              "`CREATE` 权限（建立两个模式）；只读用户需要 `GRANT USAGE ON SCHEMA current, geoservice` 和相应表、视图的 "
              "`SELECT`。", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(docs_markdown(), end="")
