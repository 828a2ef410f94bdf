"""Siting: the JSON API (synchronous and as background jobs), the page with progress,
cancel, map and tables, the accept-to-scenario action and the downloads."""

from __future__ import annotations

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

from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import (
    FACILITY_LAYERS,
    PROBLEM_LABELS,
    PROBLEM_SHORT,
    WEIGHT_LABELS,
    level_field,
)
from geoservice.errors import BadParameter, InvalidInput, NotFound, ValidationError, http_status
from geoservice.reports.siting import (
    change_rows,
    excluded_frame,
    input_rows,
    report_name,
    result_rows,
    site_frame,
    siting_csv,
    siting_xlsx,
)
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services import audit
from geoservice.services.accounts import Forbidden
from geoservice.services.demand import demand_text
from geoservice.services.jobs import FINISHED, Job, JobRunner
from geoservice.services.siting import (
    SitingRun,
    accept_sites,
    check_demand,
    params_from_mapping,
    point_layer_kinds,
    precheck_siting,
    run_siting,
    siting_params,
    siting_time_limit_default,
)
from geoservice.services.workspace import workspace_info
from geoservice.web.auth import current_actor, require_actor
from geoservice.web.common import (
    PAGE_KEYS,
    json_object,
    json_response,
    list_request,
    map_settings,
    paged,
    workspace_store,
)
from geoservice.web.coverage import (
    COST_KEYS,
    cost_form,
    cost_title,
    demand_form,
    level_choices,
    uploaded_matrix,
    uploaded_projection,
)
from geoservice.web.pages import inline_max, large_layer, map_layers
from layers import KINDS
from maps import map_parts, overview_map
from maps.siting import siting_map

bp = Blueprint("siting", __name__)
XLSX = XLSX_MIME


@bp.record_once
def _setup(state) -> None:
    cfg = state.app.config
    state.app.extensions["siting_jobs"] = JobRunner(
        max_jobs=int(cfg.get("SITING_MAX_JOBS", 20)),
        max_running=int(cfg.get("SITING_MAX_RUNNING", 1)),
        max_waiting=int(cfg.get("SITING_MAX_WAITING", 8)),
        max_per_owner=int(cfg.get("SITING_MAX_PER_USER", 3)),
        store=state.app.extensions["geoservice"]["store"])  # jobs recorded in the workspace


def runner() -> JobRunner:
    return current_app.extensions["siting_jobs"]



def _body() -> dict:
    """Parameters from a JSON body, a form or the query string (in that order)."""
    if request.is_json:
        return json_object('{"layer": "elderly_service_points", "add": 3}')
    if request.form:
        out = {k: v for k, v in request.form.items() if k != "rank"}
        if "rank" in request.form:
            out["ranks"] = request.form.getlist("rank")
        return out
    return dict(request.args.items())


def _params_only(data: dict) -> dict:
    return {k: v for k, v in data.items()
            if k not in ("job", "ranks", "scenario", "note", "csrf_token")}


def _uploaded_params(data: dict):
    """``params_from_mapping`` of a request's parameters with the files sent (multipart):
    the ``projection`` table and the OD matrix ``cost_matrix`` (read and checked here; the
    job keeps the matrix read, not the file)."""
    projection = uploaded_projection()
    with uploaded_matrix() as (path, name):
        from geoservice.web.uploads import import_limits

        return params_from_mapping(_params_only(data), projection, matrix_path=path,
                                   matrix_name=name,
                                   limits=import_limits() if path is not None else None)


def _check_layers(params) -> None:
    """Fail at once (404, Chinese) when a layer the solve needs is not in the workspace."""
    present = workspace_store().current_versions()
    for kind in ("villages", params.layer, params.candidates):
        if kind and kind not in present:
            raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层，请先导入")


def _submit(params) -> Job:
    actor = require_actor("job_start")
    _check_layers(params)
    precheck_siting(workspace_store(), params)  # what the solve would refuse: refused now, not later
    workspace = workspace_store()  # the job thread has no app context: take the store along

    label = f"{PROBLEM_SHORT[params.problem]} · {KINDS[params.layer].label}"

    def work(progress, cancel):
        return run_siting(workspace, params, progress=progress, cancel=cancel)

    job = runner().submit(work, params=params.query(), label=label, owner=job_owner())
    audit.record(workspace, actor, "job_start", layer=params.layer,
                 params={**params.query(), "job": job.id}, result=f"任务 {job.id}：{label}")
    return job


def job_owner() -> str:
    """Whose job this is, for the per-user queue limit: the account's name when logged in
    (session or token), else the client address."""
    actor = current_actor()
    if actor is not None:
        return actor.name
    return request.remote_addr or "local"


def _job(job_id: str) -> Job:
    job = runner().get(job_id)
    if job is None:
        raise NotFound(f"选址任务“{job_id}”不存在或已过期")
    return job


def _finished_run(job_id: str) -> SitingRun:
    job = _job(job_id)
    if job.state not in FINISHED:
        raise BadParameter(f"选址任务“{job_id}”尚未完成（{job.to_dict()['state_label']}）")
    if job.result is None:
        raise BadParameter(f"选址任务“{job_id}”没有结果：{job.error or job.message}")
    return job.result


def _run_from_request(data: dict) -> SitingRun:
    if data.get("job"):
        return _finished_run(str(data["job"]))
    params = params_from_mapping(_params_only(data))
    return run_siting(workspace_store(), params)


def _result_json(run: SitingRun, asked: dict | None = None, src=None) -> dict:
    """The result's JSON; ``asked`` (``list_request``): some fields of the village rows,
    one page of them, with ``numberMatched``/``numberReturned``."""
    if asked is None:
        return run.to_dict()
    body = run.result.to_dict(**asked)
    return paged(body, "villages", len(run.result.villages), asked, src)


def _job_json(job: Job, asked: dict | None = None) -> dict:
    body = job.to_dict()
    body["status_url"] = url_for("siting.api_job", job_id=job.id)
    body["page_url"] = url_for("siting.page", job=job.id)
    if job.result is not None:
        body["result"] = _result_json(job.result, asked)
        body["report_xlsx"] = url_for("siting.report_xlsx", job=job.id)
        body["report_csv"] = url_for("siting.report_csv", job=job.id)
    if job.error_status:
        body["error_status"] = job.error_status
    return body


# --- JSON API ------------------------------------------------------------------------

@bp.post("/api/siting")
def api_siting():
    # Synchronous, but it takes the solver like a job: the same role, audited.
    # ``fields``, ``limit`` and ``offset`` (the village rows) in the body or the query string.
    actor = require_actor("job_start")
    data = _body()
    asked = list_request(data)
    params = _uploaded_params({k: v for k, v in data.items() if k not in PAGE_KEYS})
    check_demand(workspace_store(), params)  # a bad projection table: refused, not recorded
    audit.record(workspace_store(), actor, "job_start", layer=params.layer,
                 params={**params.query(), "job": None}, result="同步计算（POST /api/siting）")
    return json_response(_result_json(run_siting(workspace_store(), params), asked, data))


@bp.post("/api/siting/jobs")
def api_jobs_start():
    params = _uploaded_params(_body())
    job = _submit(params)
    body = _job_json(job)
    return json_response(body, 202), {"Location": body["status_url"]}


@bp.get("/api/siting/jobs/<job_id>")
def api_job(job_id: str):
    """The job's state; once finished its ``result``, of which ``fields=`` keeps only those
    fields of the village rows and ``limit``/``offset`` return one page."""
    asked = list_request()
    return json_response(_job_json(_job(job_id), asked))


@bp.delete("/api/siting/jobs/<job_id>")
def api_job_delete(job_id: str):
    return _cancel(job_id)


@bp.post("/api/siting/jobs/<job_id>/cancel")
def api_job_cancel(job_id: str):
    return _cancel(job_id)


def _cancel(job_id: str):
    actor = require_actor("job_cancel")
    found = _job(job_id)
    if actor.role != "admin" and found.owner not in (None, actor.name):
        raise Forbidden(f"只能取消自己开始的选址任务；任务“{job_id}”不是您（{actor.name}）开始的，"
                        "请联系“管理员”")
    job = runner().cancel(job_id)
    audit.record(workspace_store(), actor, "job_cancel", params={"job": job_id},
                 result=f"任务 {job_id}：{job.to_dict().get('state_label', '')}")
    return json_response(_job_json(job), 202)


def _ranks(data: dict) -> list[int]:
    raw = data.get("ranks", data.get("rank"))
    if raw is None:
        return []
    if isinstance(raw, (str, int)):
        raw = [r for r in str(raw).replace("，", ",").split(",") if r.strip()]
    out = []
    for r in raw:
        try:
            out.append(int(str(r).strip()))
        except ValueError:
            raise BadParameter(f"参数 ranks（接受的站点序号）“{r}”不是整数") from None
    return out


def _accept(data: dict):
    actor = require_actor("accept_plan")  # before anything is solved
    run = _run_from_request(data)
    return run, *accept_sites(workspace_store(), run, _ranks(data),
                              scenario=str(data.get("scenario") or ""),
                              note=str(data.get("note") or ""), actor=actor)


@bp.post("/api/siting/accept")
def api_accept():
    run, version, added, skipped = _accept(_body())
    return jsonify({"layer": "planned_sites", "label": KINDS["planned_sites"].label,
                    "version": version.to_dict(), "added": added, "skipped": skipped}), 201


# --- downloads -----------------------------------------------------------------------

def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/siting/report.xlsx")
def report_xlsx():
    run = _run_from_request(dict(request.args.items()))
    return _download(siting_xlsx(run), report_name(run, "xlsx"), XLSX)


@bp.get("/siting/report.csv")
def report_csv():
    run = _run_from_request(dict(request.args.items()))
    return _download(siting_csv(run), report_name(run, "csv"), "text/csv; charset=utf-8")


# --- the page ------------------------------------------------------------------------

def _form_context(params, info, cost=None) -> dict:
    """The form's fields; ``cost``: what the 出行成本 fields show when it is not
    ``params.cost`` (an OD matrix job shown again: the matrix is not in its parameters)."""
    store_kinds = set(workspace_store().current_versions())
    cand_layers = [(k, KINDS[k].label) for k in point_layer_kinds()
                   if k in store_kinds and k not in FACILITY_LAYERS]
    return {
        "info": info, "params": params,
        "layers": [(k, KINDS[k].label) for k in FACILITY_LAYERS], "levels": level_choices(),
        "problems": list(PROBLEM_LABELS.items()), "weights": list(WEIGHT_LABELS.items()),
        "candidate_layers": cand_layers,
        "default_radii": {k: coverage_defaults(k) for k in FACILITY_LAYERS},
        "cost_form": {**cost_form(params, workspace_store()), **(cost or {})},
        "default_time_limit": siting_time_limit_default(),
        "demand_form": demand_form(params),
    }


def _default_params(data: dict):
    """The form's parameters from ``data`` (text); the defaults when they are bad. An OD
    matrix cannot come back in a link or a job's parameters: the form then shows OD 矩阵
    chosen (its unit) over the straight-line defaults."""
    cost = {k: data.get(k) for k in COST_KEYS}
    if text_of(cost["cost"]) == "matrix":
        cost = {"cost": None}
    try:
        return siting_params(data.get("layer"), data.get("radius"), data.get("level"),
                             data.get("problem"), data.get("add") or (
                                 None if data.get("target") or data.get("problem") == "target"
                                 else 3),
                             data.get("target"), data.get("weight"), data.get("capacitated"),
                             data.get("candidates"), data.get("time_limit"), data.get("year"),
                             data.get("growth"), plan=data.get("plan"), **cost,
                             ignore_existing=data.get("ignore_existing") or None)
    except BadParameter:
        return siting_params(add=3)


def text_of(value) -> str:
    return str(value or "").strip()


def _matrix_form(data: dict, run: SitingRun | None = None) -> dict | None:
    """The 出行成本 fields of a job on an OD matrix (its unit and file name), which its
    parameters (a link's) cannot carry; None for other costs."""
    if run is not None and run.params.cost.spec.kind == "matrix":
        spec = run.params.cost.spec
        return {"cost": "matrix", "unit": spec.unit, "matrix_name": spec.matrix_name,
                "unit_label": "分钟" if spec.unit == "min" else "米", "label": spec.label()}
    if text_of(data.get("cost")) != "matrix":
        return None
    unit = text_of(data.get("cost_unit"))
    return {"cost": "matrix", "unit": unit if unit in ("m", "min") else "m"}


def _result_context(run: SitingRun, info) -> dict:
    p = run.params
    s = run.summary
    ex = excluded_frame(run)
    goal = (f"目标覆盖率 {p.target:.0%}" if p.problem == "target" else f"新增 {p.add} 处")
    radius = (f"{p.radius_m:,.0f} 米" if p.cost.unit == "m" else f"{p.radius_m:,g} 分钟")
    legend_notes = [
        f"选址问题：{PROBLEM_SHORT[p.problem]}（{goal}）",
        f"服务半径：{radius}（{s.get('inputs', {}).get('radius_from', '')}）",
        f"求解：{'最优' if s.get('optimal') else '未证明最优'}，间隙 {float(s.get('gap') or 0):.2%}",
    ]
    if p.ignore_existing:
        legend_notes.append("不考虑现有设施：按尚无任何设施规划（便于与现状布局比较）")
    # An existing facility layer too large for the page is drawn by view.
    by_view = large_layer(workspace_store(), p.layer) \
        if len(run.facilities) > inline_max() else None
    where = {level_field(p.layer): [p.level]} if by_view and p.level else None
    m = siting_map(run.result.villages, run.facilities, run.result.sites, run.result.excluded,
                   s, layer=p.layer, candidates=run.result.candidates,
                   townships=run.townships, exclusion_zones=run.exclusion_zones,
                   title=f"{info['title']} · {KINDS[p.layer].label}选址建议"
                         + cost_title(p.cost.spec),
                   legend_notes=legend_notes, notes=info["notes"], settings=map_settings(),
                   facilities_by_view=by_view, facility_where=where)
    sites = site_frame(run)
    return {
        "no_gain_text": "不再缩短距离" if p.problem == "pmedian" else "不再增加覆盖",
        "map": map_parts(m), "run": run, "summary": s, "inputs_rows": input_rows(run),
        "result_rows": result_rows(run), "change_rows": change_rows(run),
        "sites": sites.to_dict(orient="records"),
        "demand": demand_text(s.get("demand")),
        "excluded": ex.to_dict(orient="records"),
    }


def _overview(info) -> dict:
    store = workspace_store()
    wanted = ["townships", "villages", *FACILITY_LAYERS, "candidates", "exclusion_zones"]
    layers, by_view = map_layers(store, wanted)  # large layers: drawn by view
    m = overview_map(layers, title=f"{info['title']} · 选址建议", notes=info["notes"],
                     settings=map_settings(), by_view=by_view)
    return {"map": map_parts(m)}


@bp.get("/siting")
def page():
    info = workspace_info(workspace_store())
    job_id = request.args.get("job")
    ctx: dict = {"job": None, "error": None, "accepted": None}
    cost = None
    if job_id:
        job = _job(job_id)
        ctx["job"] = job.to_dict()
        done = job.state in FINISHED and job.result is not None
        params = job.result.params if done else _default_params(job.params)
        cost = _matrix_form(job.params, job.result if done else None)
        if done:
            ctx.update(_result_context(job.result, info))
        else:
            if job.state == "failed":
                ctx["error"] = job.error
            ctx.update(_overview(info))
        if request.args.get("accepted"):
            ctx["accepted"] = {"version": request.args.get("accepted"),
                               "added": request.args.get("added", ""),
                               "skipped": request.args.get("skipped", "")}
    else:
        args = dict(request.args.items())
        params = _default_params(args)
        cost = _matrix_form(args)
        ctx.update(_overview(info))
    ctx.update(_form_context(params, info, cost))
    return render_template("siting.html", **ctx)


@bp.post("/siting")
def page_start():
    data = _params_only(_body())
    info = workspace_info(workspace_store())
    try:
        params = _uploaded_params(data)
        job = _submit(params)
    except (BadParameter, NotFound, InvalidInput, ValidationError) as exc:
        ctx = {"job": None, "error": str(exc), "accepted": None}
        ctx.update(_overview(info))
        ctx.update(_form_context(_default_params(data), info, _matrix_form(data)))
        return render_template("siting.html", **ctx), http_status(exc)
    return redirect(url_for("siting.page", job=job.id), code=303)


@bp.post("/siting/accept")
def page_accept():
    data = _body()
    if not data.get("job"):
        raise BadParameter("缺少参数 job（选址任务编号）")
    _, version, added, skipped = _accept(data)
    return redirect(url_for("siting.page", job=data["job"], accepted=version.version,
                            added=added, skipped=skipped) + "#accept", code=303)
