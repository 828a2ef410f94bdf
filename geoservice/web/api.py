"""JSON API: layers in and out."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from geoservice.errors import BadParameter
from geoservice.services.workspace import workspace_info
from geoservice.web.common import workspace_store
from geoservice.web.uploads import saved_upload
from layers import get_kind, import_file

bp = Blueprint("api", __name__, url_prefix="/api")



def _kind(kind: str) -> str:
    try:
        get_kind(kind)
    except KeyError as exc:
        raise BadParameter(exc.args[0]) from None
    return kind


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        raise BadParameter(f"bbox 参数“{text}”格式错误：应为 最小经度,最小纬度,最大经度,最大纬度")
    return values  # type: ignore[return-value]


@bp.get("/layers")
def layers_index():
    info = workspace_info(workspace_store())
    return jsonify({"title": info["title"], "demo": info["demo"], "demo_note": info["demo_note"],
                    "layers": info["layers"]})


@bp.get("/layers/<kind>")
def layer_features(kind: str):
    kind = _kind(kind)
    version = request.args.get("version")
    if version is not None and not version.isdigit():
        raise BadParameter(f"version 参数“{version}”应为正整数")
    store = workspace_store()
    gdf = store.read(kind, version=int(version) if version else None,
                     bbox=parse_bbox(request.args.get("bbox")))
    current = store.current_versions().get(kind)
    body = json.loads(gdf.to_crs(4326).to_json(drop_id=True, na="null"))
    body["kind"] = kind
    body["version"] = int(version) if version else (current.version if current else None)
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/layers/<kind>/versions")
def layer_versions(kind: str):
    kind = _kind(kind)
    return jsonify({"kind": kind, "versions": [v.to_dict() for v in workspace_store().versions(kind)]})


@bp.post("/layers/<kind>")
def layer_import(kind: str):
    kind = _kind(kind)
    with saved_upload() as (path, filename):
        version = import_file(workspace_store(), kind, path, crs=request.form.get("crs") or None,
                              filename=filename)
    return jsonify({"kind": kind, "version": version.to_dict()}), 201
