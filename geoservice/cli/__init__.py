"""`python -m geoservice ...`: the same work as the web service, from the shell.

The group loads a command's module only when that command runs (or its help is asked for):
the command list comes from the analysis registry, so ``--help`` and ``layers`` start
without importing geopandas. Command modules import heavy libraries (geopandas, pandas,
shapely, folium, the services and reports) inside the command body, so each command's
``--help`` is fast too. Click's own words (help headings, usage errors) are Chinese:
:mod:`geoservice.cli.zh` is installed before any option is built.
"""

from __future__ import annotations

import importlib

import click

from geoservice.cli import zh
from geoservice.registry import ANALYSES

zh.install()

# name -> (module, attribute, one-line help); the analyses follow from the registry
COMMANDS: dict[str, tuple[str, str, str]] = {
    "import": ("geoservice.cli.layers", "import_cmd", "导入图层文件（成为新版本，旧版本保留）。"),
    "layers": ("geoservice.cli.layers", "layers_cmd", "列出工作空间中的图层、要素数和版本。"),
    "restore": ("geoservice.cli.layers", "restore_cmd", "恢复图层的旧版本（成为新版本，不删除任何版本）。"),
    **{a.name: (f"geoservice.cli.{a.name}", "command", a.summary) for a in ANALYSES},
    "plans": ("geoservice.cli.plans", "plans_cmd",
              "规划方案：列出、查看、新建、改状态、编辑站点、撤销、导出、比较两个方案。"),
    "print": ("geoservice.cli.print", "print_cmd",
              "打印地图：分析结果排成 A4/A3 的 PDF 或 PNG（图例、比例尺、指北针、制图单位）。"),
    "users": ("geoservice.cli.users", "users_cmd", "管理用户账号：新建、列出、停用、改密码、角色、API 令牌。"),
    "audit": ("geoservice.cli.audit", "audit_cmd", "查看操作记录（谁在何时做了什么），可筛选、导出 XLSX。"),
    "workspace": ("geoservice.cli.workspace", "workspace_cmd",
                  "工作空间：在 GeoPackage 与 PostGIS 之间复制整个工作空间。"),
}


class LazyGroup(click.Group):
    """Commands imported on first use; their one-line help from ``COMMANDS``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        """Errors written for a person (analysis, layer and service errors) end the command
        with their Chinese message and exit code 1, in one place for every command: one
        line (the log lines held back meanwhile, e.g. libpq's English about a PostgreSQL
        workspace that cannot be opened, are dropped then)."""
        from geoservice import held_logs
        from geoservice.errors import is_readable

        def readable(exc: Exception) -> bool:  # click's own errors are Chinese too
            return is_readable(exc) or isinstance(exc, click.ClickException)

        try:
            with held_logs(readable=readable):
                return super().invoke(ctx)
        except Exception as exc:
            if is_readable(exc):
                raise click.ClickException(str(exc)) from None
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("命令"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup,
             help="民政设施规划服务命令行。默认工作空间为示例县（青神县）工作空间的副本，"
                  "可用 --workspace 或环境变量 GEOSERVICE_WORKSPACE 指定。")
@click.option("--workspace", default=None, metavar="文件或地址",
              help="工作空间：GeoPackage 文件（不存在时新建），或 PostgreSQL/PostGIS 地址 "
                   "postgresql://用户[:密码]@主机:端口/数据库。")
@click.pass_context
def main(ctx: click.Context, workspace: str | None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
