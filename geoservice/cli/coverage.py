"""`python -m geoservice coverage`: coverage and accessibility from the shell.

The service and report (geopandas, pandas) are imported in the command body, so
``coverage --help`` starts without them.
"""

from __future__ import annotations

import click

from geoservice.analysis.vocabulary import FACILITY_LAYERS, FCA_METHODS, WEIGHTINGS
from geoservice.cli.common import (
    cost_keywords,
    cost_options,
    demand_options,
    echo_json,
    open_workspace,
)

RADIUS_HELP = ("服务半径：直线距离或沿道路里程时为米，通行时间或以分钟计的 OD 矩阵时为分钟；"
               "默认取 defaults.toml 中该图层/层级的值（[coverage.radius_m] 或 "
               "[coverage.radius_min]，结果中注明）。")


@click.command("coverage", help="覆盖与可达性分析：各村是否在设施服务半径内、覆盖率、每千名老年人床位、"
                               "可达性（G2SFCA 等）；与目标比较。出行成本可为直线距离、沿道路网或 OD 矩阵。")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), default="elderly_service_points",
              show_default=True, help="设施图层。")
@click.option("--radius", default=None, help=RADIUS_HELP)
@cost_options
@click.option("--method", type=click.Choice(list(FCA_METHODS)), default=None,
              help="可达性方法：" + "；".join(f"{k} {v}" for k, v in FCA_METHODS.items())
                   + "。默认 g2sfca。")
@click.option("--cutoffs", default=None,
              help="另外统计的多个服务半径（与 --radius 同一单位），如 15,30,45：各半径内的老年人口、"
                   "人口和村所占比例。")
@click.option("--level", default=None,
              help="只计入某一层级/类型，如 township_center、village_station、county、public_welfare。")
@click.option("--weighting", type=click.Choice(list(WEIGHTINGS)), default="villages",
              show_default=True, help="与目标比较的覆盖率：村数、人口或老年人口。")
@click.option("--target", default=None, help="目标覆盖率（0-1 或百分数），默认取 defaults.toml。")
@demand_options
@click.option("--plan", default=None,
              help="按规划方案计算：现有设施加上该方案的站点（方案的目标年份为默认需求年份）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果。")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False), default=None,
              help="同时写出 XLSX 报表（汇总、乡镇、村三张表）。")
@click.pass_context
def command(ctx, layer, radius, cost, network, cost_field, cost_matrix, cost_unit, method,
            cutoffs, level, weighting, target, year, growth, projection, plan, as_json,
            xlsx) -> None:
    from geoservice.reports.coverage import coverage_xlsx, summary_rows
    from geoservice.services.coverage import coverage_params, run_coverage

    store = open_workspace(ctx)
    params = coverage_params(layer, radius, level, weighting, target, year, growth,
                             projection_table(projection), plan,
                             **cost_keywords(cost, network, cost_field, cost_matrix, cost_unit),
                             method=method, cutoffs=cutoffs)
    result = run_coverage(store, params)
    if xlsx:
        with open(xlsx, "wb") as fh:
            fh.write(coverage_xlsx(result))
        click.echo(f"已写出报表 {xlsx}", err=True)
    if as_json:
        echo_json(result.to_dict())
        return
    for label, value in summary_rows(result):
        if label == "可达性公式":
            continue  # in the report; the method's name is enough here
        if isinstance(value, float) and ("率" in label):
            value = f"{value:.1%}"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        click.echo(f"{label}：{'' if value is None else value}")
    demand_line(result.summary)
    _townships(result)
    top = result.uncovered.head(10)
    if len(top):
        unit = unit_text(result.summary)
        click.echo("未覆盖村（按老年人口排序，前 10）：")
        for row in top.itertuples():
            click.echo(f"  {row.code} {row.name}：老年人口 {row.elderly_population}，"
                       f"最近设施 {distance_text(row.nearest_m, unit)}")


def unit_text(summary: dict) -> str:
    """米 or 分钟: the unit of every distance of a result."""
    return "分钟" if summary.get("radius_unit") == "min" else "米"


def distance_text(value, unit: str) -> str:
    """A distance as people read it: metres whole, minutes to 0.1; none reachable when
    infinite or missing (a road network or OD matrix may leave a village unreachable)."""
    if value is None or value != value or value == float("inf"):
        return "不可达"
    return f"{value:.0f} 米" if unit == "米" else f"{value:.1f} 分钟"




def _figure(value, fmt: str = "{:.1f}") -> str:
    return "—" if value is None or value != value else fmt.format(value)


def _townships(result) -> None:
    """One line per township: coverage, and beds per 1,000 elderly as the plans count
    them (all elderly-care beds) beside this layer's own figure; graves for cemeteries."""
    s = result.summary
    if not len(result.townships):
        return
    if s["layer"] == "cemeteries":
        click.echo("乡镇（村覆盖率；设计/已用/剩余墓穴数）：")
    else:
        click.echo(f"乡镇（村覆盖率；每千名老年人床位，全部养老床位，目标 ≥ {s['beds_target']:g}；"
                   "其中本图层）：")
    for t in result.townships.to_dict(orient="records"):
        head = f"  {t['name'] if isinstance(t['name'], str) else t['code']}：" \
               f"村覆盖率 {_figure(t['village_coverage'] * 100, '{:.1f}%')}"
        if s["layer"] == "cemeteries":
            click.echo(f"{head}；墓穴 {_figure(t['capacity_graves'], '{:.0f}')}/"
                       f"{_figure(t['used_graves'], '{:.0f}')}/"
                       f"{_figure(t['remaining_graves'], '{:.0f}')}")
        else:
            verdict = "达标" if t["meets_beds_target"] else "未达标"
            click.echo(f"{head}；每千名老年人床位 {_figure(t['care_beds_per_1000_elderly'])}"
                       f"（{verdict}），其中本图层 {_figure(t['beds_per_1000_elderly'])}")


def projection_table(path: str | None):
    """The projection table of ``--projection``, its format checked (Chinese, row by row)."""
    if path is None:
        return None
    from geoservice.cli.common import existing_file
    from geoservice.services.demand import read_projection

    return read_projection(existing_file(path, "--projection"))


def demand_line(summary: dict) -> None:
    """Which year's demand the result used, when a target year was asked for."""
    if summary.get("demand"):
        from geoservice.services.demand import demand_text

        click.echo(f"需求年份：{demand_text(summary['demand'])}")
