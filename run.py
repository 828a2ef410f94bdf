"""Serve the planning service on the embedded demo county (or GEOSERVICE_WORKSPACE)."""

from __future__ import annotations

import argparse

from geoservice import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="启动民政设施规划服务（默认使用示例县青神县数据）")
    parser.add_argument("--host", default="127.0.0.1", help="监听地址，默认 127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="端口，默认 5000")
    parser.add_argument("--workspace", default=None,
                        help="工作空间 GeoPackage 文件，默认示例县工作空间的副本 instance/qingshen.gpkg")
    args = parser.parse_args()
    config = {"WORKSPACE": args.workspace} if args.workspace else None
    app = create_app(config)
    print(f"工作空间：{app.config['WORKSPACE']}")
    print(f"服务地址：http://{args.host}:{args.port}/")
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
