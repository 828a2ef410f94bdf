"""`python -m geoservice ...`: the same work as the web service, from the shell."""

from __future__ import annotations

import json
import sys

import click

from layers import KINDS, LayerError, ValidationError, import_file, layer_summary

from . import config as config_mod
from .analysis.coverage import FACILITY_LAYERS, WEIGHTINGS
from .cli_util import existing_file
from .errors import GeoserviceError
from .reports import coverage_xlsx, summary_rows
from .service import coverage_params, run_coverage
from .workspace import store_for, workspace_info

KIND_HELP = "，".join(f"{k}={v.label}" for k, v in KINDS.items())


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(help="民政设施规划服务命令行。默认工作空间为示例县（青神县）工作空间的副本，"
                  "可用 --workspace 或环境变量 GEOSERVICE_WORKSPACE 指定。")
@click.option("--workspace", type=click.Path(dir_okay=False), default=None,
              help="工作空间 GeoPackage 文件（不存在时新建）。")
@click.pass_context
def main(ctx: click.Context, workspace: str | None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace


def _store(ctx: click.Context):
    workspace = ctx.obj.get("workspace") or str(config_mod.default_workspace())
    try:
        return store_for(workspace)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("import", short_help="导入图层文件（成为新版本，旧版本保留）。",
              help=f"导入图层文件，成为该图层的新版本（旧版本保留）。图层类型：{KIND_HELP}")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("file", type=click.Path(dir_okay=False), callback=lambda c, p, v: existing_file(v, "FILE"))
@click.option("--crs", default=None,
              help="输入坐标系：EPSG 代码（如 EPSG:4490、EPSG:4544）、gcj02 或 bd09。"
                   "默认：文件自带坐标系；表格为 CGCS2000 经纬度；8 位横坐标按带号识别。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
def import_cmd(ctx: click.Context, kind: str, file: str, crs: str | None, as_json: bool) -> None:
    store = _store(ctx)
    if not as_json:
        click.echo(f"正在读取并校验 {file}（{KINDS[kind].label}）…", err=True)
    try:
        version = import_file(store, kind, file, crs=crs)
    except ValidationError as exc:
        if as_json:
            _echo_json({"ok": False, "problems": [p.to_dict() for p in exc.problems]})
        else:
            click.echo(f"导入被拒绝，共 {len(exc.problems)} 处问题，工作空间未改变：", err=True)
            for p in exc.problems:
                click.echo(f"  {p}", err=True)
        sys.exit(1)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json({"ok": True, "version": version.to_dict()})
    else:
        click.echo(f"已导入“{KINDS[kind].label}”第 {version.version} 版，共 {version.features} 个要素"
                   f"（输入坐标系 {version.source_crs}）。")


@main.command("layers", help="列出工作空间中的图层、要素数和版本。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def layers_cmd(ctx: click.Context, as_json: bool) -> None:
    store = _store(ctx)
    if as_json:
        info = workspace_info(store)
        _echo_json({"title": info["title"], "demo": info["demo"], "layers": info["layers"]})
        return
    for row in layer_summary(store):
        state = (f"{row['features']} 个要素，第 {row['version']} 版（{row['created']}）"
                 if row["loaded"] else "未导入")
        click.echo(f"{row['kind']:<24}{row['label']:<14}{state}")


@main.command("coverage", help="覆盖与可达性分析：各村是否在设施服务半径内、覆盖率、每千名老年人床位、"
                               "G2SFCA 可达性；与目标比较。")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), default="elderly_service_points",
              show_default=True, help="设施图层。")
@click.option("--radius", default=None,
              help="服务半径（米）；默认取 defaults.toml 中该图层/层级的值（结果中注明）。")
@click.option("--level", default=None,
              help="只计入某一层级/类型，如 township_center、village_station、county、public_welfare。")
@click.option("--weighting", type=click.Choice(list(WEIGHTINGS)), default="villages",
              show_default=True, help="与目标比较的覆盖率：村数、人口或老年人口。")
@click.option("--target", default=None, help="目标覆盖率（0-1 或百分数），默认取 defaults.toml。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果。")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False), default=None,
              help="同时写出 XLSX 报表（汇总、乡镇、村三张表）。")
@click.pass_context
def coverage_cmd(ctx, layer, radius, level, weighting, target, as_json, xlsx) -> None:
    store = _store(ctx)
    try:
        params = coverage_params(layer, radius, level, weighting, target)
        result = run_coverage(store, params)
    except GeoserviceError as exc:
        raise click.ClickException(str(exc)) from None
    if xlsx:
        with open(xlsx, "wb") as fh:
            fh.write(coverage_xlsx(result))
        click.echo(f"已写出报表 {xlsx}", err=True)
    if as_json:
        _echo_json(result.to_dict())
        return
    for label, value in summary_rows(result):
        if isinstance(value, float) and ("率" in label):
            value = f"{value:.1%}"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        click.echo(f"{label}：{'' if value is None else value}")
    top = result.uncovered.head(10)
    if len(top):
        click.echo("未覆盖村（按老年人口排序，前 10）：")
        for row in top.itertuples():
            click.echo(f"  {row.code} {row.name}：老年人口 {row.elderly_population}，"
                       f"最近设施 {row.nearest_m:.0f} 米")


# Each analysis registers its command here (one line each, in issue order).
# -- siting command --
from .cli_siting import siting_cmd as _siting_cmd  # noqa: E402

main.add_command(_siting_cmd)
# -- boundaries command --
from .cli_boundaries import boundaries_cmd as _boundaries_cmd  # noqa: E402

main.add_command(_boundaries_cmd)
# -- placenames command --
from .cli_placenames import placenames_cmd as _placenames_cmd  # noqa: E402

main.add_command(_placenames_cmd)
