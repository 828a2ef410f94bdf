"""Serving an office: security headers, session cookies, the secret key, no traceback for
the client, and `python run.py` on waitress (the development server only with --debug)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fixtures import make_app  # create_app with an admin signed in (API token)
from flask import session

from geoservice.config import ConfigError
from geoservice.web.server import SECRET_SUFFIX, content_security_policy, tile_source

ROOT = Path(__file__).resolve().parents[2]

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _assert_secure_headers(r, where):
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (where, name)
    d = _directives(r.headers["Content-Security-Policy"])
    assert d["frame-ancestors"] == ["'self'"], where
    assert d["object-src"] == ["'none'"], where
    assert d["base-uri"] == ["'self'"], where
    assert d["connect-src"] == ["'self'"], where
    assert d["default-src"] == ["'self'"], where
    return d


@pytest.mark.parametrize("url,status", [
    ("/", 200), ("/coverage", 200), ("/upload", 200), ("/api/layers", 200),
    ("/api/coverage", 200), ("/assets/leaflet/leaflet.js", 200), ("/static/site.css", 200),
    ("/no-such-page", 404), ("/api/no-such", 404), ("/coverage?radius=abc", 400),
])
def test_security_headers_on_pages_api_assets_and_errors(tiny_app, url, status):
    r = tiny_app.test_client().get(url)
    assert r.status_code == status, url
    _assert_secure_headers(r, url)


def _hosts(csp: str) -> set[str]:
    return {w for words in _directives(csp).values() for w in words
            if not w.startswith("'") and w not in ("data:",)}


def test_csp_names_no_host_but_the_configured_basemap(tiny_workspace, monkeypatch):
    plain = make_app({"WORKSPACE": str(tiny_workspace)}).test_client().get("/")
    assert _hosts(plain.headers["Content-Security-Policy"]) == set()
    monkeypatch.setenv("GEOSERVICE_BASEMAP_URL",
                       "http://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}")
    r = make_app({"WORKSPACE": str(tiny_workspace)}).test_client().get("/api/layers")
    d = _assert_secure_headers(r, "basemap")
    assert _hosts(r.headers["Content-Security-Policy"]) == {"http://*.tianditu.gov.cn"}
    assert "http://*.tianditu.gov.cn" in d["img-src"]
    for directive in ("script-src", "style-src", "connect-src", "font-src", "default-src"):
        assert all(w.startswith("'") for w in d[directive]), directive


def test_tile_source_of_basemap_urls():
    assert tile_source("") == ""
    assert tile_source("/tiles/{z}/{x}/{y}.png") == ""
    assert tile_source("http://tiles.intranet:8080/{z}/{x}/{y}.png") == "http://tiles.intranet:8080"
    assert tile_source("https://{s}.tile.example.cn/{z}/{x}/{y}.png") == "https://*.tile.example.cn"
    assert tile_source("//tiles.example.cn/{z}/{x}/{y}.png") == "tiles.example.cn"
    with pytest.raises(ConfigError):
        tile_source("http://a.{s}.example.cn/{z}/{x}/{y}.png")
    assert "'unsafe-eval'" not in content_security_policy("http://tiles.intranet/{z}/{x}/{y}.png")


def _session_app(workspace: Path, **config):
    app = make_app({"WORKSPACE": str(workspace), **config})

    @app.route("/_test/session")
    def set_session():
        session["seen"] = "1"
        return "ok"

    @app.route("/_test/read")
    def read_session():
        return session.get("seen", "none")

    return app


def _cookie(r) -> str:
    cookies = r.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_session_cookie_is_httponly_lax_and_secure_only_over_https(tiny_workspace):
    app = _session_app(tiny_workspace)
    cookie = _cookie(app.test_client().get("/_test/session"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    # direct HTTPS
    cookie = _cookie(app.test_client().get("/_test/session", base_url="https://localhost"))
    assert "; Secure" in cookie and "HttpOnly" in cookie
    # X-Forwarded-Proto from an untrusted client is ignored
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"}
    cookie = _cookie(app.test_client().get("/_test/session", headers=forwarded))
    assert "Secure" not in cookie


def test_forwarded_proto_is_honoured_behind_a_trusted_proxy(tiny_workspace):
    app = _session_app(tiny_workspace, TRUSTED_PROXIES=1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"}
    r = app.test_client().get("/_test/session", headers=forwarded)
    cookie = _cookie(r)
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    _assert_secure_headers(r, "proxied")
    assert "Secure" not in _cookie(app.test_client().get("/_test/session"))


def test_secret_key_is_kept_per_workspace(tiny_workspace, tmp_path):
    """Every app on one workspace signs sessions with the same key, kept beside a
    GeoPackage file (0600) or inside a PostGIS database; never in the workspace's info."""
    first = make_app({"WORKSPACE": str(tiny_workspace)})
    second = make_app({"WORKSPACE": str(tiny_workspace)})
    assert first.secret_key and len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    on_postgis = str(tiny_workspace).startswith("postgresql://")
    if on_postgis:
        import psycopg

        with psycopg.connect(str(tiny_workspace)) as con:
            (kept,) = con.execute("SELECT value FROM geoservice.secrets"
                                  " WHERE name = 'session'").fetchone()
        assert kept == first.secret_key
    else:
        key_file = Path(str(tiny_workspace) + SECRET_SUFFIX)
        assert key_file.read_text().strip() == first.secret_key
        if os.name == "posix":
            assert key_file.stat().st_mode & 0o777 == 0o600
    # a session signed by one app is read by the next one on the same workspace
    a, b = _session_app(tiny_workspace), _session_app(tiny_workspace)
    client = a.test_client()
    client.get("/_test/session")
    cookie = client.get_cookie("session")
    other = b.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/_test/read").get_data(as_text=True) == "1"

    if not on_postgis:
        other_ws = tmp_path / "other.gpkg"
        shutil.copyfile(tiny_workspace, other_ws)
        assert make_app({"WORKSPACE": str(other_ws)}).secret_key != first.secret_key
    # not stored in the workspace's info
    assert first.secret_key not in str(first.extensions["geoservice"]["store"].info())


def test_secret_key_setting_wins(tiny_workspace, monkeypatch):
    assert make_app({"WORKSPACE": str(tiny_workspace), "SECRET_KEY": "k" * 40}).secret_key == "k" * 40
    monkeypatch.setenv("GEOSERVICE_SECRET_KEY", "e" * 40)
    assert make_app({"WORKSPACE": str(tiny_workspace)}).secret_key == "e" * 40


def _failing_app(workspace: Path):
    # plain HTTP clients below, anonymous: reading allowed (the tiny county is no demo)
    app = make_app({"WORKSPACE": str(workspace), "ANONYMOUS_READ": 1})

    @app.route("/_test/fail")
    def fail():
        raise RuntimeError("secret internal detail")

    @app.route("/api/_test/fail")
    def api_fail():
        raise RuntimeError("secret internal detail")

    return app


def test_no_traceback_reaches_the_client(tiny_workspace, caplog):
    app = _failing_app(tiny_workspace)
    client = app.test_client()
    for url in ("/_test/fail", "/api/_test/fail"):
        r = client.get(url)
        assert r.status_code == 500, url
        body = r.get_data(as_text=True)
        assert "Traceback" not in body and "secret internal detail" not in body, url
        assert "RuntimeError" not in body, url
        _assert_secure_headers(r, url)
    assert any(rec.exc_info and "secret internal detail" in str(rec.exc_info[1])
               for rec in caplog.records)


def test_error_outside_a_view_shows_no_traceback(tiny_workspace):
    app = make_app({"WORKSPACE": str(tiny_workspace)})

    @app.after_request
    def broken(response):
        if response.status_code == 200 and "fail" in (response.get_data(as_text=True) or ""):
            raise RuntimeError("secret internal detail")
        return response

    @app.route("/_test/after")
    def after():
        return "fail"

    r = app.test_client().get("/_test/after")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "Traceback" not in body and "secret internal detail" not in body
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# --- python run.py ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("python run.py 未在 60 秒内开始监听")


def _run(workspace: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GEOSERVICE_ACCESS_LOG", None)
    env["GEOSERVICE_ANONYMOUS_READ"] = "1"  # plain HTTP clients read without an account
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port), "--workspace",
                             str(workspace), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
    except BaseException:
        proc.kill()
        raise
    return proc, port


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.terminate()
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _lines(stream):
    """Lines of ``stream`` as they come (read in a thread)."""
    import threading

    lines: list[str] = []

    def read():
        for line in stream:
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return lines, thread


def test_run_py_serves_with_waitress_and_logs_each_request(tiny_workspace):
    proc, port = _run(tiny_workspace, "--threads", "2")
    lines, reader = _lines(proc.stderr)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/layers", timeout=30) as r:
            assert r.status == 200
            assert r.headers["Server"] == "waitress"
            assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
            size = len(r.read())
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/no-such", timeout=30)
        assert err.value.code == 404 and err.value.headers["Server"] == "waitress"
        # the line is written once the response has been sent: wait for it (bounded)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("/api/no-such" in x for x in lines):
            time.sleep(0.05)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out = proc.stdout.read()
        reader.join(timeout=10)
    errors = "".join(lines)
    assert "工作空间" in out and f"http://127.0.0.1:{port}/" in out and "waitress" in out
    assert "Ctrl+C" in out
    assert re.search(rf'\d\d:\d\d:\d\d\S* 127\.0\.0\.1 "GET /api/layers HTTP/1\.1" 200 {size} '
                     r"[\d.]+ms", errors), errors
    assert '"GET /api/no-such HTTP/1.1" 404' in errors
    assert "WARNING: This is a development server" not in errors


def test_run_py_debug_uses_the_development_server(tiny_workspace):
    proc, port = _run(tiny_workspace, "--debug")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/layers", timeout=30) as r:
            assert r.status == 200
            assert r.headers["Server"].startswith("Werkzeug")
    finally:
        out, _ = _stop(proc)
    assert "开发" in out


# --- the CSP in a real browser, with a basemap on another origin -----------------------------

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082")


@pytest.mark.browser
def test_every_page_works_under_the_csp_with_a_basemap(demo_workspace, monkeypatch):
    """Every page in headless Chromium with the headers on and tiles from another origin
    (allowed by img-src): the maps draw, the tiles load, the console has no CSP violation."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from chromium import console_errors, start_chromium
    from fixtures import LiveServer

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG_1x1)))
            self.end_headers()
            self.wfile.write(PNG_1x1)

        def log_message(self, *args):
            pass

    tiles = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    tile_origin = f"http://127.0.0.1:{tiles.server_port}"
    monkeypatch.setenv("GEOSERVICE_BASEMAP_URL", tile_origin + "/{z}/{x}/{y}.png")
    app = make_app({"WORKSPACE": str(demo_workspace)})
    assert tile_origin in app.test_client().get("/").headers["Content-Security-Policy"]
    pages = ["/", "/coverage", "/siting", "/boundaries", "/placenames",
             "/boundaries/merge?layer=townships&codes=511425102,511425108&name=甲乙镇",
             "/upload", "/no-such-page"]
    try:
        with LiveServer(app) as server, start_chromium() as driver:
            from selenium.webdriver.support.ui import WebDriverWait

            for page in pages:
                driver.get(server.url + page)
                if page == "/no-such-page" or page == "/upload":
                    assert driver.find_element("tag name", "h1").text, page
                    continue
                WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                    "return !!(window.geoservice && window.geoservice.map) &&"
                    " [...document.querySelectorAll('img.leaflet-tile')]"
                    ".some(i => i.complete && i.naturalWidth > 0)"), page)
                errors = console_errors(driver)
                assert errors == [], (page, errors)
            # the 404 page itself is logged as a failed load; nothing else (no CSP violation)
            errors = [e for e in console_errors(driver) if "status of 404" not in e["message"]]
            assert errors == []
    finally:
        tiles.shutdown()


def test_waitress_shows_no_traceback_for_errors_outside_views(tiny_workspace, caplog):
    """Under waitress without debug: an error in a view, in after_request, in turning the
    view's value into a response, or while the body is sent never shows a traceback."""
    import http.client
    import threading

    import waitress
    from flask import Response

    from geoservice.web.server import AccessLog

    app = _failing_app(tiny_workspace)

    @app.route("/_test/bad-return")
    def bad_return():
        return 42  # not a response: Flask fails after the view

    @app.route("/_test/stream")
    def stream():
        def body():
            yield "partial "
            raise RuntimeError("secret internal detail")
        return Response(body(), mimetype="text/plain")

    @app.after_request
    def broken(response):
        if request_path() == "/_test/after" and response.status_code == 200:
            raise RuntimeError("secret internal detail")
        return response

    @app.route("/_test/after")
    def after():
        return "ok"

    def request_path():
        from flask import request

        return request.path

    server = waitress.create_server(AccessLog(app), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for path in ("/_test/fail", "/api/_test/fail", "/_test/bad-return", "/_test/after",
                     "/_test/stream"):
            conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
            conn.request("GET", path)
            r = conn.getresponse()
            try:
                body = r.read().decode("utf-8", "replace")
            except http.client.IncompleteRead as exc:
                body = exc.partial.decode("utf-8", "replace")
            conn.close()
            assert "Traceback" not in body and "secret internal detail" not in body, path
            assert "RuntimeError" not in body and "TypeError" not in body, path
            if path != "/_test/stream":
                assert r.status == 500, path
                assert r.headers["X-Content-Type-Options"] == "nosniff", path
    finally:
        server.close()
        thread.join(timeout=10)
