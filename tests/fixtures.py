"""A tiny real workspace, built in code through the real import pipeline.

Two townships side by side, four square villages (2 km a side) and facilities at known
distances, laid out in metres in the CGCS2000 GK zone of Qingshen (EPSG:4544, CM 105E)
and written to the files people would bring (GeoJSON, CSV with Chinese headers).
"""

from __future__ import annotations

import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
from flask.testing import FlaskClient
from shapely.geometry import Point, box
from werkzeug.serving import make_server

from layers import import_file, open_store

GK = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0  # a spot near 103.7E 29.8N
SIDE = 2_000.0
TOWNSHIPS = [("511425102", "甲镇"), ("511425108", "乙镇")]
# (code, name, township_code, column, row, population, elderly)
VILLAGES = [
    ("511425102200", "甲一村", "511425102", 0, 0, 2000, 500),
    ("511425102201", "甲二村", "511425102", 0, 1, 1500, 300),
    ("511425108200", "乙一村", "511425108", 1, 0, 1000, 250),
    ("511425108201", "乙二村", "511425108", 1, 1, 3000, 600),
]
# Facilities placed relative to village centres (metres).
WELFARE_HOMES = [("甲镇敬老院", "township", 40, 20, X0 + SIDE / 2, Y0 + SIDE / 2)]
SERVICE_POINTS = [
    ("甲镇养老服务中心", "township_center", 30, X0 + SIDE / 2 + 300, Y0 + SIDE / 2),
    ("乙二村互助养老服务站", "village_station", 6, X0 + 1.5 * SIDE, Y0 + 1.5 * SIDE),
]


def village_polygon(col: int, row: int):
    return box(X0 + col * SIDE, Y0 + row * SIDE, X0 + (col + 1) * SIDE, Y0 + (row + 1) * SIDE)


def write_sources(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    townships = gpd.GeoDataFrame(
        {"code": [c for c, _ in TOWNSHIPS], "name": [n for _, n in TOWNSHIPS]},
        geometry=[box(X0 + i * SIDE, Y0, X0 + (i + 1) * SIDE, Y0 + 2 * SIDE) for i in range(2)],
        crs=GK).to_crs("EPSG:4490")
    villages = gpd.GeoDataFrame(
        {"code": [v[0] for v in VILLAGES], "name": [v[1] for v in VILLAGES],
         "township_code": [v[2] for v in VILLAGES], "population": [v[5] for v in VILLAGES],
         "elderly_population": [v[6] for v in VILLAGES]},
        geometry=[village_polygon(v[3], v[4]) for v in VILLAGES], crs=GK).to_crs("EPSG:4490")
    paths = {"townships": folder / "townships.geojson", "villages": folder / "villages.geojson"}
    townships.to_file(paths["townships"], driver="GeoJSON")
    villages.to_file(paths["villages"], driver="GeoJSON")

    def points_csv(rows, columns, name):
        df = pd.DataFrame(rows, columns=columns)
        pts = gpd.GeoSeries([Point(x, y) for x, y in zip(df.pop("x"), df.pop("y"), strict=True)],
                            crs=GK).to_crs("EPSG:4490")
        df["经度"], df["纬度"] = pts.x.round(8), pts.y.round(8)
        path = folder / name
        df.to_csv(path, index=False, encoding="utf-8")
        return path

    paths["welfare_homes"] = points_csv(
        WELFARE_HOMES, ["名称", "类型", "床位数", "在住人数", "x", "y"], "welfare_homes.csv")
    paths["elderly_service_points"] = points_csv(
        SERVICE_POINTS, ["名称", "层级", "床位数", "x", "y"], "service_points.csv")
    return paths


def build_tiny_workspace(folder: Path) -> Path:
    paths = write_sources(folder / "sources")
    gpkg = folder / "tiny.gpkg"
    store = open_store(gpkg)
    store.set_info(title="测试县", county_code="511425", demo="0")
    for kind, path in paths.items():
        import_file(store, kind, path)
    return gpkg


ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, env: dict | None = None, timeout: float = 180):
    """``python -m geoservice ARGS`` in a child process, as a user runs it."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "geoservice", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        runner = self.app.extensions.get("siting_jobs")
        for job in runner.jobs() if runner else []:  # never leave a solve running
            runner.cancel(job.id)
            job.wait(60)
        self.server.shutdown()
        self.thread.join(timeout=10)


# --- accounts: tests act as a real account --------------------------------------------------

PASSWORD = "test-password-1"  # every test account's password
ADMIN = "admin"


class TokenClient(FlaskClient):
    """A test client sending ``Authorization: Bearer <token>`` with every request: the
    app's default token (``default_token``, an admin's) unless ``token=`` is given;
    ``app.test_client(token=None)`` is anonymous."""

    default_token: str | None = None

    def __init__(self, *args, token: str | None | type(...) = ..., **kwargs):
        super().__init__(*args, **kwargs)
        self.token = self.default_token if token is ... else token
        if self.token:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"


_TOKENS: dict[tuple[str, str], str] = {}  # (workspace, account) -> its API token


def add_account(app, name: str, role: str, password: str = PASSWORD) -> str:
    """An account in the app's workspace (created once); returns its API token (the same
    one for every app on that workspace: a new token would end the others')."""
    from geoservice.services import accounts

    store = app.extensions["geoservice"]["store"]
    key = (str(app.config["WORKSPACE"]), name)
    if store.user(name) is None:
        accounts.add_user(store, name, role, password)
    token = _TOKENS.get(key)
    if not token or accounts.user_for_token(store, token) is None:
        token = _TOKENS[key] = accounts.new_token(store, name)
    return token


def sign_in(app, name: str = ADMIN, role: str = "admin"):
    """The app's test clients act as account ``name`` (an admin unless said) through its
    API token; returns the app."""
    token = add_account(app, name, role)
    app.test_client_class = type("SignedInClient", (TokenClient,), {"default_token": token})
    return app


def make_app(config: dict):
    """``create_app(config)`` with an admin account whose token its test clients send."""
    from geoservice import create_app

    return sign_in(create_app(config))
