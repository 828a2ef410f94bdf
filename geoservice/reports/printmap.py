"""Printed maps: an analysis result laid out on A4/A3 paper as PDF or PNG, to file.

One page: the title, the map drawn in the county's Gauss-Kruger zone (metres, so the scale
bar and the ratio are true), a legend, a scale bar, a north arrow, and a block saying what
the map shows: data and analysis dates, the layers and their versions, the parameters
(radius and its unit, the travel cost: straight line, along the roads with the network's
default speeds, or an OD matrix), the producing unit (setting ``PRINT_UNIT``) and 示例数据
when the workspace is the demo county. matplotlib does the layout (Agg canvas, no pyplot
state, so it is safe in the server's threads); geopandas draws the frames.

Chinese text needs a CJK font: Noto Sans CJK SC (Debian ``fonts-noto-cjk``) or another
known one (Windows: Microsoft YaHei, SimHei), embedded in the PDF as TrueType/OpenType
(``pdf.fonttype`` 42), never as pictures of glyphs. Text from data (village names) is drawn
with ``parse_math=False``: a ``$`` in a name is a character, not TeX.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from shapely.geometry import box

from geoservice.errors import BadParameter, GeoserviceError
from geoservice.services.params import choice
from layers import KINDS
from layers import crs as crsmod

# Fonts embedded whole-glyph (TrueType/OpenType, subset), so pdffonts shows "emb yes" and
# the text can be searched and copied.
matplotlib.rcParams["pdf.fonttype"] = 42
matplotlib.rcParams["ps.fonttype"] = 42

PAPERS = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}  # portrait width, height (mm)
PAPER_LABELS = {"A4": "210×297 毫米", "A3": "297×420 毫米"}
ORIENTATIONS = {"landscape": "横向", "portrait": "纵向"}
FORMATS = {"pdf": "PDF", "png": "PNG 图片"}
MIME = {"pdf": "application/pdf", "png": "image/png"}
DEFAULT_DPI = 150  # PNG resolution: an A4 page is 1753×1240 pixels
ANALYSES = {"coverage": "覆盖分析", "siting": "选址建议", "boundaries": "界线审查",
            "placenames": "地名核查"}
DEMO_MARK = "示例数据（模拟几何）"
DISTANCE_TEXT = "直线距离"
# CJK fonts looked for, by family name, in this order.
FONT_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN",
                 "Microsoft YaHei", "SimHei", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                 "Droid Sans Fallback")
FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
              "C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf")
FONT_PACKAGE = "fonts-noto-cjk"
# Colours as on the web maps (maps/style.py, maps/coverage.py, maps/siting.py ...): the
# reports tier does not import maps (Folium).
COVERED = "#31a354"
UNCOVERED = "#de2d26"
NEWLY_COVERED = "#fd8d3c"
COVERED_BEFORE = "#a1d99b"
SITE_COLOR = "#6a3d9a"
CANDIDATE_COLOR = "#2b8cbe"
EXCLUDED_COLOR = "#9e9e9e"
ZONE_COLOR = "#969696"
TOWNSHIP_COLOR = "#4a3b8f"
LAYER_COLORS = {"welfare_homes": "#d7301f", "elderly_service_points": "#f16913",
                "cemeteries": "#238b45", "planned_sites": "#6a3d9a"}
SEVERITY_COLORS = {"error": "#d7301f", "warning": "#fd8d3c", "info": "#3182bd"}
SHARED_COLOR = "#4a3b8f"
OUTER_COLOR = "#111111"
STATUS_COLORS = {"ok": "#31a354", "wrong_name": "#de2d26", "former_name": "#ff7f00",
                 "misplaced": "#984ea3", "unknown_label": "#636363",
                 "duplicate_label": "#377eb8", "missing": "#e7298a"}
LABELS_MAX = 400  # more features than this: no name labels (they would cover the map)


class PrintError(GeoserviceError):
    """The server cannot print (no CJK font installed): its administrator must act."""

    status = 500


# --- options -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PrintOptions:
    paper: str = "A4"
    orientation: str = "landscape"
    fmt: str = "pdf"
    bbox: tuple[float, float, float, float] | None = None  # lon/lat min, min, max, max
    title: str | None = None
    dpi: int = DEFAULT_DPI

    @property
    def size_mm(self) -> tuple[float, float]:
        w, h = PAPERS[self.paper]
        return (h, w) if self.orientation == "landscape" else (w, h)

    @property
    def size_px(self) -> tuple[int, int]:
        """The PNG's width and height in pixels (the paper at ``dpi``, whole pixels: an A4
        page at 150 dpi is 1240×1753)."""
        w, h = self.size_mm
        return int(w / 25.4 * self.dpi), int(h / 25.4 * self.dpi)


def parse_bbox(text) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (CGCS2000/WGS84 degrees) as numbers; None when empty;
    a Chinese BadParameter when it is not four numbers of a box in China."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    parts = str(text).replace("，", ",").split(",") if isinstance(text, str) else list(text)
    example = "如 bbox=103.70,29.75,104.00,29.95（最小经度,最小纬度,最大经度,最大纬度）"
    if len(parts) != 4:
        raise BadParameter(f"参数 bbox（地图范围）“{text}”应为 4 个数，{example}")
    try:
        x0, y0, x1, y1 = (float(str(p).strip()) for p in parts)
    except ValueError:
        raise BadParameter(f"参数 bbox（地图范围）“{text}”应为 4 个数，{example}") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise BadParameter(f"参数 bbox（地图范围）“{text}”应为有限的数，{example}")
    if not (x0 < x1 and y0 < y1):
        raise BadParameter(f"参数 bbox（地图范围）“{text}”：最小经纬度应小于最大经纬度，{example}")
    lon, lat = crsmod.CHINA_LON, crsmod.CHINA_LAT
    if x1 < lon[0] or x0 > lon[1] or y1 < lat[0] or y0 > lat[1]:
        raise BadParameter(f"参数 bbox（地图范围）“{text}”不在中国境内，{example}")
    return x0, y0, x1, y1


def print_options(paper=None, orientation=None, fmt=None, bbox=None, title=None,
                  dpi=None) -> PrintOptions:
    """Options from text (web query, CLI), each checked with a Chinese message naming it."""
    paper = (str(paper).strip().upper() or None) if paper is not None else None
    p = choice(paper, "paper", "纸张", PAPER_LABELS, default="A4")
    o = choice((orientation or "").strip().lower() or None, "orientation", "方向",
               ORIENTATIONS, default="landscape")
    f = choice((fmt or "").strip().lower().lstrip(".") or None, "format", "格式", FORMATS,
               default="pdf")
    d = DEFAULT_DPI
    if dpi not in (None, ""):
        try:
            d = int(str(dpi).strip())
        except ValueError:
            raise BadParameter(f"参数 dpi（PNG 分辨率）“{dpi}”应为整数，如 150") from None
        if not 72 <= d <= 600:
            raise BadParameter(f"参数 dpi（PNG 分辨率）“{dpi}”应在 72 到 600 之间")
    t = (title or "").strip() or None
    if t is not None and len(t) > 80:
        raise BadParameter("参数 title（标题）过长：最多 80 个字")
    return PrintOptions(paper=p, orientation=o, fmt=f, bbox=parse_bbox(bbox), title=t, dpi=d)


def file_name(analysis: str, options: PrintOptions) -> str:
    return f"{analysis}_{options.paper}_{options.orientation}.{options.fmt}"


def producing_unit(setting: str | None, info: dict) -> str:
    """The producing unit: the setting PRINT_UNIT, else the county's civil-affairs bureau
    (``<县名>民政局``) when the workspace knows its county, else a note to set it."""
    if setting and setting.strip():
        return setting.strip()
    if info.get("county_name"):
        return f"{info['county_name']}民政局"
    return "（未设置，见配置项 PRINT_UNIT）"


# --- the font ----------------------------------------------------------------------------

@functools.cache
def cjk_font() -> str:
    """The family name of an installed CJK font, added to matplotlib's list when it was
    installed after matplotlib's font cache was made; PrintError (Chinese) when none."""
    def known() -> str | None:
        names = {f.name for f in fontManager.ttflist}
        return next((f for f in FONT_FAMILIES if f in names), None)

    found = known()
    if found:
        return found
    files = [Path(f) for f in FONT_FILES]
    if shutil.which("fc-match"):
        for family in FONT_FAMILIES[:4]:
            try:
                out = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True,
                                     text=True, timeout=10, check=False).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if out:
                files.append(Path(out))
    files += [f.with_name(f.name.replace("-Regular", "-Bold")) for f in list(files)
              if "-Regular" in f.name]
    for f in files:
        if f.is_file():
            try:
                fontManager.addfont(str(f))
            except (OSError, RuntimeError, ValueError):
                continue
    found = known()
    if found is None:
        raise PrintError(f"打印地图需要中文字体，本机没有找到：请安装 {FONT_PACKAGE}"
                         f"（Debian/Ubuntu：apt-get install {FONT_PACKAGE}；Windows 自带微软雅黑/黑体）"
                         "后重新启动服务")
    return found


# --- what a sheet holds ------------------------------------------------------------------

@dataclass
class Layer:
    """A frame drawn one way, with its legend entry (``label`` None: not in the legend)."""

    frame: gpd.GeoDataFrame | gpd.GeoSeries
    label: str | None
    kind: str = "fill"  # fill | line | point
    color: str = "#cccccc"
    edgecolor: str = "#555555"
    linewidth: float = 0.6
    size: float = 18.0  # points: marker area
    marker: str = "o"
    linestyle: str = "-"
    alpha: float = 1.0
    zorder: int = 2


@dataclass
class Sheet:
    """One printed map: layers bottom to top, names to write, the text block."""

    analysis: str
    title: str
    extent: gpd.GeoDataFrame  # what the map shows without a bbox
    layers: list[Layer]
    info: list[tuple[str, str]]
    demo: bool = False
    names: list[tuple[object, str]] = field(default_factory=list)  # (point geometry, text)
    name_size: float = 5.5
    unit: str = ""
    data_date: str = ""
    analysis_date: str = ""
    versions: list[str] = field(default_factory=list)


def _versions(store, layer_versions: dict) -> tuple[list[str], str]:
    """``村(社区) 第 1 版（2026-05-01 导入）`` for each layer the result used, and the
    newest import date among them (the data date)."""
    lines, dates = [], []
    for kind, version in (layer_versions or {}).items():
        label = KINDS[kind].label if kind in KINDS else kind
        created = ""
        try:
            for v in store.versions(kind):
                if v.version == version:
                    created = (v.created or "")[:10]
        except Exception:  # noqa: BLE001 - a store without the layer: no date, still printed
            created = ""
        if created:
            dates.append(created)
        lines.append(f"{label} 第 {version} 版" + (f"（{created} 导入）" if created else ""))
    return lines, (max(dates) if dates else "")


def _fmt(label: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if "率" in label and 0 <= value <= 1.5:
            return f"{value:.1%}"
        if "(米)" in label or "（米）" in label:
            return f"{value:,.0f}"
        if "(分钟)" in label or "（分钟）" in label:
            return f"{value:,.1f}".removesuffix(".0")
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return str(value)


# The rows of reports.xlsx.cost_rows a printed map shows: the cost (label and unit) and,
# on a road network, the network and the default speeds per road class.
COST_LABELS = ("出行成本", "道路网", "各等级默认车速*", "村/设施到道路的步行速度", "OD 矩阵文件")


def _straight(summary: dict) -> bool:
    return (summary.get("cost") or {}).get("kind", "straight") == "straight"


def _pick(rows: Iterable[tuple[str, object]], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """The rows whose label is wanted (a label ending in ``*`` matches its start, one
    starting with ``*`` its end), in the order of ``rows``, values as text."""
    keys = list(wanted)
    out = []
    for label, value in rows:
        if any(label == k or (k.endswith("*") and label.startswith(k[:-1]))
               or (k.startswith("*") and label.endswith(k[1:])) for k in keys):
            out.append((label, _fmt(label, value)))
    return out


def _names(frame: gpd.GeoDataFrame, column: str = "name") -> list[tuple[object, str]]:
    if column not in frame.columns or len(frame) > LABELS_MAX or frame.empty:
        return []
    pts = frame.geometry.representative_point()
    return [(p, str(n)) for p, n in zip(pts, frame[column], strict=True)
            if isinstance(n, str) and n and p is not None and not p.is_empty]


def _points(frame) -> gpd.GeoDataFrame:
    """Rows of ``frame`` with a geometry (empty ones dropped)."""
    if frame is None or len(frame) == 0:
        return gpd.GeoDataFrame(geometry=[], crs=crsmod.STORED_CRS)
    return frame[frame.geometry.notna() & ~frame.geometry.is_empty]


# --- the four analyses -------------------------------------------------------------------

def coverage_sheet(result, info: dict) -> Sheet:
    from geoservice.reports.coverage import summary_rows

    s = result.summary
    v = result.villages
    layer = s["layer"]
    color = LAYER_COLORS.get(layer, "#d7301f")
    label = KINDS[layer].label
    f = _points(result.facilities)
    planned = (f["plan_site_id"].notna().to_numpy() if "plan_site_id" in f.columns
               else np.zeros(len(f), dtype=bool))
    radius = float(s["radius_m"])
    layers = [
        Layer(v[v["covered"].astype(bool)], f"已覆盖的村(社区)（{s['covered_villages']}）",
              color=COVERED, alpha=0.55, edgecolor="#ffffff", linewidth=0.4),
        Layer(v[~v["covered"].astype(bool)],
              f"未覆盖的村(社区)（{s['villages'] - s['covered_villages']}）",
              color=UNCOVERED, alpha=0.55, edgecolor="#ffffff", linewidth=0.4),
    ]
    # A circle is the catchment only for straight-line distance: along roads or in an OD
    # matrix the radius is no circle (the villages' colours say who is within it).
    straight = _straight(s)
    if len(f):
        if straight:
            layers.append(Layer(_buffer(f[~planned], radius),
                                f"服务半径 {radius:,.0f} 米（{DISTANCE_TEXT}）",
                                kind="line", color=color, linewidth=0.6, alpha=0.8, zorder=3))
        layers.append(Layer(f[~planned], f"{label}（{int((~planned).sum())}）", kind="point",
                            color=color, edgecolor="#222222", size=16, zorder=5))
    if planned.any():
        if straight:
            layers.append(Layer(_buffer(f[planned], radius), None, kind="line",
                                color=LAYER_COLORS["planned_sites"], linestyle="--", zorder=3))
        layers.append(Layer(f[planned], f"规划方案站点（{int(planned.sum())}）", kind="point",
                            color=color, edgecolor=LAYER_COLORS["planned_sites"], size=22,
                            linewidth=1.5, zorder=5))
    rows = summary_rows(result)
    wanted = ["数据性质", "设施层级/类型", "需求（60岁以上人口）", "规划方案",
              "服务半径(*", "半径来源", *COST_LABELS, "可达性方法", "距离计算", "设施数",
              "村(社区)数", "覆盖村数", "村覆盖率", "人口覆盖率", "老年人口覆盖率", "目标",
              "是否达标", "* 米内", "* 分钟内", "每千名老年人床位", "床位目标(每千名老年人)",
              "剩余墓穴数"]
    title = f"{info['title']} {label}覆盖分析图"
    return Sheet("coverage", title, v, layers, _pick(rows, wanted),
                 names=_names(v), demo=bool(s.get("inputs", {}).get("demo")))


def siting_sheet(run, info: dict) -> Sheet:
    from geoservice.analysis.vocabulary import PROBLEM_SHORT
    from geoservice.reports.siting import change_rows, input_rows, result_rows

    s, p, r = run.summary, run.params, run.result
    v = r.villages
    before = v["covered_before"].astype(bool)
    after = v["covered_after"].astype(bool)
    layers: list[Layer] = []
    if run.exclusion_zones is not None and len(run.exclusion_zones):
        layers.append(Layer(run.exclusion_zones, "禁建区", color=ZONE_COLOR, alpha=0.35,
                            edgecolor=ZONE_COLOR, zorder=1))
    layers += [
        Layer(v[before], "新增前已覆盖", color=COVERED_BEFORE, alpha=0.6, edgecolor="#ffffff",
              linewidth=0.4),
        Layer(v[after & ~before], "新增站点后覆盖", color=NEWLY_COVERED, alpha=0.7,
              edgecolor="#ffffff", linewidth=0.4),
        Layer(v[~after], "仍未覆盖", color=UNCOVERED, alpha=0.55, edgecolor="#ffffff",
              linewidth=0.4),
    ]
    if run.townships is not None and len(run.townships):
        layers.append(Layer(run.townships, "乡镇界", kind="line", color=TOWNSHIP_COLOR,
                            linewidth=1.2, zorder=3))
    color = LAYER_COLORS.get(p.layer, "#d7301f")
    fac = _points(run.facilities)
    if len(fac):
        layers.append(Layer(fac, f"现有{KINDS[p.layer].label}", kind="point", color=color,
                            edgecolor="#222222", size=14, zorder=5))
    cand = _points(r.candidates)
    if len(cand) and "chosen" in cand.columns:
        cand = cand[~cand["chosen"].astype(bool)]
    if len(cand):
        layers.append(Layer(cand, "候选点", kind="point", color="#ffffff",
                            edgecolor=CANDIDATE_COLOR, size=8, zorder=4))
    ex = _points(r.excluded)
    if len(ex):
        layers.append(Layer(ex, "排除的候选点", kind="point", color=EXCLUDED_COLOR,
                            edgecolor=EXCLUDED_COLOR, marker="x", size=14, zorder=4))
    sites = _points(r.sites)
    if len(sites):
        if p.problem != "pmedian" and _straight(s):
            layers.append(Layer(_buffer(sites, float(p.radius_m)), None, kind="line",
                                color=SITE_COLOR, linewidth=1.0, zorder=6))
        layers.append(Layer(sites, f"建议新增站点（{len(sites)}，数字为序号）", kind="point",
                            color=SITE_COLOR, edgecolor="#ffffff", size=60, zorder=7))
    rows = input_rows(run) + result_rows(run)
    wanted = ["数据性质", "选址问题", "设施层级/类型", "候选点", "禁建区图层",
              "需求（60岁以上人口）", "规划方案", "服务半径(*", "半径来源", *COST_LABELS,
              "距离计算", "覆盖对象", "目标覆盖率", "新增设施数 K", "按床位容量约束", "求解器",
              "是否证明最优", "新增设施数"]
    text = _pick(rows, wanted)
    if s.get("ignore_existing"):
        text.append(("不考虑现有设施", "是（按尚无任何设施规划）"))
    for label, b, a in change_rows(run):
        if "率" in label:
            text.append((label, f"{_fmt(label, b)} → {_fmt(label, a)}"))
    names = _names(v)
    ranks = [(g, str(int(k))) for g, k in zip(sites.geometry, sites["rank"], strict=True)] \
        if len(sites) else []
    title = f"{info['title']} {KINDS[p.layer].label}选址建议图（{PROBLEM_SHORT[p.problem]}）"
    sheet = Sheet("siting", title, v, layers, text, names=names,
                  demo=bool(s.get("inputs", {}).get("demo")))
    sheet.ranks = ranks  # type: ignore[attr-defined]
    return sheet


def boundaries_sheet(result, info: dict, units: gpd.GeoDataFrame | None) -> Sheet:
    from geoservice.analysis.boundaries import SEVERITIES
    from geoservice.reports.boundaries import summary_rows

    s = result.summary
    layers: list[Layer] = []
    extent = result.boundary_lines
    if units is not None and len(units):
        layers.append(Layer(units, s.get("layer_label", "单位"), color="#e8e4f3",
                            edgecolor="#9e9ac8", linewidth=0.4, zorder=1))
        extent = units
    lines = result.boundary_lines
    if len(lines):
        layers.append(Layer(lines[lines["kind"] == "shared"], "共有界线", kind="line",
                            color=SHARED_COLOR, linewidth=0.9, zorder=3))
        layers.append(Layer(lines[lines["kind"] == "outer"], "外界线（县界）", kind="line",
                            color=OUTER_COLOR, linewidth=1.6, zorder=3))
    f = _points(result.findings)
    for sev, label in SEVERITIES.items():
        part = f[f["severity"] == sev] if len(f) else f
        if len(part):
            layers.append(Layer(part, f"{label}（{len(part)}）", kind="mixed",
                                color=SEVERITY_COLORS.get(sev, "#d7301f"),
                                edgecolor=SEVERITY_COLORS.get(sev, "#d7301f"),
                                size=30, alpha=0.8, linewidth=1.5, zorder=6))
    rows = summary_rows(result)
    wanted = ["数据性质", "县界文件", "缝隙判定范围", "量算坐标系", "面积容差*", "狭长碎片宽度*",
              "界桩偏离容差*", "乡镇面积与村面积合计*", "界线捕捉容差*", "单位数", "问题总数",
              "其中*", "共有界线（条/千米）", "外界线（条/千米）"]
    title = f"{info['title']} {s.get('layer_label', '')}界线审查图"
    names = _names(units) if units is not None else []
    return Sheet("boundaries", title, extent, layers, _pick(rows, wanted), names=names,
                 name_size=6.5, demo=bool(s.get("inputs", {}).get("demo")))


def placenames_sheet(result, info: dict) -> Sheet:
    from geoservice.analysis.placenames import FINDING_TYPES
    from geoservice.reports.placenames import summary_rows

    s = result.summary
    v = result.villages
    layers = [Layer(v, "村(社区)", color="#f7f7f7", edgecolor="#8c8c8c", linewidth=0.5,
                    zorder=1)]
    labels = _points(result.labels)
    names = {"ok": "标注无问题", **FINDING_TYPES}
    if len(labels) and "status" in labels.columns:
        for status in dict.fromkeys(["ok", *labels["status"].dropna().unique()]):
            part = labels[labels["status"] == status]
            if len(part):
                layers.append(Layer(part, f"{names.get(status, status)}（{len(part)}）",
                                    kind="point", color=STATUS_COLORS.get(status, "#636363"),
                                    edgecolor="#222222", size=14, zorder=5))
    f = _points(result.findings)
    missing = f[f["type"] == "missing"] if len(f) else f
    if len(missing):
        layers.append(Layer(missing, f"缺失标注（村中心，{len(missing)}）", kind="point",
                            color=STATUS_COLORS["missing"], edgecolor="#222222", marker="s",
                            size=16, zorder=5))
    rows = summary_rows(result)
    wanted = ["数据性质", "标注来源", "标注原始坐标系", "曾用名表", "位置容差（米）",
              "搜索半径（米）", "近似名称阈值", "计量坐标系", "村(社区)数", "标注数", "无问题标注数"]
    text = _pick(rows, wanted)
    text += [(label, str(n)) for label, n in rows if "（" in label and label.endswith("）")
             and isinstance(n, int) and n and label.split("（")[0] in FINDING_TYPES.values()]
    title = f"{info['title']} 村(社区)地名核查图"
    return Sheet("placenames", title, v, layers, text, names=_names(v),
                 demo=bool(s.get("inputs", {}).get("demo")))


def _buffer(points: gpd.GeoDataFrame, radius_m: float) -> gpd.GeoSeries:
    """Circles of ``radius_m`` around the points, made in metres (true circles on the
    printed map, which is drawn in the same metric system)."""
    if not len(points):
        return gpd.GeoSeries([], crs=crsmod.STORED_CRS)
    metric = crsmod.metric_crs(points)
    return points.to_crs(metric).geometry.buffer(radius_m, quad_segs=32)


def sheet_for(analysis: str, result, store, info: dict) -> Sheet:
    """The sheet of one analysis' result (``services`` result objects, as the pages use)."""
    if analysis == "coverage":
        return coverage_sheet(result, info)
    if analysis == "siting":
        return siting_sheet(result, info)
    if analysis == "boundaries":
        layer = result.summary["layer"]
        units = store.read(layer) if layer in store.current_versions() else None
        return boundaries_sheet(result, info, units)
    if analysis == "placenames":
        return placenames_sheet(result, info)
    raise BadParameter(f"不能打印“{analysis}”：可选 " + "、".join(
        f"{k}（{v}）" for k, v in ANALYSES.items()))


def print_map(store, analysis: str, result, options: PrintOptions, *,
              unit: str | None = None, info: dict | None = None) -> bytes:
    """The printed map (PDF or PNG bytes) of ``result`` of ``analysis``; ``unit`` is the
    setting PRINT_UNIT."""
    from geoservice.services.workspace import workspace_info

    info = info or workspace_info(store)
    sheet = sheet_for(analysis, result, store, info)
    inputs = result.summary.get("inputs", {})
    sheet.versions, sheet.data_date = _versions(store, inputs.get("layer_versions", {}))
    sheet.analysis_date = inputs.get("date", "")
    sheet.unit = producing_unit(unit, info)
    sheet.demo = sheet.demo or bool(info.get("demo"))
    if options.title:
        sheet.title = options.title
    return render(sheet, options)


# --- layout ------------------------------------------------------------------------------

def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^n metres) near a quarter of ``span_m``."""
    target = max(span_m / 4, 1.0)
    exp = 10 ** math.floor(math.log10(target))
    return max(m * exp for m in (1, 2, 5) if m * exp <= target)


def _length_text(m: float) -> str:
    return f"{m / 1000:g} 千米" if m >= 1000 else f"{m:g} 米"


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of about ``width`` half-width columns (a CJK character is two)."""
    lines, line, used = [], "", 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E80 else 1
        if used + w > width and line:
            lines.append(line)
            line, used = "", 0
        line += ch
        used += w
    if line:
        lines.append(line)
    return lines


def _extent(sheet: Sheet, bbox, metric: str) -> tuple[float, float, float, float]:
    if bbox is not None:
        area = gpd.GeoSeries([box(*bbox)], crs=crsmod.STORED_CRS).to_crs(metric)
        return tuple(area.total_bounds)
    x0, y0, x1, y1 = sheet.extent.to_crs(metric).total_bounds
    pad = 0.03 * max(x1 - x0, y1 - y0, 100.0)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _fit(extent, box_w: float, box_h: float) -> tuple[float, float, float, float]:
    """``extent`` grown on one side so that its shape is the map frame's (``box_w`` ×
    ``box_h``): the whole extent is shown, centred, at equal scale in x and y."""
    x0, y0, x1, y1 = extent
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w / h > box_w / box_h:
        h2 = w * box_h / box_w
        cy = (y0 + y1) / 2
        return x0, cy - h2 / 2, x0 + w, cy + h2 / 2
    w2 = h * box_w / box_h
    cx = (x0 + x1) / 2
    return cx - w2 / 2, y0, cx + w2 / 2, y0 + h


def _draw_layer(ax, layer: Layer, metric: str) -> None:
    frame = layer.frame
    if frame is None or len(frame) == 0:
        return
    geo = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    geo = geo[geo.notna() & ~geo.is_empty]
    if not len(geo):
        return
    geo = geo.to_crs(metric)
    if layer.kind == "fill":
        geo.plot(ax=ax, color=layer.color, edgecolor=layer.edgecolor, linewidth=layer.linewidth,
                 alpha=layer.alpha, zorder=layer.zorder)
    elif layer.kind == "line":
        geo.boundary.plot(ax=ax, color=layer.color, linewidth=layer.linewidth,
                          linestyle=layer.linestyle, alpha=layer.alpha, zorder=layer.zorder) \
            if geo.geom_type.str.contains("Polygon").all() else \
            geo.plot(ax=ax, color=layer.color, linewidth=layer.linewidth,
                     linestyle=layer.linestyle, alpha=layer.alpha, zorder=layer.zorder)
    elif layer.kind == "point":
        geo.plot(ax=ax, color=layer.color, edgecolor=layer.edgecolor, marker=layer.marker,
                 markersize=layer.size, linewidth=layer.linewidth if layer.marker == "x" else 0.6,
                 alpha=layer.alpha, zorder=layer.zorder)
    else:  # mixed: findings (polygons, lines, points) in one colour
        polys = geo[geo.geom_type.str.contains("Polygon")]
        lines = geo[geo.geom_type.str.contains("LineString")]
        points = geo[geo.geom_type.str.contains("Point")]
        if len(polys):
            polys.plot(ax=ax, color=layer.color, edgecolor=layer.edgecolor, alpha=layer.alpha,
                       linewidth=layer.linewidth, zorder=layer.zorder)
        if len(lines):
            lines.plot(ax=ax, color=layer.color, linewidth=layer.linewidth * 1.5,
                       zorder=layer.zorder)
        if len(points):
            points.plot(ax=ax, color=layer.color, edgecolor="#222222", markersize=layer.size,
                        zorder=layer.zorder)
        # A small finding is a speck at county scale: a ring marks where it is.
        small = geo[~geo.geom_type.str.contains("Point")]
        if len(small):
            centres = small.representative_point()
            centres.plot(ax=ax, facecolor="none", edgecolor=layer.color, markersize=layer.size * 3,
                         linewidth=1.2, zorder=layer.zorder)


def _handle(layer: Layer):
    if layer.kind == "fill":
        return Patch(facecolor=layer.color, edgecolor=layer.edgecolor, alpha=layer.alpha,
                     label=layer.label)
    if layer.kind == "line":
        return Line2D([], [], color=layer.color, linewidth=max(layer.linewidth, 1.0),
                      linestyle=layer.linestyle, label=layer.label)
    if layer.kind == "mixed":
        return Line2D([], [], marker="o", linestyle="none", markerfacecolor=layer.color,
                      markeredgecolor="#222222", markersize=7, label=layer.label)
    return Line2D([], [], marker=layer.marker, linestyle="none", markerfacecolor=layer.color,
                  markeredgecolor=layer.edgecolor if layer.marker != "x" else layer.color,
                  color=layer.color, markersize=max(4.0, math.sqrt(layer.size) * 1.1),
                  label=layer.label)


def _text_block(sheet: Sheet, metric: str, scale: str, length: str) -> list[str]:
    lines = [f"{label}：{value}" for label, value in sheet.info]
    head = [f"数据日期：{sheet.data_date or '—'}（图层最近导入）　分析日期：{sheet.analysis_date or '—'}",
            "图层版本：" + ("；".join(sheet.versions) if sheet.versions else "—")]
    tail = [f"坐标系：CGCS2000 高斯-克吕格投影 {metric}；比例尺 {scale}，比例尺条 {length}"]
    return head + lines + tail


def _fit_text(fig, text, limit_px: float, start: float) -> None:
    """Shrink ``text`` until it is no taller than ``limit_px`` (never below 4.5 pt)."""
    renderer = fig.canvas.get_renderer()
    size = start
    while size > 4.5 and text.get_window_extent(renderer).height > limit_px:
        size -= 0.25
        text.set_fontsize(size)


def render(sheet: Sheet, options: PrintOptions) -> bytes:
    """The sheet laid out on the paper of ``options``, as PDF or PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    family = cjk_font()
    font = FontProperties(family=family)
    w_mm, h_mm = options.size_mm
    k = math.sqrt((w_mm * h_mm) / (210.0 * 297.0))  # text and marks grow with the paper
    fig = Figure(figsize=(w_mm / 25.4, h_mm / 25.4), dpi=options.dpi)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")

    def fx(mm: float) -> float:
        return mm / w_mm

    def fy(mm: float) -> float:
        return mm / h_mm

    margin, title_h, foot_h = 10.0, 15.0 * k, 7.0 * k
    landscape = options.orientation == "landscape"
    top = h_mm - margin - title_h
    bottom = margin + foot_h
    if landscape:
        panel_w = 78.0 * k
        map_box = (margin, bottom, w_mm - 2 * margin - panel_w - 4, top - bottom)
        legend_box = (w_mm - margin - panel_w, bottom, panel_w, top - bottom)
        info_box = legend_box  # below the legend, wherever it ends
    else:
        panel_h = 66.0 * k
        map_box = (margin, bottom + panel_h + 4, w_mm - 2 * margin, top - bottom - panel_h - 4)
        legend_box = (margin, bottom, 0.40 * (w_mm - 2 * margin), panel_h)
        info_box = (margin + 0.40 * (w_mm - 2 * margin) + 3, bottom,
                    0.60 * (w_mm - 2 * margin) - 3, panel_h)

    # the title band
    fig.text(fx(margin), fy(h_mm - margin - title_h * 0.45), sheet.title, fontproperties=font,
             fontsize=17 * k, fontweight="bold", va="center", ha="left", parse_math=False)
    if sheet.demo:
        fig.text(fx(w_mm - margin), fy(h_mm - margin - title_h * 0.45), DEMO_MARK,
                 fontproperties=font, fontsize=11 * k, color="#c62828", va="center", ha="right")

    # the map
    ax = fig.add_axes((fx(map_box[0]), fy(map_box[1]), fx(map_box[2]), fy(map_box[3])))
    metric = crsmod.metric_crs(sheet.extent) if len(sheet.extent) else "EPSG:4544"
    x0, y0, x1, y1 = _fit(_extent(sheet, options.bbox, metric), map_box[2], map_box[3])
    for layer in sheet.layers:
        _draw_layer(ax, layer, metric)
    view = box(x0, y0, x1, y1)
    for geom, name in _project_names(sheet.names, metric):
        if view.contains(geom):
            ax.text(geom.x, geom.y, name, fontproperties=font, fontsize=sheet.name_size * k,
                    ha="center", va="center", color="#333333", zorder=8, parse_math=False,
                    clip_on=True)
    for geom, rank in _project_names(getattr(sheet, "ranks", []), metric):
        ax.text(geom.x, geom.y, rank, fontproperties=font, fontsize=6.5 * k, ha="center",
                va="center", color="#ffffff", fontweight="bold", zorder=9, clip_on=True)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
    if sheet.demo:
        ax.text(0.5, 0.5, "示例数据", transform=ax.transAxes, fontproperties=font,
                fontsize=64 * k, color="#c62828", alpha=0.10, rotation=25, ha="center",
                va="center", zorder=20)

    # scale bar, ratio and north arrow
    span = x1 - x0
    length = _nice_length(span)
    ratio = span / (map_box[2] / 1000.0)
    ratio_text = f"1:{_round_ratio(ratio):,}"
    bar = AnchoredSizeBar(ax.transData, length, f"{_length_text(length)}", loc="lower left",
                          pad=0.4, borderpad=0.6, sep=3, frameon=True,
                          size_vertical=span / 400, color="black",
                          fontproperties=FontProperties(family=family, size=7.5 * k))
    bar.patch.set_alpha(0.85)
    ax.add_artist(bar)
    ax.text(0.012, 0.012 + 0.05 * (1 if landscape else 0.7), f"比例尺 {ratio_text}",
            transform=ax.transAxes, fontproperties=font, fontsize=7.5 * k, ha="left",
            va="bottom", zorder=21,
            bbox={"boxstyle": "square,pad=0.25", "facecolor": "white", "alpha": 0.85,
                  "edgecolor": "none"})
    ax.annotate("", xy=(0.955, 0.95), xytext=(0.955, 0.86), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3 * k,
                            "headwidth": 10 * k, "headlength": 10 * k}, zorder=21)
    ax.text(0.955, 0.955, "北", transform=ax.transAxes, fontproperties=font,
            fontsize=10 * k, ha="center", va="bottom", fontweight="bold", zorder=21)

    # legend
    lax = fig.add_axes((fx(legend_box[0]), fy(legend_box[1]), fx(legend_box[2]),
                        fy(legend_box[3])))
    lax.axis("off")
    handles = [_handle(layer) for layer in sheet.layers if layer.label]
    legend = lax.legend(handles=handles, loc="upper left", title="图例", frameon=False,
                        prop=FontProperties(family=family, size=8 * k),
                        title_fontproperties=FontProperties(family=family, size=10 * k,
                                                            weight="bold"),
                        borderaxespad=0.0, handlelength=1.8, labelspacing=0.5)
    for t in legend.get_texts():
        t.set_parse_math(False)
    renderer = fig.canvas.get_renderer()
    limit = fy(legend_box[3]) * fig.bbox.height
    size = 8 * k
    while size > 4.5 and legend.get_window_extent(renderer).height > limit:
        size -= 0.5
        for t in legend.get_texts():
            t.set_fontsize(size)

    legend._legend_box.align = "left"  # noqa: SLF001 - the title flush left, as the text

    # the text block: beside the legend (portrait), or under it (landscape)
    block = _text_block(sheet, metric, ratio_text, _length_text(length))
    size = 7.0 * k
    cols = int(info_box[2] / (size * 0.3528 * 0.6))  # half-width columns per line
    wrapped = "\n".join(line2 for line in block for line2 in _wrap(line, cols))
    top_px = fy(info_box[1] + info_box[3]) * fig.bbox.height
    if landscape:
        top_px = legend.get_window_extent(renderer).y0 - 6 * k * fig.dpi / 25.4
    bottom_px = fy(info_box[1]) * fig.bbox.height
    info_text = fig.text(fx(info_box[0]), top_px / fig.bbox.height, wrapped, fontproperties=font,
                         fontsize=size, va="top", ha="left", linespacing=1.35, parse_math=False)
    _fit_text(fig, info_text, top_px - bottom_px, size)

    # the foot line: producing unit, dates, the page's paper
    today = dt.date.today().isoformat()
    foot = (f"制图单位：{sheet.unit}　　制图日期：{today}　　"
            f"{options.paper} {ORIENTATIONS[options.orientation]}　　民政设施规划服务")
    fig.text(fx(margin), fy(margin + foot_h * 0.35), foot, fontproperties=font,
             fontsize=8 * k, va="center", ha="left", parse_math=False)
    if sheet.demo:
        fig.text(fx(w_mm - margin), fy(margin + foot_h * 0.35), "数据性质：" + DEMO_MARK,
                 fontproperties=font, fontsize=8 * k, va="center", ha="right",
                 color="#c62828")

    buf = io.BytesIO()
    if options.fmt == "pdf":
        meta = {"Title": sheet.title, "Author": sheet.unit, "Subject": ANALYSES[sheet.analysis],
                "Creator": "民政设施规划服务 geoservice"}
        fig.savefig(buf, format="pdf", metadata=meta)
    else:
        meta = {"Title": sheet.title, "Author": sheet.unit, "Software": "geoservice"}
        fig.savefig(buf, format="png", dpi=options.dpi, metadata=meta)
    return buf.getvalue()


def _round_ratio(ratio: float) -> int:
    """The ratio rounded as maps state it: 2-3 significant figures (1:52,300 → 1:52,000)."""
    if ratio < 1000:
        return int(round(ratio))
    step = 10 ** (math.floor(math.log10(ratio)) - 1)
    return int(round(ratio / step) * step)


def _project_names(names, metric: str) -> list[tuple[object, str]]:
    if not names:
        return []
    geoms = gpd.GeoSeries([g for g, _ in names], crs=crsmod.STORED_CRS).to_crs(metric)
    return [(g, t) for g, (_, t) in zip(geoms, names, strict=True)]

