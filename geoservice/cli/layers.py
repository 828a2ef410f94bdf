"""`python -m geoservice import|layers`: layers in, and what the workspace holds."""

from __future__ import annotations

import sys

import click

from geoservice.cli.common import echo_json, existing_file, open_workspace
from layers.schema import KINDS

KIND_HELP = "，".join(f"{k}={v.label}" for k, v in KINDS.items())


@click.command("import", short_help="导入图层文件（成为新版本，旧版本保留）。",
              help=f"导入图层文件，成为该图层的新版本（旧版本保留）。图层类型：{KIND_HELP}")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("file", type=click.Path(dir_okay=False), callback=lambda c, p, v: existing_file(v, "FILE"))
@click.option("--crs", default=None,
              help="输入坐标系：EPSG 代码（如 EPSG:4490、EPSG:4544）、gcj02 或 bd09。"
                   "默认：文件自带坐标系；表格为 CGCS2000 经纬度；8 位横坐标按带号识别。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
@click.pass_context
def import_cmd(ctx: click.Context, kind: str, file: str, crs: str | None, as_json: bool) -> None:
    from layers import LayerError, ValidationError, import_file

    store = open_workspace(ctx)
    if not as_json:
        click.echo(f"正在读取并校验 {file}（{KINDS[kind].label}）…", err=True)
    try:
        version = import_file(store, kind, file, crs=crs)
    except ValidationError as exc:
        if as_json:
            echo_json({"ok": False, "problems": [p.to_dict() for p in exc.problems]})
        else:
            click.echo(f"导入被拒绝，共 {len(exc.problems)} 处问题，工作空间未改变：", err=True)
            for p in exc.problems:
                click.echo(f"  {p}", err=True)
        sys.exit(1)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json({"ok": True, "version": version.to_dict()})
    else:
        click.echo(f"已导入“{KINDS[kind].label}”第 {version.version} 版，共 {version.features} 个要素"
                   f"（输入坐标系 {version.source_crs}）。")


@click.command("layers", help="列出工作空间中的图层、要素数和版本。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def layers_cmd(ctx: click.Context, as_json: bool) -> None:
    from geoservice.services.workspace import workspace_info
    from layers import layer_summary

    store = open_workspace(ctx)
    if as_json:
        info = workspace_info(store)
        echo_json({"title": info["title"], "demo": info["demo"], "layers": info["layers"]})
        return
    for row in layer_summary(store):
        state = (f"{row['features']} 个要素，第 {row['version']} 版（{row['created']}）"
                 if row["loaded"] else "未导入")
        click.echo(f"{row['kind']:<24}{row['label']:<14}{state}")


