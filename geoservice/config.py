"""One configuration document, validated at start, with its defaults written down.

Every key can be given to ``create_app(config=...)``; the environment variable in brackets
overrides the default. Unknown keys and values of the wrong type are refused at start.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from geoservice.errors import GeoserviceError
from layers.demo import DEMO_WORKSPACE

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"
DEFAULT_WORKSPACE = INSTANCE_DIR / "qingshen.gpkg"

# key: (default, type, description in Chinese for the docs and the settings page)
SETTINGS: dict[str, tuple[object, type, str]] = {
    "WORKSPACE": (None, str,
                  "工作空间 GeoPackage 文件 [GEOSERVICE_WORKSPACE]；默认为示例县工作空间的副本"
                  " instance/qingshen.gpkg（首次运行时从 layers/demo/qingshen.gpkg 复制）"),
    "BASEMAP_URL": ("", str,
                    "底图瓦片地址 [GEOSERVICE_BASEMAP_URL]，如天地图（含 key）或内网瓦片服务"
                    " http://host/tiles/{z}/{x}/{y}.png；为空时不加载底图，图层画在纯色背景上"),
    "BASEMAP_ATTRIBUTION": ("", str, "底图版权说明 [GEOSERVICE_BASEMAP_ATTRIBUTION]"),
    "BASEMAP_CRS": ("cgcs2000", str,
                    "底图坐标系 [GEOSERVICE_BASEMAP_CRS]：cgcs2000（天地图等）或 gcj02（高德等），"
                    "gcj02 底图上图层会相应偏移"),
    "BASEMAP_NAME": ("底图", str,
                     "BASEMAP_URL 底图在地图“底图”切换中的名称 [GEOSERVICE_BASEMAP_NAME]"),
    "TIANDITU_KEY": ("", str,
                     "天地图密钥 tk [GEOSERVICE_TIANDITU_KEY]；设置后（或设置 TIANDITU_URL 后）地图可切换"
                     "天地图矢量、天地图影像（含注记，CGCS2000 经纬度瓦片 c）"),
    "TIANDITU_URL": ("", str,
                     "省级天地图节点地址 [GEOSERVICE_TIANDITU_URL]，如 http://tdt.intranet，按国家天地图的"
                     "路径 /vec_c/wmts 等请求；也可为含 {layer}、{z}、{x}、{y} 的完整模板；为空时用国家天地图"),
    "BASEMAP_MBTILES": ("", str,
                        "本地 MBTiles 瓦片文件 [GEOSERVICE_BASEMAP_MBTILES]，由本服务在 "
                        "/tiles/mbtiles/{z}/{x}/{y}.<格式> 提供，适合不能上网的内网"),
    "BASEMAP_XYZ_DIR": ("", str,
                        "本地瓦片目录 [GEOSERVICE_BASEMAP_XYZ_DIR]（z/x/y.png 结构），由本服务在 "
                        "/tiles/xyz/{z}/{x}/{y}.<格式> 提供"),
    "BASEMAP_LOCAL_CRS": ("cgcs2000", str,
                          "本地瓦片（BASEMAP_MBTILES、BASEMAP_XYZ_DIR）的坐标系 "
                          "[GEOSERVICE_BASEMAP_LOCAL_CRS]：cgcs2000 或 gcj02"),
    "MAX_UPLOAD_MB": (200, int, "上传文件大小上限，MB [GEOSERVICE_MAX_UPLOAD_MB]"),
    "ASSET_MAX_AGE": (86400, int, "地图脚本和样式的浏览器缓存时间，秒"),
    "API_PAGE_DEFAULT": (1000, int,
                         "图层要素接口 /api/layers/<kind> 和 OGC API 要素 /ogcapi/collections/<cid>/items"
                         " 每页默认要素数（limit 缺省值）"
                         " [GEOSERVICE_API_PAGE_DEFAULT]"),
    "API_PAGE_MAX": (10000, int,
                     "图层要素接口和 OGC API 要素每页最多要素数（limit 上限） [GEOSERVICE_API_PAGE_MAX]"),
    "LAYER_CACHE_MB": (512, int,
                       "图层读取缓存上限，MB [GEOSERVICE_LAYER_CACHE_MB]：每个图层版本从工作空间文件读取一次后"
                       "留在内存中，供分析和接口重复使用（导入或恢复产生新版本时自然改读新版本）；超出上限时"
                       "丢弃最久未用的图层；0 为不缓存"),
    "MAP_INLINE_MAX_FEATURES": (5000, int,
                                "地图页面直接载入的图层最多要素数；超过时该图层不随页面载入，"
                                "放大到 MAP_VIEWPORT_MIN_ZOOM 级后按视野从 /api/layers/<kind> 加载"
                                " [GEOSERVICE_MAP_INLINE_MAX_FEATURES]"),
    "MAP_VIEWPORT_MIN_ZOOM": (14, int,
                              "按视野加载的大图层从第几级缩放开始显示（县域全图约为 11 级）"
                              " [GEOSERVICE_MAP_VIEWPORT_MIN_ZOOM]"),
    "MAP_GEOMETRY_MIN_VERTICES": (50_000, int,
                                  "面图层（村、乡镇等）顶点数达到此值时，"
                                  "地图页面不直接载入其几何，而从 /api/layers/<kind>/geometry 按缩放级别加载"
                                  "简化后的全部要素（每级缩放约一个像素的精度，看到哪里细化到哪里），"
                                  "所有要素在任何缩放级别都显示、可点击；0 为关闭（大图层按视野加载）"
                                  " [GEOSERVICE_MAP_GEOMETRY_MIN_VERTICES]"),
    "IMPORT_MAX_FEATURES": (1_000_000, int,
                            "单个导入文件最多要素数（表格为行数），超出时在读取前拒绝"
                            " [GEOSERVICE_IMPORT_MAX_FEATURES]"),
    "ZIP_MAX_UNCOMPRESSED_MB": (1000, int,
                                "压缩包（压缩的 Shapefile、XLSX）解压后的总大小上限，MB；"
                                "解压前按压缩包目录检查 [GEOSERVICE_ZIP_MAX_UNCOMPRESSED_MB]"),
    "ZIP_MAX_RATIO": (500, int,
                      "压缩包的最大压缩比（解压后大小 ÷ 压缩后大小，只检查 1 MB 以上的内容），"
                      "防止“压缩炸弹” [GEOSERVICE_ZIP_MAX_RATIO]"),
    "ZIP_MAX_MEMBERS": (1000, int, "压缩包内最多文件数 [GEOSERVICE_ZIP_MAX_MEMBERS]"),
    "PROBLEMS_SHOWN": (200, int,
                       "导入被拒绝时页面、接口和命令行列出的问题数（另给出各类问题的数量，"
                       "完整清单可下载 CSV） [GEOSERVICE_PROBLEMS_SHOWN]"),
    "SERVER_THREADS": (8, int,
                       "python run.py 的工作线程数（waitress），即同时处理的请求数"
                       " [GEOSERVICE_SERVER_THREADS]；也可用 --threads 指定"),
    "ACCESS_LOG": (1, int,
                   "访问日志：1 为每个请求在标准错误输出记一行（时间、客户端地址、方法、路径、状态、"
                   "字节数、耗时），0 为不记 [GEOSERVICE_ACCESS_LOG]"),
    "TRUSTED_PROXIES": (0, int,
                        "服务前面可信的反向代理层数（如 nginx 为 1）[GEOSERVICE_TRUSTED_PROXIES]；"
                        "大于 0 时采信代理传来的 X-Forwarded-Proto/-For/-Host（判断 HTTPS、"
                        "客户端地址）；直接对外服务时必须为 0，否则客户端可伪造这些请求头"),
    "SECRET_KEY": ("", str,
                   "会话签名密钥 [GEOSERVICE_SECRET_KEY]；为空时每个工作空间首次启动自动生成一次，"
                   "保存在工作空间旁的 <工作空间文件>.secret_key 文件（权限 0600）中，此后一直使用"),
    "ANONYMOUS_READ": (None, int,
                       "不登录能否查看地图和分析 [GEOSERVICE_ANONYMOUS_READ]：1 可以，0 不可以（页面转到"
                       "登录页，接口返回 401）；不设时示例县工作空间为 1，其他工作空间为 0。"
                       "任何修改都需要登录"),
    "PRINT_UNIT": ("", str,
                   "打印地图和报表上的制图/编制单位 [GEOSERVICE_PRINT_UNIT]，如“某某县民政局”；"
                   "为空时按工作空间的县名写作“<县名>民政局”（不知县名时注明未设置）"),
}

ENV = {
    "WORKSPACE": "GEOSERVICE_WORKSPACE",
    "BASEMAP_URL": "GEOSERVICE_BASEMAP_URL",
    "BASEMAP_ATTRIBUTION": "GEOSERVICE_BASEMAP_ATTRIBUTION",
    "BASEMAP_CRS": "GEOSERVICE_BASEMAP_CRS",
    "BASEMAP_NAME": "GEOSERVICE_BASEMAP_NAME",
    "TIANDITU_KEY": "GEOSERVICE_TIANDITU_KEY",
    "TIANDITU_URL": "GEOSERVICE_TIANDITU_URL",
    "BASEMAP_MBTILES": "GEOSERVICE_BASEMAP_MBTILES",
    "BASEMAP_XYZ_DIR": "GEOSERVICE_BASEMAP_XYZ_DIR",
    "BASEMAP_LOCAL_CRS": "GEOSERVICE_BASEMAP_LOCAL_CRS",
    "MAX_UPLOAD_MB": "GEOSERVICE_MAX_UPLOAD_MB",
    "API_PAGE_DEFAULT": "GEOSERVICE_API_PAGE_DEFAULT",
    "API_PAGE_MAX": "GEOSERVICE_API_PAGE_MAX",
    "LAYER_CACHE_MB": "GEOSERVICE_LAYER_CACHE_MB",
    "MAP_INLINE_MAX_FEATURES": "GEOSERVICE_MAP_INLINE_MAX_FEATURES",
    "MAP_VIEWPORT_MIN_ZOOM": "GEOSERVICE_MAP_VIEWPORT_MIN_ZOOM",
    "MAP_GEOMETRY_MIN_VERTICES": "GEOSERVICE_MAP_GEOMETRY_MIN_VERTICES",
    "IMPORT_MAX_FEATURES": "GEOSERVICE_IMPORT_MAX_FEATURES",
    "ZIP_MAX_UNCOMPRESSED_MB": "GEOSERVICE_ZIP_MAX_UNCOMPRESSED_MB",
    "ZIP_MAX_RATIO": "GEOSERVICE_ZIP_MAX_RATIO",
    "ZIP_MAX_MEMBERS": "GEOSERVICE_ZIP_MAX_MEMBERS",
    "PROBLEMS_SHOWN": "GEOSERVICE_PROBLEMS_SHOWN",
    "SERVER_THREADS": "GEOSERVICE_SERVER_THREADS",
    "ACCESS_LOG": "GEOSERVICE_ACCESS_LOG",
    "TRUSTED_PROXIES": "GEOSERVICE_TRUSTED_PROXIES",
    "SECRET_KEY": "GEOSERVICE_SECRET_KEY",
    "ANONYMOUS_READ": "GEOSERVICE_ANONYMOUS_READ",
    "PRINT_UNIT": "GEOSERVICE_PRINT_UNIT",
}

IMPORT_LIMIT_KEYS = ("IMPORT_MAX_FEATURES", "ZIP_MAX_UNCOMPRESSED_MB", "ZIP_MAX_RATIO",
                     "ZIP_MAX_MEMBERS", "PROBLEMS_SHOWN")


class ConfigError(GeoserviceError, ValueError):
    """A setting with a wrong value: refused at start (the message names the setting)."""

    status = 500


def default_workspace() -> Path | str:
    """The working copy of the demo county, created from the committed one when missing;
    GEOSERVICE_WORKSPACE when set (a URL such as ``postgresql://...`` as it is: a Path
    would fold its ``//``)."""
    env = os.environ.get("GEOSERVICE_WORKSPACE")
    if env:
        return env if "://" in env else Path(env)
    if not DEFAULT_WORKSPACE.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO_WORKSPACE, DEFAULT_WORKSPACE)
    return DEFAULT_WORKSPACE


def setting(key: str, values: dict | None = None):
    """One setting from ``values`` (the app's config), else the environment, else the
    default, typed; for the CLI, which has no app."""
    default, typ, _ = SETTINGS[key]
    if values is not None and key in values:
        value = values[key]
    else:
        env = ENV.get(key)
        value = os.environ.get(env) if env else None
        if value in (None, ""):
            value = default
    if value is None:
        return None
    try:
        return typ(value)
    except (TypeError, ValueError):
        raise ConfigError(f"配置项 {key} 的值“{value}”应为{typ.__name__}") from None


# --- basemaps -------------------------------------------------------------------------------

TIANDITU_NODE = "https://t{s}.tianditu.gov.cn"
TIANDITU_SUBDOMAINS = "01234567"
# the CGCS2000 'c' tile matrix of a Tianditu WMTS layer, KVP request
TIANDITU_WMTS = ("/{layer}_c/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
                 "&STYLE=default&TILEMATRIXSET=c&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                 "&TILECOL={x}")
# key, Chinese name, base layer, annotation layer
TIANDITU_LAYERS = (("tianditu_vec", "天地图矢量", "vec", "cva"),
                   ("tianditu_img", "天地图影像", "img", "cia"))


def tianditu_template(values: dict, layer: str) -> str:
    """The tile template of Tianditu ``layer`` (vec, cva, img, cia) in the 'c' matrix:
    ``{z}`` TILEMATRIX, ``{y}`` TILEROW, ``{x}`` TILECOL (``{s}`` a subdomain of the
    national service); "" when neither TIANDITU_KEY nor TIANDITU_URL is set."""
    key, node = values.get("TIANDITU_KEY") or "", (values.get("TIANDITU_URL") or "").strip()
    if not key and not node:
        return ""
    if "{layer}" in node:
        url = node.replace("{layer}", layer)
    else:
        url = (node or TIANDITU_NODE).rstrip("/") + TIANDITU_WMTS.replace("{layer}", layer)
    if key:
        url += ("&" if "?" in url else "?") + f"tk={key}"
    return url


def basemap_tile_urls(values: dict) -> list[str]:
    """The tile templates of the configured basemaps served by other hosts (for the
    Content-Security-Policy); local tiles come from this server."""
    urls = [values.get("BASEMAP_URL") or ""]
    urls += [tianditu_template(values, layer) for _, _, base, note in TIANDITU_LAYERS
             for layer in (base, note)]
    return [u for u in dict.fromkeys(urls) if u]


def check_basemaps(values: dict) -> None:
    """The basemap settings make sense (the MBTiles file itself is read when the app is
    built: ``geoservice/web/tiles.py``)."""
    key = values.get("TIANDITU_KEY") or ""
    if key and not re.fullmatch(r"[A-Za-z0-9]+", key):
        raise ConfigError("配置项 TIANDITU_KEY 只能由字母和数字组成（天地图控制台中的“Key”）")
    node = (values.get("TIANDITU_URL") or "").strip()
    if node:
        if not re.match(r"^(https?:)?//|^/", node, re.I):
            raise ConfigError(f"配置项 TIANDITU_URL 应以 http://、https:// 或 / 开头，而不是“{node}”")
        if "{layer}" in node and not all(p in node for p in ("{z}", "{x}", "{y}")):
            raise ConfigError("配置项 TIANDITU_URL 含 {layer} 时应为完整模板，"
                              "还须含 {z}、{x}、{y}（瓦片级别、列、行）")
    mbtiles = values.get("BASEMAP_MBTILES") or ""
    if mbtiles and not Path(mbtiles).is_file():
        raise ConfigError(f"配置项 BASEMAP_MBTILES 指定的文件“{mbtiles}”不存在")
    folder = values.get("BASEMAP_XYZ_DIR") or ""
    if folder and not Path(folder).is_dir():
        raise ConfigError(f"配置项 BASEMAP_XYZ_DIR 指定的目录“{folder}”不存在")


def import_limits(values: dict | None = None):
    """The readers' limits (``layers.readers.ImportLimits``) from the settings."""
    from layers.readers import ImportLimits

    return ImportLimits(
        max_features=setting("IMPORT_MAX_FEATURES", values),
        zip_max_uncompressed_mb=setting("ZIP_MAX_UNCOMPRESSED_MB", values),
        zip_max_ratio=setting("ZIP_MAX_RATIO", values),
        zip_max_members=setting("ZIP_MAX_MEMBERS", values))


def load(config: dict | None = None) -> dict:
    """Defaults, then the environment, then ``config``; validated."""
    out: dict = {}
    for key, (default, _typ, _) in SETTINGS.items():
        value = default
        env = ENV.get(key)
        if env and os.environ.get(env) not in (None, ""):
            value = os.environ[env]
        out[key] = value
    for key, value in (config or {}).items():
        if key not in SETTINGS and not key.isupper():
            raise ConfigError(f"未知的配置项“{key}”")
        out[key] = value
    for key, (_, typ, _) in SETTINGS.items():
        value = out[key]
        if value is None:
            continue
        try:
            out[key] = typ(value)
        except (TypeError, ValueError):
            raise ConfigError(f"配置项 {key} 的值“{value}”应为{typ.__name__}") from None
    for key in ("BASEMAP_CRS", "BASEMAP_LOCAL_CRS"):
        if out[key] not in ("cgcs2000", "gcj02"):
            raise ConfigError(f"配置项 {key} 只能是 cgcs2000 或 gcj02，而不是“{out[key]}”")
    check_basemaps(out)
    for key in IMPORT_LIMIT_KEYS:
        if out[key] < 1:
            raise ConfigError(f"配置项 {key} 应为正整数，而不是“{out[key]}”")
    if out["LAYER_CACHE_MB"] < 0:
        raise ConfigError(f"配置项 LAYER_CACHE_MB 应为 0 或正整数，而不是“{out['LAYER_CACHE_MB']}”")
    if out["SERVER_THREADS"] < 1:
        raise ConfigError(f"配置项 SERVER_THREADS 应为正整数，而不是“{out['SERVER_THREADS']}”")
    if out["ACCESS_LOG"] not in (0, 1):
        raise ConfigError(f"配置项 ACCESS_LOG 只能是 1 或 0，而不是“{out['ACCESS_LOG']}”")
    if out["TRUSTED_PROXIES"] < 0:
        raise ConfigError(f"配置项 TRUSTED_PROXIES 应为 0 或正整数，而不是“{out['TRUSTED_PROXIES']}”")
    if out["ANONYMOUS_READ"] not in (None, 0, 1):
        raise ConfigError(f"配置项 ANONYMOUS_READ 只能是 1 或 0，而不是“{out['ANONYMOUS_READ']}”")
    if out["WORKSPACE"] is None:
        out["WORKSPACE"] = str(default_workspace())
    return out
