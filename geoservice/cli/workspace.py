"""`python -m geoservice workspace copy SRC DST`: a whole workspace from one store to another.

SRC and DST are workspaces as ``--workspace`` takes them: a GeoPackage file (``.gpkg``) or
a PostgreSQL/PostGIS URL (``postgresql://user@host:port/dbname``). DST must be empty (a
missing GeoPackage file is created). The command acts as the operating-system user (role
admin); the copy is audited in DST (``workspace_copy``).
"""

from __future__ import annotations

from pathlib import Path

import click

from geoservice.cli.common import echo_json

URL_PREFIXES = ("postgresql://", "postgres://")
WHAT = "GeoPackage 文件（.gpkg）或 PostgreSQL/PostGIS 地址（postgresql://用户@主机:端口/数据库）"


@click.group("workspace", short_help="工作空间：在 GeoPackage 与 PostGIS 之间复制整个工作空间。",
             help="管理工作空间。工作空间可以是 GeoPackage 文件（.gpkg），也可以是 PostgreSQL/PostGIS "
                  "数据库（postgresql://用户[:密码]@主机:端口/数据库）。")
def workspace_cmd() -> None:
    """The subcommands name their workspaces themselves (``--workspace`` is not used)."""


@workspace_cmd.command(
    "copy", short_help="复制整个工作空间（所有版本、用户、操作记录、计算任务）。",
    help="把工作空间 SRC 的全部内容复制到空的工作空间 DST：工作空间信息、每个图层的每个版本"
         "（版本号、时间、来源文件、坐标系、导入用户、当前版本不变）、用户账号、操作记录（编号和时间不变）"
         f"和计算任务记录。SRC、DST 为 {WHAT}；DST 必须是空的（GeoPackage 文件不存在时新建），"
         "否则不复制任何内容。复制本身作为一条“复制工作空间”记入 DST 的操作记录。")
@click.argument("src")
@click.argument("dst")
@click.option("--json", "as_json", is_flag=True,
              help="以 JSON 输出复制摘要（逐图层进度改在标准错误输出显示）。")
def copy_cmd(src: str, dst: str, as_json: bool) -> None:
    from geoservice.services.accounts import cli_actor
    from geoservice.services.workspace import store_for
    from geoservice.services.workspace_copy import copy_workspace

    if _is_file(src) and not Path(_file_path(src)).is_file():
        raise click.ClickException(f"源工作空间文件“{src}”不存在")
    if _same(src, dst):
        raise click.ClickException("源工作空间和目标工作空间是同一个，未复制任何内容")
    source = store_for(src)
    target = store_for(dst)
    summary = copy_workspace(source, target, actor=cli_actor(), source_name=src,
                             target_name=dst,
                             progress=lambda line: click.echo(line, err=as_json))
    if as_json:
        echo_json(summary)
        return
    click.echo(f"完成：{len(summary['layers'])} 个图层、{summary['versions']} 个版本、"
               f"{summary['features']} 个要素、{summary['users']} 个用户、"
               f"{summary['audit_rows']} 条操作记录、{summary['jobs']} 个计算任务已复制到 "
               f"{summary['target']}")


def _is_file(workspace: str) -> bool:
    return not workspace.lower().startswith(URL_PREFIXES)


def _file_path(workspace: str) -> str:
    return workspace[len("gpkg:"):] if workspace.startswith("gpkg:") else workspace


def _same(src: str, dst: str) -> bool:
    if _is_file(src) and _is_file(dst):
        return Path(_file_path(src)).resolve() == Path(_file_path(dst)).resolve()
    return src == dst
