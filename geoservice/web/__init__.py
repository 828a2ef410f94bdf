"""Flask adapter: views parse parameters, call framework-free code, render maps or JSON."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from geoservice.errors import ValidationError as _ValidationError
from geoservice.errors import http_status, is_readable
from geoservice.registry import ANALYSES
from geoservice.web import api, assets, pages, uploads


def register(app: Flask) -> None:
    app.register_blueprint(assets.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(api.bp)
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
            message = _HTTP_MESSAGES.get(status, exc.description or "请求出错")
        else:
            status = http_status(exc)
            message = str(exc) if status < 500 or is_readable(exc) else "服务器内部错误"
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
