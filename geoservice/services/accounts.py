"""Accounts and roles: who may change what, kept in the workspace.

No Flask here: the web tier turns a session or a token into an :class:`Actor`, the CLI
acts as the operating-system user; both call :func:`require` before a state-changing
action, which raises :class:`Forbidden` (HTTP 403) naming the roles the action needs.
Passwords are hashed with Werkzeug's scheme (scrypt/pbkdf2), never stored or logged in
clear; API tokens are random and only their SHA-256 is kept.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from geoservice.errors import BadParameter, GeoserviceError, NotFound
from layers import LayerStore
from layers.schema import KINDS

ROLES = {
    "admin": "管理员",
    "planner": "规划人员",
    "boundary": "界线审查人员",
    "placenames": "地名工作人员",
    "viewer": "只读",
}
# Which layer kinds each role may change (import, restore); admin may change every kind.
ROLE_LAYERS = {
    "planner": ("welfare_homes", "elderly_service_points", "cemeteries", "candidates",
                "exclusion_zones", "planned_sites", "roads"),
    "boundary": ("townships", "villages", "boundary_markers"),
    "placenames": ("place_labels",),
}
# Actions that are not about one layer kind -> roles allowed (admin always is).
ACTION_ROLES = {
    "job_start": ("planner",),
    "job_cancel": ("planner",),
    "accept_plan": ("planner",),
    "plan_change": ("planner",),
    "plan_approve": (),
    "merge_apply": ("boundary",),
    "user_change": (),
}
MIN_PASSWORD = 8


class Forbidden(GeoserviceError):
    status = 403


class Unauthorized(GeoserviceError):
    status = 401


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account (``via`` "session" or "token"), or the OS user of the CLI
    (``via`` "cli", role admin: whoever can open the workspace file can change it)."""

    name: str
    role: str
    address: str = ""
    via: str = "session"

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


def cli_actor() -> Actor:
    """The operating-system user running ``python -m geoservice``."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        name = "unknown"
    return Actor(name=f"{name}（命令行）", role="admin", address="local", via="cli")


def roles_for(action: str, kind: str | None = None) -> tuple[str, ...]:
    """The roles that may do ``action`` (on layer ``kind``), admin first."""
    if kind is not None:
        return ("admin", *[r for r, kinds in ROLE_LAYERS.items() if kind in kinds])
    return ("admin", *ACTION_ROLES.get(action, ()))


def can(actor: Actor | None, action: str, kind: str | None = None) -> bool:
    return actor is not None and actor.role in roles_for(action, kind)


def require(actor: Actor | None, action: str, kind: str | None = None) -> Actor:
    """``actor`` when it may do ``action`` (on ``kind``); else Unauthorized (not logged in)
    or Forbidden naming the roles that may."""
    if actor is None:
        raise Unauthorized("请先登录：修改数据需要登录")
    if not can(actor, action, kind):
        needed = "或".join(f"“{ROLES[r]}”" for r in roles_for(action, kind))
        what = f"修改“{KINDS[kind].label}”图层" if kind else ACTION_LABELS.get(action, action)
        raise Forbidden(f"{what}需要{needed}角色；您（{actor.name}）的角色是“{actor.role_label}”")
    return actor


ACTION_LABELS = {
    "import": "导入图层",
    "restore": "恢复旧版本",
    "accept_plan": "接受选址方案",
    "plan_change": "修改规划方案",
    "plan_approve": "批准规划方案",
    "plan_create": "新建规划方案",
    "plan_update": "修改方案信息",
    "plan_edit": "编辑方案站点",
    "plan_restore": "恢复方案站点",
    "merge_apply": "应用合并",
    "job_start": "开始选址计算",
    "job_cancel": "取消选址计算",
    "user_change": "修改用户",
    "login_failed": "登录失败",
    "workspace_copy": "复制工作空间",
}


def generate_password_hash(password: str) -> str:
    # werkzeug loads most of itself on import: only when a password is set or checked,
    # not on every CLI command
    from werkzeug.security import generate_password_hash as make

    return make(password)


def check_password_hash(stored: str, password: str) -> bool:
    from werkzeug.security import check_password_hash as check

    return check(stored, password)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def check_role(role: str) -> str:
    if role not in ROLES:
        allowed = "、".join(f"{k}（{v}）" for k, v in ROLES.items())
        raise BadParameter(f"参数 role（角色）“{role}”无效：可选 {allowed}")
    return role


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise BadParameter(f"参数 password（密码）太短：至少 {MIN_PASSWORD} 个字符")
    return password


def add_user(store: LayerStore, name: str, role: str, password: str) -> dict:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise BadParameter("参数 name（用户名）：请填写 1 到 50 个字符")
    if store.user(name) is not None:
        raise BadParameter(f"参数 name（用户名）：用户“{name}”已存在")
    record = {"name": name, "role": check_role(role),
              "password_hash": generate_password_hash(check_password(password)),
              "token_hash": None, "active": True, "created": _now(), "changed": _now()}
    store.save_user(record)
    return record


def get_user(store: LayerStore, name: str) -> dict:
    record = store.user(name)
    if record is None:
        raise NotFound(f"用户“{name}”不存在")
    return record


def set_password(store: LayerStore, name: str, password: str) -> None:
    record = get_user(store, name)
    store.save_user({**record, "password_hash": generate_password_hash(check_password(password)),
                     "changed": _now()})


def set_active(store: LayerStore, name: str, active: bool) -> None:
    record = get_user(store, name)
    store.save_user({**record, "active": bool(active), "changed": _now()})


def set_role(store: LayerStore, name: str, role: str) -> None:
    record = get_user(store, name)
    store.save_user({**record, "role": check_role(role), "changed": _now()})


def new_token(store: LayerStore, name: str) -> str:
    """A new API token for ``name`` (replacing the old one); shown once, only its hash kept."""
    record = get_user(store, name)
    token = secrets.token_urlsafe(32)
    store.save_user({**record, "token_hash": _token_hash(token), "changed": _now()})
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(store: LayerStore, name: str, password: str) -> dict | None:
    """The active account when ``password`` is right, else None (the same for a wrong
    name, a wrong password and a disabled account: nothing to tell an attacker)."""
    record = store.user((name or "").strip())
    if record is None or not record["active"] or not record["password_hash"]:
        check_password_hash(generate_password_hash("x"), password or "")  # same time either way
        return None
    return record if check_password_hash(record["password_hash"], password or "") else None


def user_for_token(store: LayerStore, token: str) -> dict | None:
    if not token:
        return None
    digest = _token_hash(token)
    for record in store.users():
        if record["active"] and record["token_hash"] and \
                hmac.compare_digest(record["token_hash"], digest):
            return record
    return None


def actor_of(record: dict, address: str = "", via: str = "session") -> Actor:
    return Actor(name=record["name"], role=record["role"], address=address, via=via)


def public(record: dict) -> dict:
    """An account as the API and pages show it: never a hash."""
    return {"name": record["name"], "role": record["role"],
            "role_label": ROLES.get(record["role"], record["role"]),
            "active": record["active"], "created": record["created"],
            "changed": record["changed"], "has_token": bool(record.get("token_hash"))}


FIRST_ADMIN_COMMAND = "python -m geoservice users add 名字 --role admin"
FIRST_ADMIN_HINT = (
    "工作空间还没有任何用户账号：修改数据需要登录。创建第一个管理员：\n"
    f"  {FIRST_ADMIN_COMMAND}\n"
    "（工作空间不在默认位置时，在 users 前加 --workspace 工作空间文件，"
    "或设置环境变量 GEOSERVICE_WORKSPACE）")
DEMO_ADMIN = "admin"


def first_run(store: LayerStore) -> str | None:
    """What to tell the person starting the service on a workspace without accounts, or
    None when it has some.

    A real workspace gets the hint to create the first admin from the command line. The
    demo workspace gets an account ``admin`` (role admin) with a generated password, which
    the message carries: the caller shows it once, and the next start finds the account.
    The creation is audited (``user_change``) as the operating-system user who started the
    service.
    """
    if store.users():
        return None
    if store.info().get("demo") != "1":
        return FIRST_ADMIN_HINT
    password = secrets.token_urlsafe(12)
    add_user(store, DEMO_ADMIN, "admin", password)
    starter = cli_actor()
    # The audit module imports this one, so the row is appended here directly (the same
    # fields as geoservice.services.audit.record).
    store.append_audit({
        "time": _now(), "user": starter.name, "address": starter.address,
        "action": "user_change", "layer": None, "version_before": None, "version_after": None,
        "params": {"user": DEMO_ADMIN, "change": "add", "role": "admin", "first_run": True},
        "result": f"示例工作空间首次启动：新建管理员“{DEMO_ADMIN}”（密码自动生成）"})
    return (f"示例工作空间首次启动，已创建管理员账号：用户名 {DEMO_ADMIN}，密码 {password}\n"
            "密码只显示这一次，请记下；登录后可在“修改密码”中更改，"
            f"或运行 python -m geoservice users passwd {DEMO_ADMIN}")
