"""The upload page: import a layer file from the browser.

A rejected file's problems are shown grouped (identical problems as one line with their
first rows) and capped (the first ``PROBLEMS_SHOWN`` and the count of each kind); the
whole list is kept as a CSV file in the server's temporary folder for ``PROBLEMS_TTL_S``
seconds under a random token, downloadable from ``/upload/problems/<token>.csv`` (the
page's link, the API's ``problems_csv``). The file is on disk, not in a process's memory,
so any server process on the machine can serve it. An imported file's warnings (defects
imported as given, for the reviewer) are shown the same way, above the success message,
with their own CSV (``warnings_csv``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, url_for

from geoservice import config as config_mod
from geoservice.errors import BadParameter, NotFound
from geoservice.reports.xlsx import csv_field
from geoservice.services.layers import import_layer
from geoservice.web.auth import require_actor
from geoservice.web.common import workspace_store
from layers import KINDS, ValidationError
from layers.crs import OFFSET_SYSTEMS
from layers.errors import problems_csv, warnings_summary
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

PROBLEMS_DIR = Path(tempfile.gettempdir()) / "geoservice-problems"
PROBLEMS_TTL_S = 3600
PROBLEMS_KEEP = 50  # at most this many lists are kept (the oldest go first)
_TOKEN = re.compile(r"[0-9a-f]{32}")


def import_upload(kind: str):
    """Import the uploaded ``file`` as a new version of ``kind`` (form field ``crs``), with
    the configured limits, by the current account (its role checked first: 401/403, and
    audited); ValidationError when it is refused (nothing stored)."""
    actor = require_actor("import", kind)  # before the upload is even saved
    with saved_upload() as (path, filename):
        return import_layer(workspace_store(), actor, kind, path,
                            crs=request.form.get("crs") or None, filename=filename,
                            limits=import_limits())


def import_limits():
    """The configured import limits (``layers.readers.ImportLimits``)."""
    return config_mod.import_limits(current_app.config)


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


# --- the problems of a rejected file ----------------------------------------------------

def save_problems(exc: ValidationError | list) -> str:
    """Keep the whole problem list (a rejection's, or an import's warnings) as CSV for a
    while; returns its token."""
    problems = exc.problems if isinstance(exc, ValidationError) else list(exc)
    PROBLEMS_DIR.mkdir(parents=True, exist_ok=True)
    _prune()
    token = uuid.uuid4().hex
    part = PROBLEMS_DIR / f"{token}.part"
    part.write_bytes(problems_csv(problems, escape=csv_field))
    os.replace(part, PROBLEMS_DIR / f"{token}.csv")
    return token


def _prune() -> None:
    try:
        files = sorted(PROBLEMS_DIR.glob("*.csv"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    now = time.time()
    for i, f in enumerate(files):
        with contextlib.suppress(OSError):
            if now - f.stat().st_mtime > PROBLEMS_TTL_S or len(files) - i >= PROBLEMS_KEEP:
                f.unlink()


def problems_summary(exc: ValidationError) -> dict:
    """The capped view of a rejected file's problems (``PROBLEMS_SHOWN`` of them, the count
    of each kind) with the link to the whole list as CSV."""
    shown = config_mod.setting("PROBLEMS_SHOWN", current_app.config)
    out = exc.summary(shown)
    out["problems_csv"] = url_for("uploads.problems_download", token=save_problems(exc))
    return out


def import_warnings(version) -> dict:
    """An imported version's warnings: ``warning_count``, ``warnings`` (grouped) and
    ``warnings_csv`` (the link to the per-row list, None when there is none)."""
    out = warnings_summary(version.warnings)
    out["warnings_csv"] = (url_for("uploads.problems_download",
                                   token=save_problems(version.warnings))
                           if version.warnings else None)
    return out


def problems_json(exc: ValidationError, status: int = 400) -> tuple[dict, int]:
    """The JSON body of a rejected upload: ``error`` (first line), ``status``, the total,
    the count of each kind, the first problems and the CSV link."""
    return {"error": str(exc).split("\n")[0], "status": status,
            **problems_summary(exc)}, status


@bp.get("/upload/problems/<token>.csv")
def problems_download(token: str):
    """The whole problem list of a rejected upload, as CSV (UTF-8 with BOM, for Excel)."""
    path = PROBLEMS_DIR / f"{token}.csv"
    if not _TOKEN.fullmatch(token) or not path.is_file():
        raise NotFound(f"问题清单已过期或不存在（保留 {PROBLEMS_TTL_S // 60} 分钟）：请重新导入文件以生成")
    return Response(path.read_bytes(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="import_problems.csv"'})


# --- the page -------------------------------------------------------------------------

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
        version = import_upload(kind)
    except ValidationError as exc:
        summary = problems_summary(exc)
        return render_template("upload.html", rejected=summary, **context), 400
    return render_template("upload.html", imported=version, kind_label=KINDS[kind].label,
                           warned=import_warnings(version), **context)
