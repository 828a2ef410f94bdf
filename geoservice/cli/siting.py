"""`python -m geoservice siting ...`: siting suggestions from the shell.

The choices come from the vocabulary; the service and report (geopandas, the solver) are
imported in the command body, so ``siting --help`` starts without them.
"""

from __future__ import annotations

import json

import click

from geoservice.analysis.vocabulary import FACILITY_LAYERS, PROBLEM_LABELS, WEIGHT_LABELS
from geoservice.cli.common import (
    cost_keywords,
    cost_options,
    demand_options,
    echo_json,
    open_workspace,
)
from geoservice.cli.coverage import RADIUS_HELP, demand_line, projection_table

RATE_WORDS = ("率", "间隙")


def _fmt(label: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and any(w in label for w in RATE_WORDS):
        return f"{value:.1%}"
    if isinstance(value, float) and value.is_integer() and ("米" in label or "分钟" in label):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


class _Progress:
    """Progress on stderr: one line per new message or 10% step."""

    def __init__(self):
        self.last = (-1, "")

    def __call__(self, fraction: float, message: str = "") -> None:
        step = int(float(fraction) * 10)
        if (step, message) != self.last and (step != self.last[0] or message != self.last[1]):
            self.last = (step, message)
            click.echo(f"[{float(fraction):4.0%}] {message}", err=True)


@click.command("siting", help="选址建议：在现有设施之外，从候选点（默认各村中心）中选出新增设施的最佳位置。"
                              "问题：mclp 最大覆盖、target 目标覆盖（最少新增数）、pmedian p-中位、"
                              "cemetery 公墓选址（先按禁建区和村庄退让排除候选点）。")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), required=True, help="设施图层。")
@click.option("--radius", default=None, help=RADIUS_HELP)
@cost_options
@click.option("--ignore-existing", "ignore_existing", is_flag=True,
              help="不考虑现有设施：按尚无任何设施规划（新区/全新布局），便于与现状布局比较；"
                   "不能与 --plan 同时使用。")
@click.option("--add", "add", default=None, help="新增设施数 K（mclp、pmedian、cemetery）。")
@click.option("--target", default=None, help="目标覆盖率（0-1 或百分数，problem=target）。")
@click.option("--problem", type=click.Choice(list(PROBLEM_LABELS)), default=None,
              help="选址问题；默认：给了 --target 时为 target，否则为 mclp。")
@click.option("--level", default=None, help="现有设施只计入某一层级/类型，也决定默认半径。")
@click.option("--candidates", default=None,
              help="候选点图层（工作空间中的点图层，如 candidates）；默认以各村中心为候选点。")
@click.option("--weight", type=click.Choice(list(WEIGHT_LABELS)), default="elderly",
              show_default=True, help="覆盖对象：老年人口、户籍人口或村数。")
@click.option("--capacitated", is_flag=True, help="p-中位按床位容量约束分配。")
@click.option("--time-limit", "time_limit", default=None,
              help="求解时限（秒）；默认取 defaults.toml。到时限返回已找到的最好方案及其间隙。")
@demand_options
@click.option("--plan", default=None,
              help="在规划方案基础上选址：该方案的站点算作现有设施，不会再被建议（方案的目标年份为默认需求年份）。")
@click.option("--save-to", "save_to", default=None,
              help="把全部建议站点加入规划方案（不存在时新建为草稿；已批准的方案拒绝）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果（summary、sites、excluded、villages）。")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False), default=None,
              help="同时写出 XLSX 报表（汇总、选址建议、排除的候选点、村）。")
@click.pass_context
def command(ctx, layer, radius, cost, network, cost_field, cost_matrix, cost_unit,
            ignore_existing, add, target, problem, level, candidates, weight, capacitated,
            time_limit, year, growth, projection, plan, save_to, as_json, xlsx) -> None:
    from geoservice.reports.siting import change_rows, site_frame, siting_xlsx, summary_rows
    from geoservice.services.siting import accept_sites, run_siting, siting_params

    store = open_workspace(ctx)
    params = siting_params(layer, radius, level, problem, add, target, weight, capacitated,
                           candidates, time_limit, year, growth, projection_table(projection),
                           plan,
                           **cost_keywords(cost, network, cost_field, cost_matrix, cost_unit),
                           ignore_existing=True if ignore_existing else None)
    if save_to is not None:
        from geoservice.services.plans import check_target, plan_name

        plan_name(save_to, "--save-to")  # refused before the solve: a bad name, an
        check_target(store, save_to, params.layer)  # approved plan, another layer's plan
    run = run_siting(store, params, progress=None if as_json else _Progress())
    if save_to is not None:
        ranks = [int(r) for r in run.result.sites["rank"]]
        if not ranks:
            raise click.ClickException("没有建议站点，未加入规划方案")
        from geoservice.services.accounts import cli_actor

        version, added, skipped = accept_sites(store, run, ranks, scenario=save_to,
                                               actor=cli_actor())
        click.echo(f"已将 {added} 处建议站点加入规划方案“{save_to}”"
                   + (f"（{skipped} 处已在方案中）" if skipped else "")
                   + f"，规划新增设施第 {version.version} 版", err=True)
    if xlsx:
        with open(xlsx, "wb") as fh:
            fh.write(siting_xlsx(run))
        click.echo(f"已写出报表 {xlsx}", err=True)
    if as_json:
        echo_json(json.loads(json.dumps(run.to_dict(), ensure_ascii=False)))
        return
    for label, value in summary_rows(run):
        click.echo(f"{label}：{_fmt(label, value)}")
    demand_line(run.summary)
    click.echo("覆盖变化（新增前 → 新增后）：")
    for label, before, after in change_rows(run):
        click.echo(f"  {label}：{_fmt(label, before)} → {_fmt(label, after)}")
    sites = site_frame(run)
    if len(sites):
        click.echo("建议站点（按边际收益排序）：")
        for row in sites.itertuples():
            if params.problem == "pmedian":
                gain, what = getattr(row, "assigned_elderly", None), "分配老年人口"
            else:
                gain, what = getattr(row, "marginal_elderly", None), "新增覆盖老年人口"
            extra = f"，{what} {gain:,.0f}" if gain is not None and gain == gain else ""
            covered = getattr(row, "newly_covered_names", "")
            useless = ""
            if bool(getattr(row, "no_gain", False)):
                useless = ("（不再缩短距离，可不建）" if params.problem == "pmedian"
                           else "（不再增加覆盖，可不建）")
            click.echo(f"  {row.rank}. {row.name}（{row.lon:.5f}, {row.lat:.5f}）{extra}"
                       + (f"；新增覆盖：{covered}" if covered else "") + useless)
    else:
        click.echo("没有建议站点。")
