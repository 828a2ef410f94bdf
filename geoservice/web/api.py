"""JSON API: layers in and out."""

from __future__ import annotations

import json
import math

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from geoservice.errors import BadParameter
from geoservice.services.params import whole_number
from geoservice.services.workspace import workspace_info
from geoservice.web.common import layer_kind, workspace_store
from geoservice.web.uploads import import_upload, import_warnings, problems_json
from layers import ValidationError

bp = Blueprint("api", __name__, url_prefix="/api")



_kind = layer_kind


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``bbox=min lon,min lat,max lon,max lat`` in degrees, or a Chinese 400."""
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if (len(values) != 4 or not all(math.isfinite(v) for v in values)
            or not (-180 <= values[0] < values[2] <= 180)
            or not (-90 <= values[1] < values[3] <= 90)):
        raise BadParameter(f"bbox 参数“{text}”格式错误：应为 最小经度,最小纬度,最大经度,最大纬度"
                           "（经度 -180～180，纬度 -90～90，最小值小于最大值）")
    return values  # type: ignore[return-value]


@bp.get("/layers")
def layers_index():
    info = workspace_info(workspace_store())
    return jsonify({"title": info["title"], "demo": info["demo"], "demo_note": info["demo_note"],
                    "layers": info["layers"]})


@bp.get("/layers/<kind>")
def layer_features(kind: str):
    """One page of a layer's features as GeoJSON (``limit``/``offset``, a default and a
    maximum from the settings), with the total and the link to the next page."""
    kind = _kind(kind)
    cfg = current_app.config
    version = whole_number(request.args.get("version"), "version", default=None, lowest=1,
                           highest=2**31 - 1)
    limit = whole_number(request.args.get("limit"), "limit", default=cfg["API_PAGE_DEFAULT"],
                         lowest=1, highest=cfg["API_PAGE_MAX"])
    offset = whole_number(request.args.get("offset"), "offset", default=0, lowest=0,
                          highest=2**31 - 1)
    store = workspace_store()
    gdf = store.read(kind, version=version, bbox=parse_bbox(request.args.get("bbox")))
    current = store.current_versions().get(kind)
    page = gdf.iloc[offset:offset + limit]
    body = json.loads(page.to_crs(4326).to_json(drop_id=True, na="null"))
    body["kind"] = kind
    body["version"] = version if version else (current.version if current else None)
    body["numberMatched"] = len(gdf)
    body["numberReturned"] = len(page)
    body["limit"], body["offset"] = limit, offset
    if offset + limit < len(gdf):
        args = {**request.args.to_dict(), "limit": limit, "offset": offset + limit}
        body["next"] = url_for("api.layer_features", kind=kind, **args)
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/layers/<kind>/versions")
def layer_versions(kind: str):
    kind = _kind(kind)
    return jsonify({"kind": kind, "versions": [v.to_dict() for v in workspace_store().versions(kind)]})


@bp.post("/layers/<kind>")
def layer_import(kind: str):
    """Import a file; a rejected one answers 400 with the first problems, the count of
    each kind, identical problems grouped (``problem_groups``) and the link to the whole
    list as CSV (never the whole list inline). An imported one answers 201 with the
    version and its warnings: ``warning_count``, ``warnings`` (grouped) and
    ``warnings_csv``."""
    kind = _kind(kind)
    try:
        version = import_upload(kind)
    except ValidationError as exc:
        body, status = problems_json(exc)
        return jsonify(body), status
    return jsonify({"kind": kind, "version": version.to_dict(),
                    **import_warnings(version)}), 201
