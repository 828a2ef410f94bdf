"""What every CLI module shares: the workspace from the root options, JSON out, file checks.

No command lives here and nothing here imports a command, so there is no cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def existing_file(path: str | None, what: str) -> str | None:
    """Click's own missing-file message is English: say it in Chinese, naming the argument."""
    if path is not None and not Path(path).is_file():
        raise click.ClickException(f"参数 {what}：文件“{path}”不存在或不是文件")
    return path


def demand_options(command):
    """``--year``, ``--growth`` and ``--projection``: the target year's elderly population
    (coverage and siting alike)."""
    for option in reversed((
        click.option("--year", default=None,
                     help="目标年份（如 2030）：按该年的老年人口计算；不给时用村(社区)图层的当前数据。"),
        click.option("--growth", default=None,
                     help="老年人口年增长率（需 --year）：全县一个值，如 0.03 或 3%；或分乡镇 "
                          "乡镇代码:增长率,…（未列出的乡镇用全县值或默认值）。默认取 defaults.toml [demand]。"),
        click.option("--projection", default=None, type=click.Path(dir_okay=False),
                     help="老年人口预测表 CSV/XLSX（需 --year）：村代码或乡镇代码、年份、60岁以上人口。"),
    )):
        command = option(command)
    return command


def cost_options(command):
    """``--cost``, ``--network``, ``--cost-field``, ``--cost-matrix`` and ``--cost-unit``:
    how travel is measured (coverage and siting alike); the command receives them as
    ``cost``, ``network``, ``cost_field``, ``cost_matrix``, ``cost_unit`` and passes them
    on with :func:`cost_keywords`."""
    from geoservice.analysis.vocabulary import COST_FIELDS, COSTS
    from layers.schema import KINDS, LINE

    networks = [k for k, v in KINDS.items() if v.geometry == LINE]
    for option in reversed((
        click.option("--cost", type=click.Choice(list(COSTS)), default=None,
                     help="出行成本：straight 直线距离（默认）、network 沿道路网、matrix OD 矩阵"
                          "（需 --cost-matrix 和 --cost-unit）。沿道路网或 OD 矩阵时，服务半径（--radius"
                          "及 --cutoffs）为沿道路的米数或分钟数，不给半径时按单位取 "
                          "defaults.toml 的 [coverage.radius_m] 或 [coverage.radius_min]。"),
        click.option("--network", default=None, type=click.Choice(networks),
                     help="道路网图层（cost=network），默认 roads（道路）。"),
        click.option("--cost-field", "cost_field", type=click.Choice(list(COST_FIELDS)),
                     default=None,
                     help="道路成本（cost=network）：length 道路里程（米，默认）或 time 通行时间"
                          "（分钟，按道路的通行时间或设计时速，未填时按 defaults.toml [network] "
                          "各等级默认车速）。"),
        click.option("--cost-matrix", "cost_matrix", default=None,
                     type=click.Path(dir_okay=False),
                     help="OD 矩阵文件 CSV/XLSX（列：村代码、设施或候选点名称、成本）；给出时 "
                          "--cost 默认为 matrix，矩阵中没有的村-设施对视为不可达。"),
        click.option("--cost-unit", "cost_unit", default=None,
                     help="OD 矩阵的成本单位（cost=matrix 时必填）：m（米）或 min（分钟）；"
                          "服务半径即为该单位。"),
    )):
        command = option(command)
    return command


def cost_keywords(cost, network, cost_field, cost_matrix, cost_unit) -> dict:
    """The cost options as the keywords of ``coverage_params`` / ``siting_params``; the
    OD matrix file checked to exist (its name as the user gave it)."""
    path = existing_file(cost_matrix, "--cost-matrix")
    return {"cost": cost, "network": network, "cost_field": cost_field,
            "cost_unit": cost_unit, "matrix_path": path,
            "matrix_name": Path(path).name if path else None}


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def open_workspace(ctx: click.Context):
    """The store named by ``--workspace`` (or the environment, or the demo copy)."""
    from geoservice import config as config_mod
    from geoservice.services.workspace import store_for
    from layers import LayerError

    root = ctx.find_root()
    workspace = (root.obj or {}).get("workspace") or str(config_mod.default_workspace())
    try:
        return store_for(workspace)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
