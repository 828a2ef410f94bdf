"""`python -m geoservice audit`: the workspace's audit trail, filtered, as text, JSON or XLSX.

The CLI acts as the operating-system user with the admin role, so it sees every row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from geoservice.cli.common import echo_json, open_workspace
from geoservice.services.audit import ACTIONS  # light: no geopandas behind it
from layers.schema import KINDS

ACTION_HELP = "，".join(f"{k}={v}" for k, v in ACTIONS.items())


def _date(ctx, param, value: str | None) -> str | None:
    """A date (2026-11-26) or a date and time (2026-11-26T08:30), else a Chinese error."""
    if value is None:
        return None
    text = value.strip()
    try:
        if "T" in text or " " in text:
            dt.datetime.fromisoformat(text.replace(" ", "T"))
            return text.replace(" ", "T")
        dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"“{value}”不是日期：请写成 2026-11-26 或 2026-11-26T08:30",
                                 ctx=ctx, param=param) from None
    return text


@click.command("audit", short_help="查看操作记录（谁在何时做了什么），可筛选、导出 XLSX。",
               help="查看工作空间的操作记录（最新的在前）：时间、用户、地址、操作、图层、原版本、新版本、"
                    f"参数、结果。命令行以管理员身份查看全部记录。操作：{ACTION_HELP}")
@click.option("--user", default=None, help="只看该用户的记录（命令行用户记作“系统用户名（命令行）”）。")
@click.option("--action", type=click.Choice(list(ACTIONS)), default=None, help="只看该类操作。")
@click.option("--layer", type=click.Choice(list(KINDS)), default=None, help="只看涉及该图层的记录。")
@click.option("--since", default=None, callback=_date,
              help="起始日期（含），如 2026-11-01 或 2026-11-01T08:00。")
@click.option("--until", default=None, callback=_date,
              help="截止日期（含当天），如 2026-11-30。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.option("--xlsx", type=click.Path(dir_okay=False), default=None,
              help="把筛选出的记录写入 XLSX 文件。")
@click.pass_context
def audit_cmd(ctx: click.Context, user, action, layer, since, until, as_json, xlsx) -> None:
    from geoservice.services import audit
    from geoservice.services.accounts import cli_actor

    store = open_workspace(ctx)
    filters = {"user": user, "action": action, "layer": layer, "since": since, "until": until}
    rows = audit.rows(store, cli_actor(), **filters)
    if xlsx:
        from geoservice.reports.audit import audit_xlsx

        try:
            Path(xlsx).write_bytes(audit_xlsx(rows, filters))
        except OSError as exc:
            raise click.ClickException(f"无法写出文件 {xlsx}：{exc.strerror or exc}") from None
        click.echo(f"已写出操作记录 {xlsx}（{len(rows)} 条）", err=True)
    if as_json:
        echo_json({"count": len(rows),
                   "filters": {k: v for k, v in filters.items() if v},
                   "rows": rows})
        return
    if not rows:
        click.echo("没有符合条件的操作记录。")
        return
    for r in rows:
        layer_text = ""
        if r["layer"]:
            label = KINDS[r["layer"]].label if r["layer"] in KINDS else r["layer"]
            versions = ""
            if r["version_before"] is not None or r["version_after"] is not None:
                before = r["version_before"] if r["version_before"] is not None else "无"
                versions = f" 第 {before} 版 → 第 {r['version_after']} 版"
            layer_text = f"  [{label}{versions}]"
        click.echo(f"{r['time']}  {r['user']}  {r['address'] or '-'}  {r['action_label']}"
                   f"{layer_text}  {r['result']}")
