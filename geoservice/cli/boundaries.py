"""`python -m geoservice boundaries ...`: boundary review and merge simulation.

The analysis, service and reports (geopandas, shapely, openpyxl) are imported in the
command bodies, so ``boundaries --help`` and ``boundaries merge --help`` start without them.
"""

from __future__ import annotations

from pathlib import Path

import click

from geoservice.cli.common import echo_json, existing_file, open_workspace

# file extension -> writer in geoservice.reports.boundaries
LINE_WRITERS = {".geojson": "lines_geojson", ".json": "lines_geojson", ".gpkg": "lines_gpkg",
                ".zip": "lines_shapefile_zip", ".xlsx": "lines_xlsx"}


def _write(path: str, data: bytes, done: str) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"无法写出文件 {path}：{exc.strerror or exc}") from None
    click.echo(f"{done} {path}", err=True)


@click.group("boundaries", invoke_without_command=True,
             short_help="界线审查（重叠、缝隙、代码、界桩…）与合并模拟。",
             help="乡镇/村界线审查：几何无效、重叠、缝隙、狭长碎片、村超出乡镇、代码、飞地、界桩；"
                  "导出界线（GeoJSON/GeoPackage/Shapefile/XLSX）。子命令 merge 模拟合并。")
@click.option("--layer", type=click.Choice(["townships", "villages"]), default="townships",
              show_default=True, help="审查的图层：乡镇或村。")
@click.option("--area", default=None, help="面积容差（平方米），默认取 defaults.toml。")
@click.option("--width", default=None, help="狭长碎片宽度（米）。")
@click.option("--marker", default=None, help="界桩偏离容差（米）。")
@click.option("--area-sum", "area_sum", default=None, help="乡镇面积与村面积合计相对容差（如 0.001 或 0.1%）。")
@click.option("--snap", default=None, help="界线捕捉容差（米）。")
@click.option("--outline", type=click.Path(dir_okay=False), default=None,
              callback=lambda c, p, v: existing_file(v, "--outline"),
              help="县界文件（面，GeoJSON/GeoPackage/Shapefile）：县界内未覆盖的区域计为缝隙。"
                   "文件含多个面要素（如全市各县）时须用 --outline-feature 指定一个。")
@click.option("--outline-feature", "outline_feature", default=None,
              help="县界文件中用作县界的要素：代码或名称（如 511425 或 青神县）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果。")
@click.option("--xlsx", type=click.Path(dir_okay=False), default=None,
              help="写出 XLSX 报表（汇总、问题清单、界线登记表）。")
@click.option("--lines-out", "lines_out", type=click.Path(dir_okay=False), default=None,
              help="导出界线：按扩展名 .geojson、.gpkg、.zip（Shapefile）或 .xlsx。")
@click.pass_context
def command(ctx, layer, area, width, marker, area_sum, snap, outline, outline_feature,
            as_json, xlsx, lines_out) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if lines_out and Path(lines_out).suffix.lower() not in LINE_WRITERS:
        raise click.ClickException(f"--lines-out“{lines_out}”的扩展名应为 "
                                   + "、".join(LINE_WRITERS))
    from geoservice.reports import boundaries as reports
    from geoservice.services.boundaries import boundary_params, read_outline, run_boundaries

    store = open_workspace(ctx)
    params = boundary_params(layer, area=area, width=width, marker=marker,
                             area_sum=area_sum, snap=snap)
    if outline_feature and not outline:
        raise click.ClickException("参数 --outline-feature（县界要素）需与 --outline（县界文件）一起使用")
    outline_used = (read_outline(outline, outline_feature, filename=Path(outline).name)
                    if outline else None)
    result = run_boundaries(store, params, outline_used)
    if xlsx:
        _write(xlsx, reports.boundaries_xlsx(result), "已写出报表")
    if lines_out:
        writer = getattr(reports, LINE_WRITERS[Path(lines_out).suffix.lower()])
        _write(lines_out, writer(result), "已导出界线")
    if as_json:
        echo_json(result.to_dict())
        return
    for label, value in reports.summary_rows(result):
        click.echo(f"{label}：{value}")
    if len(result.findings):
        # Identical problems on one line each ("103 个村(社区)的代码为 6 位…：…"); the JSON
        # and the XLSX keep one row per feature.
        click.echo("问题清单（同类问题合并为一行）：")
        for g in result.groups():
            click.echo(f"  [{g['type_label']}] {g['message']}")


@command.command("merge", help="模拟合并村(社区)或乡镇：合并后的边界、面积、人口、老年人口、设施数，"
                                      "新名称重名/同音检查与建议代码。加 --apply 才写入新版本（旧版本保留）。")
@click.option("--codes", required=True, help="要合并的单位代码，逗号分隔。")
@click.option("--name", "name", required=True, help="合并后的新名称。")
@click.option("--code", default=None, help="新代码（可选，默认按名称后缀建议）。")
@click.option("--layer", type=click.Choice(["townships", "villages"]), default="villages",
              show_default=True, help="合并的图层。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.option("--apply", "apply", is_flag=True,
              help="应用合并：写入该图层的新版本（合并乡镇时村(社区)图层同时写入新版本）。")
@click.option("--xlsx", type=click.Path(dir_okay=False), default=None,
              help="写出合并模拟 XLSX 报表（合并汇总、合并前、合并后、村代码调整）。")
@click.pass_context
def merge_cmd(ctx, codes, name, code, layer, as_json, apply, xlsx) -> None:
    from geoservice.reports.boundaries import merge_rows, merge_xlsx
    from geoservice.services.accounts import cli_actor
    from geoservice.services.boundaries import (
        applied_dict,
        applied_text,
        apply_merge_to_store,
        merge_params,
        run_merge,
    )

    store = open_workspace(ctx)
    params = merge_params(codes, name, code, layer)
    if apply:
        # As the CLI actor (the operating-system user): the versions record it and the
        # service writes the merge_apply audit row.
        result, versions = apply_merge_to_store(store, params, actor=cli_actor())
    else:
        result, versions = run_merge(store, params), []
    if xlsx:
        _write(xlsx, merge_xlsx(result), "已写出报表")
    if as_json:
        data = result.to_dict()
        data["applied"] = applied_dict(versions)
        echo_json(data)
        return
    for label, value in merge_rows(result):
        click.echo(f"{label}：{'' if value is None else value}")
    for r in result.villages_recoded:
        click.echo(f"  村代码调整：{r['name']} {r['old_code']} → {r['new_code']}")
    if versions:
        lines = applied_text(versions)
        click.echo(f"已应用：{lines[0]}。")
        for line in lines[1:]:
            click.echo(f"同时：{line}。")
    else:
        click.echo("仅为模拟，工作空间未改变；加 --apply 应用。")
