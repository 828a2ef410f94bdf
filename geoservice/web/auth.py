"""Who is asking: the session (Flask-Login) or an API token, turned into an ``Actor``.

Every state-changing view calls ``require_actor(action, kind)`` (or a service that checks
the actor's role); reading follows the ``ANONYMOUS_READ`` setting (on by default for the
demo workspace, off otherwise), enforced in one ``before_request`` for every page and API
except the login page and static assets.

- The login page ``/login`` (form fields ``username``, ``password``, ``csrf_token``),
  ``/logout`` (POST) and 修改密码 ``/password``: blueprint ``auth``.
- CSRF (Flask-WTF): every state-changing request made with the session cookie carries the
  form field ``csrf_token`` or the header ``X-CSRFToken`` (pages put the token in
  ``<meta name="csrf-token">``); requests with ``Authorization: Bearer <token>`` do not
  need it (a browser never adds that header to a cross-site request, and such a request
  does not use the session at all).
- Failed logins are audited (``login_failed``: the name tried, the address; never the
  password). After ``LOGIN_MAX_FAILURES`` failures in a row for one name from one address
  further attempts are refused (429) for ``LOGIN_BACKOFF_S`` seconds, doubling with each
  further failure (at most ``LOGIN_BACKOFF_MAX_S``); kept in memory per app
  (:class:`LoginThrottle`, clock injectable).
"""

from __future__ import annotations

import hashlib
import threading
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from geoservice.errors import BadParameter
from geoservice.services import audit
from geoservice.services.accounts import (
    Actor,
    actor_of,
    authenticate,
    require,
    set_password,
    user_for_token,
)
from geoservice.web.common import workspace_store

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()

# Reachable without logging in whatever ANONYMOUS_READ says.
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "static", "assets.asset"}
# Requests that change nothing (CSRF is checked on every other method).
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
LOGIN_MAX_FAILURES = 5
LOGIN_BACKOFF_S = 30.0
LOGIN_BACKOFF_MAX_S = 3600.0
NAME_MAX = 50  # a name tried is cut to this many characters in the audit trail


class SessionUser(UserMixin):
    """A logged-in account. Its session id includes a digest of the password hash, so a
    password change ends every other session of the account."""

    def __init__(self, record: dict):
        self.record = record

    def get_id(self) -> str:
        return f"{self.record['name']}\n{_pw_stamp(self.record)}"


def _pw_stamp(record: dict) -> str:
    return hashlib.sha256((record.get("password_hash") or "").encode()).hexdigest()[:16]


# --- login throttling ----------------------------------------------------------------------

class LoginThrottle:
    """Failed logins in a row per (name, address), in memory. ``clock`` (seconds, monotonic)
    can be replaced: tests move time forward instead of sleeping."""

    def __init__(self, max_failures: int = LOGIN_MAX_FAILURES, backoff_s: float = LOGIN_BACKOFF_S,
                 backoff_max_s: float = LOGIN_BACKOFF_MAX_S, clock=time.monotonic,
                 max_entries: int = 10_000):
        self.max_failures = max(1, int(max_failures))
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[int, float]] = {}  # -> (failures, until)

    def wait_s(self, name: str, address: str) -> float:
        """Seconds until ``name`` may try again from ``address`` (0: now)."""
        with self._lock:
            _, until = self._entries.get((name, address), (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._prune(now)
            failures, _ = self._entries.get((name, address), (0, 0.0))
            failures += 1
            until = 0.0
            if failures >= self.max_failures:
                extra = failures - self.max_failures
                until = now + min(self.backoff_max_s, self.backoff_s * 2 ** min(extra, 30))
            self._entries[(name, address)] = (failures, until)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._entries.pop((name, address), None)

    def _prune(self, now: float) -> None:
        stale = [k for k, (_, until) in self._entries.items()
                 if until <= now - self.backoff_max_s]
        for k in stale or list(self._entries)[: len(self._entries) // 2]:
            del self._entries[k]


def throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


# --- setup ---------------------------------------------------------------------------------

def install(app: Flask) -> None:
    """Sessions (Flask-Login), tokens, read access, CSRF, the login pages."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in csrf_check below
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    csrf.init_app(app)
    app.extensions["login_throttle"] = LoginThrottle(
        max_failures=app.config.get("LOGIN_MAX_FAILURES", LOGIN_MAX_FAILURES),
        backoff_s=app.config.get("LOGIN_BACKOFF_S", LOGIN_BACKOFF_S),
        backoff_max_s=app.config.get("LOGIN_BACKOFF_MAX_S", LOGIN_BACKOFF_MAX_S))

    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = "请先登录"
    manager.init_app(app)

    @manager.user_loader
    def load_user(user_id: str):
        name, _, stamp = user_id.partition("\n")
        record = workspace_store().user(name)
        if record is None or not record["active"] or stamp != _pw_stamp(record):
            return None
        return SessionUser(record)

    @app.before_request
    def read_access():
        if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
            return None
        if bearer_token() is not None and current_actor() is None:
            return _unauthorized("API 令牌无效或账号已停用")
        if anonymous_read() or current_actor() is not None:
            return None
        if _wants_json():
            return _unauthorized("请先登录（或在请求头中提供 Authorization: Bearer 令牌）")
        target = request.full_path.rstrip("?")
        return redirect(url_for("auth.login", next=target))

    @app.before_request
    def csrf_check():
        # A request with a token does not use the session: nothing to forge. Anonymous
        # requests have nothing to borrow either (every change needs an account: 401), but
        # the login form is checked (no logging a victim into someone else's account).
        if request.method in SAFE_METHODS or bearer_token() is not None:
            return None
        if current_user.is_authenticated or request.endpoint in ("auth.login", "auth.logout"):
            csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        message = ("请求缺少有效的 CSRF 令牌（页面可能已过期或请求来自其他网站），"
                   "未做任何修改；请刷新页面后重试")
        if _wants_json():
            return jsonify({"error": message, "status": 400}), 400
        return render_template("error.html", status=400, message=message, problems=[]), 400

    @app.context_processor
    def account():
        return {"account": current_actor() if has_request_context() else None}

    app.register_blueprint(bp)


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/ogcapi"))


def _unauthorized(message: str):
    if _wants_json():
        return jsonify({"error": message, "status": 401}), 401, {"WWW-Authenticate": "Bearer"}
    return render_template("error.html", status=401, message=message, problems=[]), 401


def anonymous_read() -> bool:
    """Whether maps and analyses may be viewed without logging in (``ANONYMOUS_READ``;
    None = on for the demo workspace, off otherwise)."""
    value = current_app.config.get("ANONYMOUS_READ")
    if value is None:
        return workspace_store().info().get("demo") == "1"
    return bool(value)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def client_address() -> str:
    return request.remote_addr or ""


def current_actor() -> Actor | None:
    """The account behind this request (API token first, then the session), or None."""
    if "actor" in g:
        return g.actor
    actor = None
    token = bearer_token()
    if token:
        record = user_for_token(workspace_store(), token)
        actor = actor_of(record, client_address(), via="token") if record else None
    elif current_user.is_authenticated:
        actor = actor_of(current_user.record, client_address(), via="session")
    g.actor = actor
    return actor


def require_actor(action: str, kind: str | None = None) -> Actor:
    """The current actor when it may do ``action`` (on layer ``kind``); 401/403 otherwise."""
    return require(current_actor(), action, kind)


# --- the pages -----------------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the home page (no open redirect)."""
    target = (target or "").strip()
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith(("//", "/\\")) or parts.scheme
            or parts.netloc or any(c in target for c in "\\\r\n\t")):
        return url_for("pages.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=next_url, username="", error=None)
    name = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    address = client_address()
    wait = throttle().wait_s(name, address)
    if wait > 0:
        message = (f"登录失败次数过多，请 {_duration(wait)}后再试"
                   "（如忘记密码，请联系管理员重设）")
        return render_template("login.html", next=next_url, username=name,
                               error=message), 429
    store = workspace_store()
    record = authenticate(store, name, password)
    if record is None:
        throttle().failed(name, address)
        audit.record(store, None, "login_failed", user=name[:NAME_MAX] or "（空）",
                     address=address, result="用户名或密码错误，或账号已停用")
        return render_template("login.html", next=next_url, username=name,
                               error="用户名或密码错误（或账号已停用）"), 401
    throttle().succeeded(name, address)
    session.clear()  # a fresh session (and CSRF token) for the account
    login_user(SessionUser(record))
    g.pop("actor", None)
    return redirect(next_url, code=303)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.999)
    if seconds < 60:
        return f"{seconds} 秒"
    minutes = (seconds + 59) // 60
    return f"{minutes} 分钟"


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.route("/password", methods=["GET", "POST"])
def password():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("auth.password")))
    name = current_user.record["name"]
    if request.method == "GET":
        return render_template("password.html", error=None, done=False)
    store = workspace_store()
    old = request.form.get("old_password") or ""
    new = request.form.get("new_password") or ""
    again = request.form.get("new_password2") or ""
    error = None
    if authenticate(store, name, old) is None:
        error = "当前密码不正确"
    elif new != again:
        error = "两次输入的新密码不一致"
    else:
        try:
            set_password(store, name, new)
        except BadParameter as exc:
            error = str(exc)
    if error:
        return render_template("password.html", error=error, done=False), 400
    actor = current_actor()
    audit.record(store, actor, "user_change", params={"user": name}, result="修改了自己的密码")
    # This session stays logged in (with the new password's stamp); other sessions end.
    login_user(SessionUser(store.user(name)))
    return render_template("password.html", error=None, done=True)
