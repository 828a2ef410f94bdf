"""`python -m geoservice users ...`: accounts of the workspace, managed from the shell.

The command acts as the operating-system user (role admin: whoever can open the workspace
file can change it); every change is written to the audit trail as ``user_change`` with
the account and what changed, never a password. Passwords come from a hidden prompt
(asked twice) or, with ``--password-stdin``, from the first line of standard input.
"""

from __future__ import annotations

import click

from geoservice.cli.common import echo_json, open_workspace
from geoservice.services.accounts import ROLES  # light: no geopandas behind it

ROLE_HELP = "，".join(f"{k}={v}" for k, v in ROLES.items())
ROLE_CHOICES = list(ROLES)
PASSWORD_STDIN_HELP = "从标准输入的第一行读取密码（用于脚本）；不加时在终端中输入两次（不显示）。"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = click.get_text_stream("stdin").readline()
        return line.rstrip("\r\n")
    return click.prompt("密码（至少 8 个字符，输入时不显示）", hide_input=True,
                        confirmation_prompt="再输入一次密码", show_default=False)


def _change(ctx: click.Context, name: str, change: str, result: str, **params) -> None:
    """Audit one account change by the CLI actor; tell the person what was done."""
    from geoservice.services import audit
    from geoservice.services.accounts import cli_actor

    store = ctx.obj["store"]
    audit.record(store, cli_actor(), "user_change", params={"user": name, "change": change,
                                                            **params}, result=result)
    click.echo(result)


@click.group("users", short_help="管理用户账号：新建、列出、停用、改密码、角色、API 令牌。",
             help=f"管理工作空间的用户账号。命令行以本机操作系统用户的身份（管理员）操作，"
                  f"每次修改都写入操作记录。角色：{ROLE_HELP}")
@click.pass_context
def users_cmd(ctx: click.Context) -> None:
    """The subcommands open the workspace themselves."""


def _store(ctx: click.Context):
    """The workspace, opened once per command; the CLI actor checked for the action."""
    from geoservice.services.accounts import cli_actor, require

    require(cli_actor(), "user_change")
    ctx.ensure_object(dict)
    ctx.obj["store"] = open_workspace(ctx)
    return ctx.obj["store"]


@users_cmd.command("add", short_help="新建用户（指定角色和密码）。", help=f"新建用户。角色：{ROLE_HELP}。")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLE_CHOICES), required=True, help="角色。")
@click.option("--password-stdin", "password_stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@click.pass_context
def add_cmd(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    from geoservice.services.accounts import ROLES, add_user, check_password

    store = _store(ctx)
    if store.user(name.strip()) is not None:
        raise click.ClickException(f"用户“{name.strip()}”已存在")
    password = check_password(_password(password_stdin))
    record = add_user(store, name, role, password)
    _change(ctx, record["name"], "add", f"已新建用户“{record['name']}”（{ROLES[role]}）",
            role=role)


@users_cmd.command("list", help="列出用户：用户名、角色、是否停用、是否有 API 令牌（不显示密码）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    from geoservice.services.accounts import FIRST_ADMIN_HINT, public

    store = open_workspace(ctx)
    rows = [public(r) for r in store.users()]
    if as_json:
        echo_json(rows)
    if not rows:
        click.echo(FIRST_ADMIN_HINT, err=as_json)
        return
    if as_json:
        return
    for r in rows:
        state = "启用" if r["active"] else "已停用"
        token = "，有 API 令牌" if r["has_token"] else ""
        click.echo(f"{r['name']}\t{r['role']}（{r['role_label']}）\t{state}{token}\t"
                   f"修改于 {r['changed']}")


@users_cmd.command("disable", help="停用用户：不能再登录，API 令牌失效（账号和操作记录保留）。")
@click.argument("name")
@click.pass_context
def disable_cmd(ctx: click.Context, name: str) -> None:
    from geoservice.services.accounts import set_active

    set_active(_store(ctx), name, False)
    _change(ctx, name, "disable", f"已停用用户“{name}”", active=False)


@users_cmd.command("enable", help="重新启用已停用的用户。")
@click.argument("name")
@click.pass_context
def enable_cmd(ctx: click.Context, name: str) -> None:
    from geoservice.services.accounts import set_active

    set_active(_store(ctx), name, True)
    _change(ctx, name, "enable", f"已启用用户“{name}”", active=True)


@users_cmd.command("passwd", help="设置用户的新密码。")
@click.argument("name")
@click.option("--password-stdin", "password_stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@click.pass_context
def passwd_cmd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    from geoservice.services.accounts import check_password, get_user, set_password

    store = _store(ctx)
    get_user(store, name)  # an unknown name is said before the password is asked
    set_password(store, name, check_password(_password(password_stdin)))
    _change(ctx, name, "password", f"已修改用户“{name}”的密码")


@users_cmd.command("role", short_help="修改用户的角色。", help=f"修改用户的角色。角色：{ROLE_HELP}。")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLE_CHOICES))
@click.pass_context
def role_cmd(ctx: click.Context, name: str, role: str) -> None:
    from geoservice.services.accounts import ROLES, get_user, set_role

    store = _store(ctx)
    old = get_user(store, name)["role"]
    set_role(store, name, role)
    _change(ctx, name, "role", f"已把用户“{name}”的角色从“{ROLES.get(old, old)}”改为“{ROLES[role]}”",
            role_before=old, role=role)


@users_cmd.command("token", help="为用户生成新的 API 令牌（旧令牌失效）；令牌只显示这一次。")
@click.argument("name")
@click.pass_context
def token_cmd(ctx: click.Context, name: str) -> None:
    from geoservice.services import audit
    from geoservice.services.accounts import cli_actor, new_token

    store = _store(ctx)
    token = new_token(store, name)
    audit.record(store, cli_actor(), "user_change",
                 params={"user": name, "change": "token"},
                 result=f"已为用户“{name}”生成新的 API 令牌（旧令牌失效）")
    # The token alone on standard output (a script can capture it); the note on stderr.
    click.echo(token)
    click.echo(f"这是用户“{name}”的 API 令牌，只显示这一次（工作空间只保存它的摘要，无法再查看）；"
               "旧令牌已失效。调用接口时加请求头 Authorization: Bearer 令牌。", err=True)
