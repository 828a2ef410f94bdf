"""`python -m geoservice placenames`: the place-name check from the shell.

The service and report (geopandas, pandas) are imported in the command body, so
``placenames --help`` starts without them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geoservice.cli.common import open_workspace
from layers import ValidationError


@click.command("placenames", short_help="地名核查：地图村(社区)标注与标准名册比对，罗马字母拼写。",
               help="地名核查：互联网地图上的村(社区)标注与标准名册比对（缺失、错名、旧名、"
                                  "位置偏差、无对应、重复；名册同名/同音、生僻字、不规范名称），"
                                  "并给出标准名称的罗马字母拼写（GB/T 16159）。")
@click.option("--labels", "labels", default=None,
              help="标注文件（CSV/XLSX/GeoJSON 等）；默认使用工作空间中的地名标注图层。")
@click.option("--labels-crs", "labels_crs", default=None,
              help="标注文件坐标系：gcj02（高德/腾讯）、bd09（百度）或 EPSG 代码；默认 CGCS2000 经纬度。")
@click.option("--aliases", "aliases", default=None,
              help="曾用名表（CSV/XLSX，列：代码/code、曾用名/former_name）。示例工作空间默认用示例曾用名表。")
@click.option("--readings", "readings", default=None, help="自定义多音字读音表（CSV，列：word/词语、pinyin/读音）。")
@click.option("--tolerance", default=None, help="位置容差（米），默认取 defaults.toml。")
@click.option("--radius", default=None, help="搜索半径（米），默认取 defaults.toml。")
@click.option("--threshold", default=None, help="近似名称阈值（0-1），默认取 defaults.toml。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果。")
@click.option("--xlsx", "xlsx", default=None,
              help="同时写出给地图服务商的 XLSX 更正清单。")
@click.pass_context
def command(ctx, labels, labels_crs, aliases, readings, tolerance, radius, threshold,
                   as_json, xlsx) -> None:
    for option, value in (("--labels", labels), ("--aliases", aliases),
                          ("--readings", readings)):
        if value is not None and not Path(value).is_file():
            raise click.ClickException(f"参数 {option}：找不到文件“{value}”")
    if xlsx is not None and (Path(xlsx).is_dir() or not Path(xlsx).parent.is_dir()):
        raise click.ClickException(f"参数 --xlsx：无法写出“{xlsx}”（目录不存在或这是一个目录）")
    from geoservice import config as config_mod
    from geoservice.reports.placenames import placenames_xlsx, summary_rows
    from geoservice.services.placenames import placenames_params, run_placenames

    store = open_workspace(ctx)
    try:
        params = placenames_params(tolerance, radius, threshold)
        result = run_placenames(store, params, labels_path=labels, labels_crs=labels_crs,
                                aliases_path=aliases, readings_path=readings,
                                limits=config_mod.import_limits())
    except ValidationError as exc:
        click.echo(f"标注文件有 {len(exc.problems)} 处问题，未进行核查：", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)
    if xlsx:
        try:
            Path(xlsx).write_bytes(placenames_xlsx(result))
        except OSError as exc:
            raise click.ClickException(f"参数 --xlsx：无法写出“{xlsx}”：{exc.strerror}") from None
        click.echo(f"已写出报表 {xlsx}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    s = result.summary
    for warning in [s.get("crs_message")] + list(s.get("code_warnings") or []):
        if warning:
            click.echo(f"注意：{warning}")
    for label, value in summary_rows(result):
        click.echo(f"{label}：{value}")
    f = result.findings
    if len(f):
        click.echo("问题清单（前 20 条）：")
        for row in f.head(20).itertuples():
            name = row.official_name if isinstance(row.official_name, str) else ""
            label = row.label_name if isinstance(row.label_name, str) else ""
            code = row.code if isinstance(row.code, str) else ""
            shown = f"{name}（标注“{label}”）" if name and label and label != name else \
                name or label
            click.echo(f"  [{row.type_label}] {shown} {code} {row.note}")
