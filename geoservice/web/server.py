"""What the app needs to be served to an office: security headers, session cookies, the
secret key, the trusted reverse proxy, and the access log of the production server.

- Every response carries ``X-Content-Type-Options``, ``X-Frame-Options``,
  ``Referrer-Policy`` and a Content-Security-Policy (``content_security_policy``).
- Session cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` whenever the request
  came over HTTPS (``X-Forwarded-Proto`` counts only behind a trusted proxy:
  ``TRUSTED_PROXIES``).
- The secret key that signs sessions is the ``SECRET_KEY`` setting or, when that is empty,
  a random key generated once per workspace and kept in a file beside it
  (``<workspace>.secret_key``, mode 0600): not inside the GeoPackage, because the
  GeoPackage is data that offices copy, send on and open in QGIS (every table visible),
  while the key must stay on the server. Losing the file only logs sessions out.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

ACCESS_LOGGER = "geoservice.access"
SECRET_SUFFIX = ".secret_key"


# --- Content-Security-Policy -------------------------------------------------------------

def tile_source(basemap_url: str) -> str:
    """The CSP source of a basemap tile template: ``scheme://host[:port]``, the Leaflet
    subdomain placeholder ``{s}`` in the first label becoming ``*``; "" when the tiles
    come from this server (a relative URL) or there is no basemap."""
    if not basemap_url or not re.match(r"^(https?:)?//", basemap_url, re.I):
        return ""
    parts = urlsplit(basemap_url if not basemap_url.startswith("//") else "http:" + basemap_url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    host, _, port = netloc.partition(":")
    labels = host.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    host = ".".join(labels)
    if not host or "{" in host or "}" in host or not re.fullmatch(r"[\w.*-]+", host):
        from geoservice.config import ConfigError

        raise ConfigError(f"配置项 BASEMAP_URL 的主机名“{netloc}”无法用于内容安全策略："
                          "占位符只能出现在主机名的第一段，如 http://t{s}.example.cn/…")
    if port and not port.isdigit():
        port = "*"
    scheme = f"{parts.scheme}://" if not basemap_url.startswith("//") else ""
    return f"{scheme}{host}" + (f":{port}" if port else "")


def content_security_policy(basemap_url: str = "", *more_tile_urls: str) -> str:
    """The policy of every response. Everything comes from this server (Leaflet, jQuery and
    our styles are served under /assets; no CDN), images also from the basemaps' tile
    hosts (``basemap_url`` and ``more_tile_urls``: 天地图 and the like).

    ``'unsafe-inline'`` for scripts: Folium writes each map as inline ``<script>`` blocks
    (the map, its layers and their data, different on every request), and the pages embed
    that script directly (no iframe); the error page's "返回上一页" is a ``javascript:``
    link. For styles: Folium's inline ``<style>`` blocks and Leaflet's ``style``
    attributes. Nothing else is relaxed: no other origin for scripts, styles, fonts,
    fetches or frames, no plugins, no ``<base>``, forms post only here.
    """
    tiles = " ".join(dict.fromkeys(filter(None, map(tile_source, (basemap_url, *more_tile_urls)))))
    img = "'self' data:" + (f" {tiles}" if tiles else "")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {img}",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def security_headers(app: Flask) -> None:
    """Add the security headers to every response (pages, API, assets, errors)."""
    from geoservice.config import basemap_tile_urls

    csp = content_security_policy(*basemap_tile_urls(app.config))
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": csp,
    }

    @app.after_request
    def _headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


# --- sessions and the secret key -----------------------------------------------------------

class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, ``Secure`` whenever this request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure


def workspace_key_file(workspace: str) -> Path | None:
    """Where the generated secret key of a file workspace is kept; None when the
    workspace is not a local file."""
    text = str(workspace)
    if text.startswith("gpkg:"):
        text = text[len("gpkg:"):]
    if "://" in text:
        return None
    return Path(text + SECRET_SUFFIX)


def workspace_secret_key(workspace: str) -> str:
    """The key kept beside ``workspace``, created (0600, atomically: two servers starting
    together agree on one key) when missing; a PostGIS workspace keeps it in the database."""
    path = workspace_key_file(workspace)
    if path is None:
        # a database workspace keeps the key itself, shared by every server process on it
        from layers import open_store

        keeper = getattr(open_store(workspace), "session_secret", None)
        if keeper is not None:
            return keeper()
        logging.getLogger(__name__).warning(
            "工作空间不是本地文件，无法保存会话密钥：本次运行使用临时密钥（可用 SECRET_KEY 配置）")
        return secrets.token_hex(32)
    try:
        return _read_key(path) or _create_key(path)
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "无法保存会话密钥文件 %s（%s）：本次运行使用临时密钥，重启后已登录的会话失效"
            "（可用 SECRET_KEY 配置）", path, exc)
        return secrets.token_hex(32)


def _create_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails when another process was first: use its key
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    key = _read_key(path)
    if not key:
        raise OSError("密钥文件为空")
    return key


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""


def install(app: Flask) -> None:
    """Headers, sessions, secret key and the trusted proxy, from the app's settings."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = SessionInterface()
    app.secret_key = app.config.get("SECRET_KEY") or workspace_secret_key(app.config["WORKSPACE"])
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies, x_prefix=proxies)
    security_headers(app)


# --- the access log ---------------------------------------------------------------------------

class AccessLog:
    """WSGI middleware: one line per request on the ``geoservice.access`` logger (client,
    method, path, status, bytes, duration; the time comes from the log format), written
    when the response has been sent."""

    def __init__(self, app, logger: logging.Logger | None = None):
        self.app = app
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()
        seen: dict = {"status": "-"}

        def _start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        body = self.app(environ, _start)
        return _Logged(body, environ, seen, t0, self.logger)


class _Logged:
    def __init__(self, body, environ, seen, t0, logger):
        self.body, self.environ, self.seen, self.t0, self.logger = body, environ, seen, t0, logger
        self.bytes = 0

    def __iter__(self):
        for chunk in self.body:
            self.bytes += len(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            e = self.environ
            path = e.get("SCRIPT_NAME", "") + e.get("PATH_INFO", "")
            if e.get("QUERY_STRING"):
                path += "?" + e["QUERY_STRING"]
            self.logger.info('%s "%s %s %s" %s %d %.1fms', e.get("REMOTE_ADDR", "-"),
                             e.get("REQUEST_METHOD", "-"), path,
                             e.get("SERVER_PROTOCOL", "-"), self.seen["status"], self.bytes,
                             (time.perf_counter() - self.t0) * 1000)


def configure_logging(*, access_log: bool = True, stream=None) -> None:
    """Log to stderr: errors of the app (with their traceback, never sent to the client)
    and, when ``access_log``, one line per request."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    access = logging.getLogger(ACCESS_LOGGER)
    access.propagate = False
    access.handlers.clear()
    if access_log:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
    else:
        access.setLevel(logging.CRITICAL + 1)
