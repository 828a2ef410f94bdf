"""Flask adapter: views parse parameters, call framework-free code, render maps or JSON."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from geoservice.errors import ValidationError as _ValidationError
from geoservice.errors import http_status, message_for
from geoservice.registry import ANALYSES
from geoservice.web import (
    api,
    assets,
    auth,
    history,
    ogcapi,
    pages,
    plans,
    printing,
    search,
    server,
    tiles,
    uploads,
)


def register(app: Flask) -> None:
    server.install(app)  # security headers, session cookies, secret key, trusted proxy
    auth.install(app)  # accounts: sessions, API tokens, read access, CSRF, /login
    app.register_blueprint(assets.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ogcapi.bp)
    app.register_blueprint(history.bp)  # 操作记录, 版本历史
    app.register_blueprint(plans.bp)  # 规划方案: list, plan page, compare, /api/plans
    app.register_blueprint(printing.bp)  # 打印地图: /print/<analysis>.pdf|png
    app.register_blueprint(tiles.bp)  # local basemap tiles: /tiles/mbtiles, /tiles/xyz
    app.register_blueprint(search.bp)  # /api/search: names, codes, pinyin of every layer
    for analysis in ANALYSES:
        app.register_blueprint(analysis.blueprint())

    @app.context_processor
    def menu():
        return {"analyses": ANALYSES}

    @app.errorhandler(Exception)
    def handle(exc: Exception):
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            status = exc.code or 500
            message = _HTTP_MESSAGES.get(status, "请求出错")
            if status == 413:
                message = (f"上传文件过大：超过上限 {app.config['MAX_UPLOAD_MB']} MB"
                           "（管理员可在配置 MAX_UPLOAD_MB 中修改）")
        else:
            status = http_status(exc)
            message = message_for(exc)
            if status >= 500:
                app.logger.exception("unhandled error")
        problems = exc.problems if isinstance(exc, _ValidationError) else []
        if request.path.startswith("/api/"):
            body = {"error": message.split("\n")[0], "status": status}
            if problems:
                body["problems"] = [p.to_dict() for p in problems]
            return jsonify(body), status
        return render_template("error.html", status=status, message=message.split("\n")[0],
                               problems=problems), status


_HTTP_MESSAGES = {
    404: "页面不存在",
    405: "不支持的请求方法",
    413: "上传文件过大",
    400: "请求参数错误",
}
