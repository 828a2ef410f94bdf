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
