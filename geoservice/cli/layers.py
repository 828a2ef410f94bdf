"""`python -m geoservice import|restore|layers`: layers in, an old version back, and what
the workspace holds. Changes go through ``geoservice.services.layers`` as the CLI actor
(the operating-system user), so each is checked and written to the audit trail."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

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
@click.option("--problems-csv", "problems_csv", type=click.Path(dir_okay=False), default=None,
              help="把逐行的完整清单写入此 CSV 文件：文件被拒绝时为问题清单，导入成功但有警告时"
                   "为警告清单（屏幕上相同的问题合为一行，只列出前几行的行号）。")
@click.pass_context
def import_cmd(ctx: click.Context, kind: str, file: str, crs: str | None, as_json: bool,
               problems_csv: str | None) -> None:
    from geoservice import config as config_mod
    from geoservice.services.accounts import cli_actor
    from geoservice.services.layers import import_layer
    from layers import LayerError, ValidationError
    from layers.errors import warnings_summary

    with _modules_frozen():
        store = open_workspace(ctx)
        try:
            limits = config_mod.import_limits()
            shown = config_mod.setting("PROBLEMS_SHOWN")
        except config_mod.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if not as_json:
            click.echo(f"正在读取并校验 {file}（{KINDS[kind].label}）…", err=True)
        try:
            version = import_layer(store, cli_actor(), kind, file, crs=crs, limits=limits)
        except ValidationError as exc:
            summary = exc.summary(shown)
            if problems_csv:
                _write_csv(problems_csv, exc.problems, "问题清单")
            if as_json:
                echo_json({"ok": False, **summary, "problems_csv": problems_csv})
            else:
                _echo_problems(summary, problems_csv)
            sys.exit(1)
        except LayerError as exc:
            raise click.ClickException(str(exc)) from None
        warned = warnings_summary(version.warnings)
        written = None
        if problems_csv and version.warnings:
            _write_csv(problems_csv, version.warnings, "警告清单")
            written = problems_csv
        if as_json:
            echo_json({"ok": True, "version": version.to_dict(), **warned, "problems_csv": written})
            return
        if version.warnings:
            _echo_warnings(warned, written, shown)
        click.echo(f"已导入“{KINDS[kind].label}”第 {version.version} 版，共 {version.features} 个要素"
                   f"（输入坐标系 {version.source_crs}）"
                   + (f"，有 {warned['warning_count']} 处警告。" if version.warnings else "。"))


@contextmanager
def _modules_frozen():
    """The objects of the modules loaded so far (the readers' geopandas, pandas, shapely and
    pyogrio among them) left out of the garbage collector's passes while an import runs:
    they live as long as the process, and full passes over them during reading, validation
    and writing, and the one Python makes when the process ends, cost tens of milliseconds.
    In ``python -m geoservice`` they stay out (the process ends with the command); called
    from another program (tests, a caller's own process) they are put back."""
    import gc

    import layers.readers  # noqa: F401  (loaded by the import anyway)

    gc.freeze()
    try:
        yield
    finally:
        if _process_ends_with_command():
            gc.freeze()
        else:
            gc.unfreeze()


def _process_ends_with_command() -> bool:
    """Whether this process is ``python -m geoservice``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "geoservice.__main__"

def _write_csv(path: str, problems, what: str) -> None:
    """The per-row list (problems or warnings) as CSV for Excel."""
    from geoservice.reports.xlsx import csv_field  # openpyxl: only when needed
    from layers.errors import problems_csv as to_csv

    try:
        Path(path).write_bytes(to_csv(problems, escape=csv_field))
    except OSError as err:
        raise click.ClickException(
            f"无法写入{what}“{path}”：{err.strerror or '写入失败'}") from None


def _echo_groups(groups: list[dict], err: bool, shown: int) -> None:
    """Identical problems as one line each, with their first rows (at most ``shown``
    lines)."""
    for g in groups[:shown]:
        click.echo(f"  {g['text']}", err=err)
    if len(groups) > shown:
        click.echo(f"  另有 {len(groups) - shown} 类，见完整清单（--problems-csv）。", err=err)


def _echo_problems(summary: dict, problems_csv: str | None) -> None:
    groups = summary["problem_groups"]
    click.echo(f"导入被拒绝，共 {summary['problem_count']} 处问题（{len(groups)} 类），"
               "工作空间未改变：", err=True)
    _echo_groups(groups, err=True, shown=summary["problems_shown"] or 1)
    if problems_csv:
        click.echo(f"完整问题清单已写入 {problems_csv}", err=True)
    elif any(g["rows_more"] for g in groups):
        click.echo("用 --problems-csv 文件名.csv 可得到逐行的完整问题清单。", err=True)


def _echo_warnings(warned: dict, problems_csv: str | None, shown: int) -> None:
    groups = warned["warnings"]
    click.echo(f"导入时发现 {warned['warning_count']} 处警告（{len(groups)} 类），数据已按原样导入，"
               "请核对（村、乡镇的代码与界线问题可在界线审查中逐条查看）：")
    _echo_groups(groups, err=False, shown=shown)
    if problems_csv:
        click.echo(f"完整警告清单已写入 {problems_csv}")
    elif any(g["rows_more"] for g in groups):
        click.echo("用 --problems-csv 文件名.csv 可得到逐行的完整警告清单。")


@click.command("restore", short_help="恢复图层的旧版本（成为新版本，不删除任何版本）。",
               help="把图层的第 N 版恢复为当前数据：写入一个与第 N 版相同的新版本，所有版本都保留，"
                    f"并写入操作记录。图层类型：{KIND_HELP}")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("n", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出新版本。")
@click.pass_context
def restore_cmd(ctx: click.Context, kind: str, n: int, as_json: bool) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.layers import restore_version

    store = open_workspace(ctx)
    version = restore_version(store, cli_actor(), kind, n)
    if as_json:
        echo_json({"ok": True, "restored": n, "version": version.to_dict()})
    else:
        click.echo(f"已把“{KINDS[kind].label}”第 {n} 版恢复为第 {version.version} 版（当前版本），"
                   f"共 {version.features} 个要素；旧版本全部保留。")


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


