"""Basemaps: the list the maps offer (``configured_basemaps``) and local tiles served by
the app itself, for offices whose intranet reaches no tile server.

- ``BASEMAP_MBTILES``: an MBTiles file (SQLite), tiles at ``/tiles/mbtiles/{z}/{x}/{y}.<ext>``.
  MBTiles rows count from the south (TMS): row = 2^z - 1 - y. The image format comes from
  the file's metadata (``format``), else from the first tile's bytes; vector tiles (pbf)
  are refused at start.
- ``BASEMAP_XYZ_DIR``: a folder ``z/x/y.<ext>`` (png, jpg, jpeg, webp), tiles at
  ``/tiles/xyz/{z}/{x}/{y}.<ext>``.

A missing tile is a 404 (the map shows the background there); a tile is cached by the
browser (``ASSET_MAX_AGE``) and revalidated by its ETag. Only whole numbers reach a file
name and no path leaves the folder. Tiles are read like every page (the read access of
``auth.py``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    has_request_context,
    request,
    send_file,
)

from geoservice.config import TIANDITU_LAYERS, TIANDITU_SUBDOMAINS, ConfigError, tianditu_template

bp = Blueprint("tiles", __name__)

EXTENSION = "geoservice.tiles"
COOKIE = "gs_basemap"  # the browser's remembered basemap (maps/static/basemaps.js)
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
             "webp": "image/webp"}
MAX_ZOOM = 30
TIANDITU_ATTRIBUTION = "天地图 © 国家地理信息公共服务平台"


@dataclass(frozen=True)
class MBTiles:
    """An MBTiles file opened read-only: its image format and what its metadata says."""

    path: Path
    format: str  # png | jpg | webp
    name: str = ""
    attribution: str = ""
    max_zoom: int = 18

    @classmethod
    def open(cls, path: str | Path) -> MBTiles:
        """Read the metadata; ``ConfigError`` (naming BASEMAP_MBTILES) when the file is
        not an MBTiles of images."""
        path = Path(path).resolve()
        try:
            with _connect(path) as db:
                meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
                first = db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
                deepest = db.execute("SELECT MAX(zoom_level) FROM tiles").fetchone()[0]
        except sqlite3.Error as exc:
            raise ConfigError(f"配置项 BASEMAP_MBTILES 指定的文件“{path}”不是 MBTiles 瓦片文件"
                              f"（应为含 metadata 和 tiles 表的 SQLite 数据库）：{exc}") from None
        fmt = str(meta.get("format") or "").lower().strip() or _sniff(first[0] if first else b"")
        if fmt == "jpeg":
            fmt = "jpg"
        if fmt not in MIMETYPES:
            raise ConfigError(f"配置项 BASEMAP_MBTILES 指定的文件“{path}”的瓦片格式“{fmt or '未知'}”"
                              "不能用作底图：只支持 png、jpg、webp 图片瓦片（不支持矢量瓦片 pbf）")
        try:
            max_zoom = int(meta.get("maxzoom") or deepest or 18)
        except ValueError:
            max_zoom = int(deepest or 18)
        return cls(path=path, format=fmt, name=str(meta.get("name") or ""),
                   attribution=str(meta.get("attribution") or ""), max_zoom=max_zoom)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile of XYZ address z/x/y (y from the north), or None."""
        with _connect(self.path) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                " AND tile_row = ?", (z, x, (1 << z) - 1 - y)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None


class _connect:
    """A read-only connection, closed on exit (sqlite3's own context manager only
    commits)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc):
        self.db.close()


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return ""


def _folder_format(folder: Path) -> str:
    """The image format of a tile folder: the extension of its first tile (png when it
    is still empty)."""
    for zdir in sorted(folder.iterdir()):
        if zdir.is_dir() and zdir.name.isdigit():
            for xdir in sorted(zdir.iterdir()):
                if xdir.is_dir() and xdir.name.isdigit():
                    for f in xdir.iterdir():
                        ext = f.suffix.lstrip(".").lower()
                        if f.is_file() and ext in MIMETYPES:
                            return ext
    return "png"


@bp.record_once
def _open_local_tiles(state) -> None:
    """Open the local tiles once, when the app is built (a bad file stops the start)."""
    cfg = state.app.config
    mbtiles = MBTiles.open(cfg["BASEMAP_MBTILES"]) if cfg.get("BASEMAP_MBTILES") else None
    folder = Path(cfg["BASEMAP_XYZ_DIR"]).resolve() if cfg.get("BASEMAP_XYZ_DIR") else None
    state.app.extensions[EXTENSION] = {
        "mbtiles": mbtiles, "folder": folder,
        "folder_format": _folder_format(folder) if folder else ""}


def _local() -> dict:
    return current_app.extensions[EXTENSION]


def configured_basemaps() -> tuple:
    """Every basemap of this app, the default first: BASEMAP_URL, 天地图矢量 and 天地图影像
    (TIANDITU_KEY or TIANDITU_URL), the MBTiles file, the tile folder."""
    from maps.base import Basemap

    cfg = current_app.config
    local = _local()
    root = request.script_root if has_request_context() else ""
    out = []
    if cfg["BASEMAP_URL"]:
        out.append(Basemap(key="custom", name=cfg["BASEMAP_NAME"] or "底图", kind="xyz",
                           url=cfg["BASEMAP_URL"], attribution=cfg["BASEMAP_ATTRIBUTION"],
                           crs=cfg["BASEMAP_CRS"]))
    for key, name, base, note in TIANDITU_LAYERS:
        url = tianditu_template(cfg, base)
        if url:
            sub = TIANDITU_SUBDOMAINS if "{s}" in url else ""
            out.append(Basemap(key=key, name=name, kind="tianditu_c", url=url,
                               overlay_url=tianditu_template(cfg, note),
                               attribution=TIANDITU_ATTRIBUTION, crs="cgcs2000",
                               subdomains=sub))
    crs = cfg["BASEMAP_LOCAL_CRS"]
    if local["mbtiles"] is not None:
        mb = local["mbtiles"]
        out.append(Basemap(key="mbtiles", name="本地瓦片（MBTiles）", kind="mbtiles",
                           url=f"{root}/tiles/mbtiles/{{z}}/{{x}}/{{y}}.{mb.format}",
                           attribution=mb.attribution or cfg["BASEMAP_ATTRIBUTION"] or "本地瓦片",
                           crs=crs, max_native_zoom=min(mb.max_zoom, 18)))
    if local["folder"] is not None:
        out.append(Basemap(key="folder", name="本地瓦片（目录）", kind="folder",
                           url=f"{root}/tiles/xyz/{{z}}/{{x}}/{{y}}.{local['folder_format']}",
                           attribution=cfg["BASEMAP_ATTRIBUTION"] or "本地瓦片", crs=crs))
    return tuple(out)


def _address(z: int, x: int, y: int, ext: str) -> None:
    if ext not in MIMETYPES or z > MAX_ZOOM or x >= (1 << z) or y >= (1 << z):
        abort(404)


def _cache(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = int(current_app.config["ASSET_MAX_AGE"])
    return response


@bp.get("/tiles/mbtiles/<int:z>/<int:x>/<int:y>.<ext>")
def mbtiles_tile(z: int, x: int, y: int, ext: str):
    """A tile of the BASEMAP_MBTILES file (404 when not configured or missing)."""
    mb: MBTiles | None = _local()["mbtiles"]
    _address(z, x, y, ext)
    if mb is None or (ext if ext != "jpeg" else "jpg") != mb.format:
        abort(404)
    data = mb.tile(z, x, y)
    if data is None:
        abort(404)
    response = Response(data, mimetype=MIMETYPES[mb.format])
    response.set_etag(hashlib.md5(data, usedforsecurity=False).hexdigest())
    return _cache(response).make_conditional(request)


@bp.get("/tiles/xyz/<int:z>/<int:x>/<int:y>.<ext>")
def folder_tile(z: int, x: int, y: int, ext: str):
    """A tile of the BASEMAP_XYZ_DIR folder, ``z/x/y.<ext>`` (404 when not configured or
    missing)."""
    folder: Path | None = _local()["folder"]
    _address(z, x, y, ext)
    if folder is None:
        abort(404)
    path = (folder / str(z) / str(x) / f"{y}.{ext}").resolve()
    if folder not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, mimetype=MIMETYPES[ext], conditional=True,
                     max_age=int(current_app.config["ASSET_MAX_AGE"]))
