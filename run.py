"""Serve the planning service on the embedded demo county (or GEOSERVICE_WORKSPACE).

Production server: waitress (pure Python, Windows and Linux), with an access log on stderr.
``--debug`` serves with Flask's development server instead (debugger, tracebacks): only on
a developer's own machine. On a workspace without accounts it says how to create the first
admin; the demo workspace gets an ``admin`` account whose generated password is printed once.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from geoservice import create_app, held_logs
from geoservice.services.workspace_copy import shown_workspace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="启动民政设施规划服务（默认使用示例县青神县数据）",
                                     add_help=False)
    parser.add_argument("-h", "--help", action="help", help="显示本说明并退出")
    parser.add_argument("--host", default="127.0.0.1",
                        help="监听地址，默认 127.0.0.1（只有本机能访问）；单位内网使用时填本机内网地址")
    parser.add_argument("--port", type=int, default=5000, help="端口，默认 5000；0 表示任选空闲端口")
    parser.add_argument("--threads", type=int, default=None,
                        help="工作线程数，默认为配置项 SERVER_THREADS（8）")
    parser.add_argument("--workspace", default=None,
                        help="工作空间：GeoPackage 文件，或 PostgreSQL/PostGIS 地址 "
                             "postgresql://用户[:密码]@主机:端口/数据库；"
                             "默认示例县工作空间的副本 instance/qingshen.gpkg")
    parser.add_argument("--debug", action="store_true",
                        help="开发调试：改用 Flask 开发服务器并显示错误详情（不要在单位部署时使用）")
    args = parser.parse_args(argv)

    from geoservice.web.server import AccessLog, configure_logging

    config = {"WORKSPACE": args.workspace} if args.workspace else {}
    if args.threads is not None:
        config["SERVER_THREADS"] = args.threads
    if args.debug:
        config["DEBUG"] = True
    configure_logging(access_log=False)  # the app's errors, before the app is built
    try:
        # the store's log lines of a failed start are held back (--debug shows them): the
        # one Chinese line below says what is wrong
        with held_logs(drop_on_readable_error=not args.debug):
            app = create_app(config or None)
            threads = app.config["SERVER_THREADS"]
            print(f"工作空间：{shown_workspace(app.config['WORKSPACE'])}", flush=True)
            _first_run(app)
    except Exception as exc:
        _refuse_start(exc)

    if args.debug:
        print("开发调试模式（Flask 开发服务器，出错时显示错误详情）：不要在单位部署时使用", flush=True)
        print(f"服务地址：http://{_shown(args.host)}:{args.port}/", flush=True)
        print("停止服务：按 Ctrl+C", flush=True)
        app.run(host=args.host, port=args.port, threaded=True, debug=True, use_reloader=False)
        return

    import waitress

    configure_logging(access_log=bool(app.config["ACCESS_LOG"]))
    wsgi = AccessLog(app) if app.config["ACCESS_LOG"] else app
    try:
        server = waitress.create_server(wsgi, host=args.host, port=args.port, threads=threads,
                                        ident="waitress")
    except OSError as exc:
        _stop(f"无法在 {_shown(args.host)}:{args.port} 上监听（{exc.strerror or exc}）："
              "端口可能已被占用，请用 --port 换一个端口")
    port = server.effective_port
    print(f"服务地址：http://{_shown(args.host)}:{port}/（waitress，{threads} 个工作线程）",
          flush=True)
    print("停止服务：按 Ctrl+C" + ("" if os.name == "nt" else "（或向进程发送 SIGTERM）"), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        print("服务已停止", flush=True)


def _refuse_start(exc: Exception) -> NoReturn:
    """A workspace that cannot be opened (server down, wrong password, no such database, no
    PostGIS) or a wrong setting: its one Chinese line and exit code 1, no traceback.
    Anything else is a bug and keeps its traceback."""
    from geoservice.errors import is_readable, message_for

    if not is_readable(exc):
        raise exc
    _stop(message_for(exc))


def _stop(message: str) -> NoReturn:
    print(f"无法启动服务：{message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def _first_run(app) -> None:
    """A workspace without accounts: the hint to create the first admin, or (the demo) the
    generated admin password, shown this once."""
    from geoservice.services.accounts import first_run

    message = first_run(app.extensions["geoservice"]["store"])
    if message:
        print(message, flush=True)


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    main()
