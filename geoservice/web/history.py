"""操作记录 (the audit trail: page, XLSX, JSON) and 版本历史 of every layer (versions,
one version on the map, the diff against the current version, restore)."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from geoservice.errors import BadParameter
from geoservice.reports.audit import audit_xlsx
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services import audit, history
from geoservice.services.accounts import ROLES, Unauthorized, can
from geoservice.services.layers import restore_version
from geoservice.services.workspace import workspace_info
from geoservice.web.auth import current_actor, require_actor
from geoservice.web.common import layer_kind, map_settings, workspace_store
from geoservice.web.pages import inline_max, view_source
from layers.schema import KINDS
from maps import map_parts
from maps.history import version_map

bp = Blueprint("history", __name__)

DIFF_SHOWN = 200  # rows of each diff list shown on the page (the JSON has them all)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[0-9:+.\-]*)?$")


def _actor():
    return current_actor()


_kind = layer_kind


# --- 操作记录 ---------------------------------------------------------------------------

def _audit_filters() -> dict:
    """user, action, layer, since, until from the query string, checked (Chinese 400)."""
    args = request.args
    out = {k: (args.get(k) or "").strip() for k in ("user", "action", "layer", "since", "until")}
    if out["action"] and out["action"] not in audit.ACTIONS:
        allowed = "、".join(f"{k}（{v}）" for k, v in audit.ACTIONS.items())
        raise BadParameter(f"参数 action（操作）“{out['action']}”无效：可选 {allowed}")
    if out["layer"] and out["layer"] not in KINDS:
        raise BadParameter(f"参数 layer（图层）“{out['layer']}”无效：未知的图层类型")
    for key, label in (("since", "起始日期"), ("until", "截止日期")):
        if out[key] and not _DATE.match(out[key]):
            raise BadParameter(f"参数 {key}（{label}）“{out[key]}”应为日期，如 2026-01-31")
    return {k: v for k, v in out.items() if v}


def _audit_rows(filters: dict) -> list[dict]:
    actor = _actor()
    if actor is None:
        raise Unauthorized("请先登录：查看操作记录需要登录")
    rows = audit.rows(workspace_store(), actor, **filters)
    for row in rows:
        layer = row.get("layer")
        row["layer_label"] = KINDS[layer].label if layer in KINDS else (layer or "")
    return rows


def _login_redirect():
    """Anonymous page visitors go to the login page (when there is one)."""
    if _actor() is None and "auth.login" in current_app.view_functions:
        return redirect(url_for("auth.login", next=request.full_path))
    return None


@bp.get("/audit")
def audit_page():
    if (to_login := _login_redirect()) is not None:
        return to_login
    filters = _audit_filters()
    rows = _audit_rows(filters)
    actor = _actor()
    users = sorted({r["user"] for r in rows} | ({filters["user"]} if "user" in filters else set()))
    return render_template(
        "audit.html", rows=rows, filters=filters, actor=actor,
        role_label=ROLES.get(actor.role, actor.role), actions=list(audit.ACTIONS.items()),
        kinds=[(k, v.label) for k, v in KINDS.items()], layer_kinds=KINDS, users=users,
        report_url=url_for("history.audit_report", **filters),
        json_url=url_for("history.api_audit", **filters))


@bp.get("/audit/report.xlsx")
def audit_report():
    if (to_login := _login_redirect()) is not None:
        return to_login
    filters = _audit_filters()
    data = audit_xlsx(_audit_rows(filters), filters)
    return Response(data, mimetype=XLSX_MIME,
                    headers={"Content-Disposition": 'attachment; filename="audit.xlsx"'})


@bp.get("/api/audit")
def api_audit():
    filters = _audit_filters()
    rows = _audit_rows(filters)
    return jsonify({"filters": filters, "count": len(rows), "rows": rows})


# --- 版本历史 ---------------------------------------------------------------------------

@bp.get("/layers/<kind>/history")
def page(kind: str):
    _kind(kind)
    store = workspace_store()
    actor = _actor()
    versions = history.versions(store, kind)
    ctx = {"kind": kind, "label": KINDS[kind].label, "versions": versions, "actor": actor,
           "can_restore": can(actor, "restore", kind), "diff": None, "diff_shown": DIFF_SHOWN,
           "restored": request.args.get("restored", type=int),
           "tolerance": history.tolerance_param(request.args.get("tolerance")),
           "info": workspace_info(store)}
    n = request.args.get("diff", type=int)
    if n is not None and versions:
        ctx["diff"] = history.diff_version(store, kind, n, tolerance_m=ctx["tolerance"])
    return render_template("history.html", **ctx)


@bp.post("/layers/<kind>/history/restore")
def page_restore(kind: str):
    _kind(kind)
    actor = require_actor("restore", kind)
    n = request.form.get("version", type=int)
    if n is None:
        raise BadParameter("缺少参数 version（要恢复的版本号）")
    new = restore_version(workspace_store(), actor, kind, n)
    return redirect(url_for("history.page", kind=kind, restored=new.version), code=303)


@bp.get("/layers/<kind>/versions/<int:n>/map")
def version_page(kind: str, n: int):
    _kind(kind)
    store = workspace_store()
    v = history.version_of(store, kind, n)
    info = workspace_info(store)
    label = KINDS[kind].label
    notes = [*info["notes"], f"第 {v.version} 版：{v.created}，{v.user or '—'}，来源 {v.source}"]
    if v.features > inline_max():
        m = version_map(kind, None, title=f"{label} · 第 {n} 版", notes=notes,
                        settings=map_settings(), by_view=view_source(kind, n, v.features))
    else:
        m = version_map(kind, store.read(kind, version=n), title=f"{label} · 第 {n} 版",
                        notes=notes, settings=map_settings())
    return render_template("history_map.html", info=info, map=map_parts(m), kind=kind,
                           label=label, version=v.to_dict())


@bp.get("/api/layers/<kind>/versions/<int:n>/diff")
def api_diff(kind: str, n: int):
    _kind(kind)
    tolerance = history.tolerance_param(request.args.get("tolerance"))
    return jsonify(history.diff_version(workspace_store(), kind, n, tolerance_m=tolerance))


@bp.post("/api/layers/<kind>/versions/<int:n>/restore")
def api_restore(kind: str, n: int):
    _kind(kind)
    actor = require_actor("restore", kind)
    new = restore_version(workspace_store(), actor, kind, n)
    return jsonify({"kind": kind, "label": KINDS[kind].label, "restored": n,
                    "version": new.to_dict()}), 201
