"""Serve the planning service on the embedded demo county (or GEOSERVICE_WORKSPACE).

Production server: waitress (pure Python, Windows and Linux), with an access log on stderr.
``--debug`` serves with Flask's development server instead (debugger, tracebacks): only on
a developer's own machine. On a workspace without accounts it says how to create the first
admin; the demo workspace gets an ``admin`` account whose generated password is printed once.
"""

from __future__ import annotations

import argparse
import os

from geoservice import create_app


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
                        help="工作空间 GeoPackage 文件，默认示例县工作空间的副本 instance/qingshen.gpkg")
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
    app = create_app(config or None)
    threads = app.config["SERVER_THREADS"]
    print(f"工作空间：{app.config['WORKSPACE']}", flush=True)
    _first_run(app)

    if args.debug:
        print("开发调试模式（Flask 开发服务器，出错时显示错误详情）：不要在单位部署时使用", flush=True)
        print(f"服务地址：http://{_shown(args.host)}:{args.port}/", flush=True)
        print("停止服务：按 Ctrl+C", flush=True)
        app.run(host=args.host, port=args.port, threaded=True, debug=True, use_reloader=False)
        return

    import waitress

    configure_logging(access_log=bool(app.config["ACCESS_LOG"]))
    wsgi = AccessLog(app) if app.config["ACCESS_LOG"] else app
    server = waitress.create_server(wsgi, host=args.host, port=args.port, threads=threads,
                                    ident="waitress")
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
