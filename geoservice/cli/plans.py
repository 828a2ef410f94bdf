"""`python -m geoservice plans ...`: plans (规划方案) from the shell: list, show, create,
change status, edit sites from a file of changes, undo, export, compare two plans.

The services and reports are imported in the command bodies, so ``plans --help`` starts
without geopandas. Changes act as the operating-system user (role admin) and are audited.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from geoservice.analysis.vocabulary import FACILITY_LAYERS, PLAN_STATUS, WEIGHTINGS
from geoservice.cli.common import (
    cost_keywords,
    cost_options,
    demand_options,
    echo_json,
    open_workspace,
)


def _jsonable(data):
    from geoservice.analysis.jsonsafe import jsonable

    return json.loads(json.dumps(jsonable(data), ensure_ascii=False))


@click.group("plans", short_help="规划方案：列出、查看、新建、改状态、编辑站点、撤销、导出、比较两个方案。",
             help="规划方案（如“十四五”方案）：名称、设施图层、目标年份、状态（草稿/已提交/已批准）、备注和站点。"
                  "站点来自选址建议（siting --save-to 方案名）或手工添加、移动、修改、删除；每次修改成为"
                  "“规划新增设施”图层的新版本并记入操作记录，可撤销；已批准的方案只读。"
                  "“现状”表示不含任何方案的现有设施。")
def plans_cmd() -> None:
    """Subcommands below."""


@plans_cmd.command("list", help="列出全部规划方案：设施图层、目标年份、状态、站点数、床位数。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def list_cmd(ctx, as_json) -> None:
    from geoservice.services.plans import list_plans, plan_dict

    store = open_workspace(ctx)
    rows = [{k: v for k, v in plan_dict(store, p).items() if k not in ("sites", "levels")}
            for p in list_plans(store)]
    if as_json:
        echo_json(_jsonable(rows))
        return
    if not rows:
        click.echo("尚无规划方案。用 plans create 新建，或 siting ... --save-to 方案名 从选址建议生成。")
        return
    for r in rows:
        year = f"，目标年份 {r['target_year']}" if r["target_year"] else ""
        click.echo(f"{r['name']}：{r['layer_label']}{year}，{r['status_label']}，"
                   f"{r['site_count']} 处站点，床位 {r['beds']}")


@plans_cmd.command("show", help="查看一个规划方案及其站点。")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（含站点和修改记录）。")
@click.pass_context
def show_cmd(ctx, name, as_json) -> None:
    from geoservice.services.plans import get_plan, plan_dict, plan_history

    store = open_workspace(ctx)
    d = plan_dict(store, get_plan(store, name))
    history = plan_history(store, name)
    if as_json:
        echo_json(_jsonable({**d, "history": history}))
        return
    click.echo(f"规划方案：{d['name']}（{d['status_label']}{'，只读' if d['read_only'] else ''}）")
    click.echo(f"设施图层：{d['layer_label']}；目标年份：{d['target_year'] or '（未设）'}")
    if d["note"]:
        click.echo(f"备注：{d['note']}")
    click.echo(f"站点 {d['site_count']} 处，床位 {d['beds']}；规划新增设施图层第 {d['version']} 版")
    for s in d["sites"]:
        level = f"，{s['level_label']}" if s["level_label"] else ""
        beds = f"，床位 {s['beds']}" if s["beds"] is not None else ""
        click.echo(f"  [{s['site_id']}] {s['name']}（{s['lon']:.5f}, {s['lat']:.5f}）{level}{beds}")
    if history:
        click.echo("修改记录（最近在前）：")
        for h in history[:20]:
            click.echo(f"  {h['time']} {h['user']} {h['action_label']}：{h['result']}")


@plans_cmd.command("create", help="新建规划方案（草稿）。")
@click.argument("name")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), default="elderly_service_points",
              show_default=True, help="设施图层。")
@click.option("--year", "target_year", default=None, help="目标年份（如 2030）：按此方案计算时的默认需求年份。")
@click.option("--note", default="", help="备注。")
@click.pass_context
def create_cmd(ctx, name, layer, target_year, note) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.plans import create_plan

    plan = create_plan(open_workspace(ctx), cli_actor(), name, layer, target_year=target_year,
                       note=note)
    click.echo(f"已新建规划方案“{plan.name}”（{plan.status_label}）")


@plans_cmd.command("set", help="修改方案的状态、备注或目标年份。状态："
                               + "、".join(f"{k}（{v}）" for k, v in PLAN_STATUS.items())
                               + "；已批准的方案只读。")
@click.argument("name")
@click.option("--status", default=None, help="新状态：draft/submitted/approved 或 草稿/已提交/已批准。")
@click.option("--note", default=None, help="新备注。")
@click.option("--year", "target_year", default=None, help="新目标年份。")
@click.pass_context
def set_cmd(ctx, name, status, note, target_year) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.plans import update_plan

    plan = update_plan(open_workspace(ctx), cli_actor(), name, status=status, note=note,
                       target_year=target_year)
    click.echo(f"规划方案“{plan.name}”：{plan.status_label}，目标年份 {plan.target_year or '（未设）'}")


@plans_cmd.command("edit", help="按 JSON 文件修改方案的站点（全部成功或全部不改）：文件内容为列表，每项如 "
                                '{"op": "add", "lon": 103.8, "lat": 29.8, "name": "…", "level": "…", "beds": 20}、'
                                '{"op": "move", "site_id": 3, "lon": …, "lat": …}、'
                                '{"op": "edit", "site_id": 3, "beds": 40}、{"op": "remove", "site_id": 3}。')
@click.argument("name")
@click.argument("changes", type=click.Path(dir_okay=False))
@click.pass_context
def edit_cmd(ctx, name, changes) -> None:
    from geoservice.cli.common import existing_file
    from geoservice.services.accounts import cli_actor
    from geoservice.services.plans import edit_sites

    existing_file(changes, "CHANGES")
    try:
        ops = json.loads(Path(changes).read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"修改文件“{changes}”不是有效的 JSON（UTF-8）：{exc}") from None
    version, counts = edit_sites(open_workspace(ctx), cli_actor(), name, ops)
    click.echo(f"规划方案“{name}”已修改（{counts}），规划新增设施图层第 {version.version} 版")


@plans_cmd.command("undo", help="撤销方案站点的上一次修改（恢复为修改前的站点，成为新版本）。")
@click.argument("name")
@click.pass_context
def undo_cmd(ctx, name) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.plans import undo_last

    version = undo_last(open_workspace(ctx), cli_actor(), name)
    click.echo(f"已撤销：规划方案“{name}”的站点恢复为上一次修改前，规划新增设施图层第 {version.version} 版")


@plans_cmd.command("restore", help="把方案的站点恢复为“规划新增设施”图层第 VERSION 版时的样子（其他方案不变）。")
@click.argument("name")
@click.argument("version")
@click.pass_context
def restore_cmd(ctx, name, version) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.plans import restore_plan

    v = restore_plan(open_workspace(ctx), cli_actor(), name, version)
    click.echo(f"规划方案“{name}”的站点已恢复为第 {version} 版时的样子，成为第 {v.version} 版")


@plans_cmd.command("export", help="导出方案的站点：GeoJSON（.geojson）或 XLSX（.xlsx），按文件扩展名。")
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False))
@click.pass_context
def export_cmd(ctx, name, out) -> None:
    from geoservice.reports.plans import plan_geojson, plan_xlsx
    from geoservice.services.plans import get_plan, plan_dict

    store = open_workspace(ctx)
    d = plan_dict(store, get_plan(store, name))
    suffix = Path(out).suffix.lower()
    if suffix in (".geojson", ".json"):
        Path(out).write_text(json.dumps(_jsonable(plan_geojson(d)), ensure_ascii=False, indent=1),
                             encoding="utf-8")
    elif suffix == ".xlsx":
        Path(out).write_bytes(plan_xlsx(d))
    else:
        raise click.ClickException(f"不支持的导出格式“{suffix or out}”：请用 .geojson 或 .xlsx")
    click.echo(f"已导出规划方案“{name}”的 {d['site_count']} 处站点到 {out}")


@plans_cmd.command("compare", help="比较两个规划方案（或一个方案与“现状”）：全县和各乡镇的覆盖率、每千名老年人床位、"
                                   "新增覆盖的村、未覆盖老年人口、站点和床位、是否达标，及差值（B−A）。"
                                   "两边参数（含出行成本 --cost）相同；需求年份默认取两个方案中较晚的目标年份。"
                                   "按道路网或 OD 矩阵比较时，距离类指标为沿道路的米数或分钟数。")
@click.argument("a")
@click.argument("b")
@click.option("--radius", default=None,
              help="服务半径（米；--cost-field time 或分钟单位的 OD 矩阵时为分钟）；默认取 defaults.toml。")
@click.option("--level", default=None, help="只计入某一层级/类型。")
@click.option("--weighting", type=click.Choice(list(WEIGHTINGS)), default=None,
              help="与目标比较的覆盖率（默认按村数）。")
@click.option("--target", default=None, help="目标覆盖率（0-1 或百分数）。")
@cost_options
@demand_options
@click.option("--json", "as_json", is_flag=True,
              help='以 JSON 输出：{"a": {"name", "summary", …}, "b": {…}, "townships": [{"code", "name", "a", "b", "diff"}], …}。')
@click.option("--xlsx", default=None, type=click.Path(dir_okay=False), help="同时写出对比 XLSX。")
@click.pass_context
def compare_cmd(ctx, a, b, radius, level, weighting, target, cost, network, cost_field,
                cost_matrix, cost_unit, year, growth, projection, as_json, xlsx) -> None:
    from geoservice.cli.coverage import projection_table
    from geoservice.reports.plans import compare_cost, compare_rows, compare_xlsx
    from geoservice.services.demand import demand_text
    from geoservice.services.plans import compare_plans

    store = open_workspace(ctx)
    cmp = compare_plans(store, a, b, radius=radius, level=level, weighting=weighting,
                        target=target, year=year, growth=growth,
                        projection=projection_table(projection),
                        **cost_keywords(cost, network, cost_field, cost_matrix, cost_unit))
    if xlsx:
        Path(xlsx).write_bytes(compare_xlsx(cmp))
        click.echo(f"已写出对比报表 {xlsx}", err=True)
    if as_json:
        echo_json(_jsonable(cmp))
        return
    ta, tb = cmp["a"]["name"], cmp["b"]["name"]
    click.echo(f"A：{ta}    B：{tb}    需求年份：{demand_text(cmp['a']['summary'].get('demand'))}")
    c = compare_cost(cmp)
    click.echo(f"出行成本：{c['label']}；服务半径 {cmp['a']['summary']['radius_m']:g} {c['unit_word']}"
               f"（距离、时间类指标的单位为{c['unit_word']}）")
    for r in compare_rows(cmp):
        better = {"a": "（A 较优）", "b": "（B 较优）", None: ""}[r["better"]]
        click.echo(f"  {r['label']}：{_fmt(r['kind'], r['a'])} | {_fmt(r['kind'], r['b'])}"
                   + ("" if r["kind"] == "bool" else f" | 差值 {_fmt(r['kind'], r['diff'], sign=True)}")
                   + better)
    if cmp["newly_covered"]:
        names = "、".join(v["name"] for v in cmp["newly_covered"][:20])
        more = "等" if len(cmp["newly_covered"]) > 20 else ""
        click.echo(f"B 新增覆盖 {len(cmp['newly_covered'])} 个村：{names}{more}")
    if cmp["no_longer_covered"]:
        click.echo(f"B 不再覆盖 {len(cmp['no_longer_covered'])} 个村："
                   + "、".join(v["name"] for v in cmp["no_longer_covered"][:20]))


def _fmt(kind: str, value, sign: bool = False) -> str:
    if value is None:
        return "—"
    if kind == "bool":
        return "是" if value else "否"
    plus = "+" if sign and value > 0 else ""
    if kind == "share":
        return f"{plus}{value * 100:.1f}" + ("个百分点" if sign else "%")
    if kind in ("rate", "m", "min"):
        return f"{plus}{value:,.1f}"
    return f"{plus}{value:,.0f}"
