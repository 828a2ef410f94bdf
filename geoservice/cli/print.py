"""`python -m geoservice print <analysis> ...`: a printed map (PDF or PNG) of an analysis.

One subcommand per analysis, taking that analysis' main options, plus the paper options
shared by all: ``--paper A4|A3``, ``--orientation``, ``--format`` (default from the
suffix of ``--out``), ``--bbox``, ``--title``, ``--dpi`` and ``--out``. The layout is
``geoservice.reports.printmap``, the same as the web's ``/print/<analysis>.pdf``.
Heavy imports (geopandas, matplotlib) happen in the command bodies.
"""

from __future__ import annotations

from pathlib import Path

import click

from geoservice.analysis.vocabulary import (
    FACILITY_LAYERS,
    FCA_METHODS,
    PROBLEM_LABELS,
    WEIGHT_LABELS,
    WEIGHTINGS,
)
from geoservice.cli.common import (
    cost_keywords,
    cost_options,
    demand_options,
    existing_file,
    open_workspace,
)

SUFFIX_FORMATS = {".pdf": "pdf", ".png": "png"}


def paper_options(command):
    """The paper options every ``print`` subcommand takes."""
    for option in reversed((
        click.option("--paper", default="A4", show_default=True, help="纸张：A4 或 A3。"),
        click.option("--orientation", default="landscape", show_default=True,
                     help="方向：landscape（横向）或 portrait（纵向）。"),
        click.option("--format", "fmt", default=None,
                     help="格式：pdf 或 png；默认按 --out 的扩展名（.pdf/.png）。"),
        click.option("--bbox", default=None, metavar="最小经度,最小纬度,最大经度,最大纬度",
                     help="地图范围（CGCS2000 经纬度）；默认为全部数据的范围。"),
        click.option("--title", default=None, help="标题；默认为“工作空间 + 分析”的名称。"),
        click.option("--dpi", default=None, help="PNG 分辨率（每英寸像素），默认 150。"),
        click.option("--out", required=True, type=click.Path(dir_okay=False),
                     help="输出文件，如 覆盖.pdf 或 覆盖.png。"),
    )):
        command = option(command)
    return command


def _write(analysis: str, result, store, paper, orientation, fmt, bbox, title, dpi,
           out) -> None:
    from geoservice.config import setting
    from geoservice.reports.printmap import print_map, print_options

    if fmt is None:
        fmt = SUFFIX_FORMATS.get(Path(out).suffix.lower())
        if fmt is None:
            raise click.ClickException(f"参数 --out“{out}”的扩展名应为 .pdf 或 .png，"
                                       "或用 --format 指定格式")
    options = print_options(paper, orientation, fmt, bbox, title, dpi)
    data = print_map(store, analysis, result, options, unit=setting("PRINT_UNIT"))
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"参数 --out：无法写出“{out}”：{exc.strerror or exc}") from None
    click.echo(f"已写出地图 {out}（{options.paper} "
               f"{'横向' if options.orientation == 'landscape' else '纵向'}，"
               f"{options.fmt.upper()}）", err=True)


def _check_options(paper, orientation, fmt, bbox, title, dpi) -> None:
    """Bad paper options refused before any analysis runs."""
    from geoservice.reports.printmap import print_options

    print_options(paper, orientation, fmt or "pdf", bbox, title, dpi)


@click.group("print", help="打印地图：把分析结果排成 A4/A3 的 PDF 或 PNG（标题、图例、比例尺、指北针、"
                           "数据日期、图层版本、参数、制图单位）。子命令为各项分析。")
def print_cmd() -> None:
    pass


@print_cmd.command("coverage", help="覆盖分析地图：各村是否在设施服务半径内。")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), default="elderly_service_points",
              show_default=True, help="设施图层。")
@click.option("--radius", default=None, help="服务半径（米）；默认取 defaults.toml。")
@click.option("--level", default=None, help="只计入某一层级/类型。")
@click.option("--weighting", type=click.Choice(list(WEIGHTINGS)), default="villages",
              show_default=True, help="与目标比较的覆盖率：村数、人口或老年人口。")
@click.option("--target", default=None, help="目标覆盖率（0-1 或百分数）。")
@demand_options
@click.option("--plan", default=None, help="按规划方案计算：现有设施加上该方案的站点。")
@cost_options
@click.option("--method", type=click.Choice(list(FCA_METHODS)), default=None,
              help="可达性方法（默认 g2sfca）。")
@click.option("--cutoffs", default=None, help="多个服务半径，如 15,30,45（成本的单位）。")
@paper_options
@click.pass_context
def coverage_cmd(ctx, layer, radius, level, weighting, target, year, growth, projection, plan,
                 cost, network, cost_field, cost_matrix, cost_unit, method, cutoffs,
                 paper, orientation, fmt, bbox, title, dpi, out) -> None:
    from geoservice.cli.coverage import projection_table
    from geoservice.services.coverage import coverage_params, run_coverage

    _check_options(paper, orientation, fmt, bbox, title, dpi)
    store = open_workspace(ctx)
    params = coverage_params(layer, radius, level, weighting, target, year, growth,
                             projection_table(projection), plan,
                             **cost_keywords(cost, network, cost_field, cost_matrix, cost_unit),
                             method=method, cutoffs=cutoffs)
    _write("coverage", run_coverage(store, params), store, paper, orientation, fmt, bbox,
           title, dpi, out)


@print_cmd.command("siting", help="选址建议地图：建议新增站点、覆盖变化、候选点与禁建区。")
@click.option("--layer", type=click.Choice(FACILITY_LAYERS), required=True, help="设施图层。")
@click.option("--radius", default=None, help="服务半径（米）；默认取 defaults.toml。")
@click.option("--add", "add", default=None, help="新增设施数 K。")
@click.option("--target", default=None, help="目标覆盖率（problem=target）。")
@click.option("--problem", type=click.Choice(list(PROBLEM_LABELS)), default=None,
              help="选址问题；默认：给了 --target 时为 target，否则为 mclp。")
@click.option("--level", default=None, help="现有设施只计入某一层级/类型。")
@click.option("--candidates", default=None, help="候选点图层；默认以各村中心为候选点。")
@click.option("--weight", type=click.Choice(list(WEIGHT_LABELS)), default="elderly",
              show_default=True, help="覆盖对象。")
@click.option("--capacitated", is_flag=True, help="p-中位按床位容量约束分配。")
@click.option("--time-limit", "time_limit", default=None, help="求解时限（秒）。")
@demand_options
@click.option("--plan", default=None, help="在规划方案基础上选址。")
@cost_options
@click.option("--ignore-existing", "ignore_existing", is_flag=True,
              help="不考虑现有设施（按尚无任何设施规划）。")
@paper_options
@click.pass_context
def siting_cmd(ctx, layer, radius, add, target, problem, level, candidates, weight, capacitated,
               time_limit, year, growth, projection, plan, cost, network, cost_field,
               cost_matrix, cost_unit, ignore_existing, paper, orientation, fmt, bbox, title,
               dpi, out) -> None:
    from geoservice.cli.coverage import projection_table
    from geoservice.services.siting import run_siting, siting_params

    _check_options(paper, orientation, fmt, bbox, title, dpi)
    store = open_workspace(ctx)
    params = siting_params(layer, radius, level, problem, add, target, weight, capacitated,
                           candidates, time_limit, year, growth, projection_table(projection),
                           plan, **cost_keywords(cost, network, cost_field, cost_matrix,
                                                 cost_unit),
                           ignore_existing=ignore_existing or None)
    _write("siting", run_siting(store, params), store, paper, orientation, fmt, bbox,
           title, dpi, out)


@print_cmd.command("boundaries", help="界线审查地图：单位、共有界线与县界、问题位置。")
@click.option("--layer", type=click.Choice(["townships", "villages"]), default="townships",
              show_default=True, help="审查的图层：乡镇或村。")
@click.option("--area", default=None, help="面积容差（平方米）。")
@click.option("--width", default=None, help="狭长碎片宽度（米）。")
@click.option("--marker", default=None, help="界桩偏离容差（米）。")
@click.option("--area-sum", "area_sum", default=None, help="乡镇面积与村面积合计相对容差。")
@click.option("--snap", default=None, help="界线捕捉容差（米）。")
@click.option("--outline", type=click.Path(dir_okay=False), default=None,
              callback=lambda c, p, v: existing_file(v, "--outline"),
              help="县界文件（面）：县界内未覆盖的区域计为缝隙。")
@click.option("--outline-feature", "outline_feature", default=None,
              help="县界文件中用作县界的要素：代码或名称。")
@paper_options
@click.pass_context
def boundaries_cmd(ctx, layer, area, width, marker, area_sum, snap, outline, outline_feature,
                   paper, orientation, fmt, bbox, title, dpi, out) -> None:
    from geoservice.services.boundaries import boundary_params, read_outline, run_boundaries

    _check_options(paper, orientation, fmt, bbox, title, dpi)
    if outline_feature and not outline:
        raise click.ClickException("参数 --outline-feature（县界要素）需与 --outline（县界文件）一起使用")
    store = open_workspace(ctx)
    params = boundary_params(layer, area=area, width=width, marker=marker, area_sum=area_sum,
                             snap=snap)
    used = (read_outline(outline, outline_feature, filename=Path(outline).name)
            if outline else None)
    _write("boundaries", run_boundaries(store, params, used), store, paper, orientation,
           fmt, bbox, title, dpi, out)


@print_cmd.command("placenames", help="地名核查地图：标注按问题着色，缺失标注标在村中心。")
@click.option("--labels", default=None, help="地图标注文件；默认用工作空间的“地名标注”图层。")
@click.option("--labels-crs", "labels_crs", default=None, help="标注文件的坐标系（如 gcj02、bd09）。")
@click.option("--tolerance", default=None, help="位置容差（米）。")
@click.option("--radius", default=None, help="搜索半径（米）。")
@click.option("--threshold", default=None, help="近似名称阈值（0-1）。")
@paper_options
@click.pass_context
def placenames_cmd(ctx, labels, labels_crs, tolerance, radius, threshold, paper, orientation,
                   fmt, bbox, title, dpi, out) -> None:
    from geoservice import config as config_mod
    from geoservice.services.placenames import placenames_params, run_placenames

    _check_options(paper, orientation, fmt, bbox, title, dpi)
    existing_file(labels, "--labels")
    store = open_workspace(ctx)
    params = placenames_params(tolerance, radius, threshold)
    result = run_placenames(store, params, labels_path=labels, labels_crs=labels_crs,
                            labels_optional=labels is None, limits=config_mod.import_limits())
    _write("placenames", result, store, paper, orientation, fmt, bbox, title, dpi, out)
