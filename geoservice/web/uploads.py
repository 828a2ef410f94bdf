"""The upload page: import a layer file from the browser."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from flask import Blueprint, render_template, request

from geoservice.errors import BadParameter
from geoservice.web.common import workspace_store
from layers import KINDS, ValidationError, import_file
from layers.crs import OFFSET_SYSTEMS
from layers.readers import GEO_SUFFIXES, SUPPORTED, TABLE_SUFFIXES

bp = Blueprint("uploads", __name__)

CRS_CHOICES = [
    ("", "自动（文件自带坐标系；表格默认 CGCS2000 经纬度；8 位横坐标按带号识别）"),
    ("EPSG:4490", "EPSG:4490 CGCS2000 经纬度"),
    ("EPSG:4326", "EPSG:4326 WGS84 经纬度"),
    ("gcj02", OFFSET_SYSTEMS["gcj02"]),
    ("bd09", OFFSET_SYSTEMS["bd09"]),
    ("EPSG:4544", "EPSG:4544 CGCS2000 3度带 中央经线105°（无带号）"),
    ("EPSG:4523", "EPSG:4523 CGCS2000 3度带 第35带（横坐标带号 35）"),
]


@contextlib.contextmanager
def saved_upload():
    """The uploaded ``file`` saved to a temporary path: yields (path, original name)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadParameter("请选择要导入的文件")
    filename = Path(upload.filename).name
    suffix = Path(filename).suffix.lower()
    if suffix not in GEO_SUFFIXES | TABLE_SUFFIXES:
        raise BadParameter(f"不支持的文件格式“{suffix or '无扩展名'}”，支持：{SUPPORTED}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        yield path, filename


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    kinds = [(k, v.label, v.geometry_label) for k, v in KINDS.items()]
    context = {"kinds": kinds, "crs_choices": CRS_CHOICES, "supported": SUPPORTED,
               "selected_kind": request.form.get("kind", "villages"),
               "crs": request.form.get("crs", "")}
    if request.method == "GET":
        return render_template("upload.html", **context)
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        raise BadParameter(f"未知的图层类型“{kind}”")
    try:
        with saved_upload() as (path, filename):
            version = import_file(workspace_store(), kind, path,
                                  crs=request.form.get("crs") or None, filename=filename)
    except ValidationError as exc:
        return render_template("upload.html", problems=exc.problems, **context), 400
    return render_template("upload.html", imported=version, kind_label=KINDS[kind].label,
                           **context)
