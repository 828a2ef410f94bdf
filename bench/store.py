"""Benchmark: the GeoPackage store against the PostGIS store, in one run.

    python -m bench.store [--postgres URL] [--repeat 3] [--clients 1 8] [--imports 3]
                          [--province 27000] [--scales county,province] [--outlines PATH]

``--postgres`` (or ``GEOSERVICE_TEST_POSTGRES``): a PostgreSQL server URL of a role that may
CREATE DATABASE, with PostGIS available; the bench makes its own databases there
(``bench_store_*``) and drops them at the end. Without one it stops with a Chinese message.

Scales: county (the demo county 青神县: its workspace, 58 villages) and province (the
generated Hubei villages and facilities of bench/synthetic.py: ``--province`` villages,
10,000 elderly-service points, townships dissolved from the villages).

Measured on both stores, medians of ``--repeat``, printed with the ratio PostGIS/GeoPackage:

- import throughput (features/s) of the villages: ``import_file`` from a GeoPackage file
  (read, validate, write: what staff wait on), and the store's ``write`` alone;
- ``GET /api/coverage?layer=elderly_service_points&radius=5000`` through the app
  (``create_app`` on the workspace, Flask's test client): the first request (layers read
  from the store) and the median of the next ones (the app's layer cache warm);
- concurrent imports: ``--clients`` client processes (1, then 8), each importing its own
  CSV of 2,000 points ``--imports`` times into one fresh workspace (through the audited
  import service, as the CLI does). Written: the versions the clients were told they got;
  held: those the workspace holds whole (the version's row with the client's feature count
  and its data readable with that count); lost = written - held, which must be 0; also
  the number of versions told to two clients (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from bench.concurrent_writes import write_csv  # the same points file as that bench

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = "GEOSERVICE_TEST_POSTGRES"
COVERAGE = "/api/coverage?layer=elderly_service_points&radius=5000"
POINTS = "elderly_service_points"
NO_SERVER = (f"需要 PostgreSQL/PostGIS 服务器：请用 --postgres postgresql://用户[:密码]@主机:端口/postgres "
             f"指定（可建库、可用 PostGIS 的角色），或设置环境变量 {ENV}")


# --- databases on the server ----------------------------------------------------------------

class Databases:
    """Databases made on the server for this run, dropped by :meth:`drop_all`."""

    def __init__(self, server: str):
        self.server = server
        self.made: list[str] = []

    def _connect(self, url: str | None = None):
        import psycopg

        return psycopg.connect(url or self.server, autocommit=True, connect_timeout=15)

    def check(self) -> None:
        try:
            with self._connect() as con:
                con.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - said in Chinese, the cause appended
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SystemExit(f"无法连接 PostgreSQL 服务器 {_server(self.server)}：{first}") from None

    def new(self) -> str:
        name = f"bench_store_{os.getpid()}_{len(self.made)}"
        with self._connect() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return urlsplit(self.server)._replace(path="/" + quote(name)).geturl()

    def drop_all(self) -> None:
        with self._connect() as con:
            for name in self.made:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


# --- data -----------------------------------------------------------------------------------

def county_data():
    """The demo county's layers: (villages, townships, points) as its workspace holds them."""
    from layers import open_store
    from layers.demo import DEMO_WORKSPACE

    store = open_store(DEMO_WORKSPACE)
    return store.read("villages"), store.read("townships"), store.read(POINTS)


def province_data(n: int, outlines: Path | None):
    from bench.synthetic import province

    villages, facilities, _ = province(n, 10_000, outlines=outlines)
    v = villages.drop(columns=["county_code"]).reset_index(drop=True)
    t = villages[["township_code", "geometry"]].dissolve(by="township_code").reset_index()
    t = t.rename(columns={"township_code": "code"})
    t["name"] = "乡镇" + t["code"].str[-3:]
    f = facilities.drop(columns=["county_code"]).reset_index(drop=True)
    return v, t, f


def fill(store, villages, townships, points) -> None:
    for kind, gdf in (("villages", villages), ("townships", townships), (POINTS, points)):
        store.write(kind, gdf, source="bench", source_crs="EPSG:4490")
    store.set_info(title="基准测试")


# --- measures -------------------------------------------------------------------------------

def import_rates(store, villages_file: Path, villages, repeat: int) -> tuple[float, float]:
    """Features per second: ``import_file`` of the file, and ``store.write`` of the frame
    (medians of ``repeat``)."""
    from layers import import_file

    full, write = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        v = import_file(store, "villages", villages_file)
        full.append(time.perf_counter() - t0)
        assert v.features == len(villages)
        t0 = time.perf_counter()
        store.write("villages", villages, source="bench", source_crs="EPSG:4490")
        write.append(time.perf_counter() - t0)
    n = len(villages)
    return n / statistics.median(full), n / statistics.median(write)


def coverage_latency(workspace: str, repeat: int) -> tuple[float, float]:
    """(first request, median of the next ``repeat``) of ``/api/coverage``, seconds."""
    from geoservice import create_app

    app = create_app({"WORKSPACE": workspace, "ANONYMOUS_READ": 1, "ACCESS_LOG": 0,
                      "SECRET_KEY": "bench"})  # no key file beside a database workspace
    client = app.test_client()

    def timed() -> float:
        t0 = time.perf_counter()
        r = client.get(COVERAGE)
        took = time.perf_counter() - t0
        if r.status_code != 200:
            raise SystemExit(f"{COVERAGE}：HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
        return took

    cold = timed()
    return cold, statistics.median(timed() for _ in range(repeat))


def client_main(workspace: str, csv: str, imports: int) -> None:
    """One client process: ``imports`` audited imports of ``csv``; prints the versions got."""
    from geoservice.services.accounts import cli_actor
    from geoservice.services.layers import import_layer
    from layers import open_store

    store = open_store(workspace)
    got = []
    for _ in range(imports):
        v = import_layer(store, cli_actor(), POINTS, csv)
        got.append({"version": v.version, "features": v.features})
    print(json.dumps(got))


def concurrent_imports(workspace: str, files: list[Path], imports: int) -> dict:
    """Client processes at once, one per file; what they were told and what is held."""
    from layers import open_store

    open_store(workspace)  # created (or its schema) before the clients race
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "bench.store", "--client", workspace,
                               str(f), str(imports)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in files]
    acks, failed = [], 0
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            failed += 1
            print(f"  客户端失败：{err.strip().splitlines()[-1] if err.strip() else p.returncode}",
                  file=sys.stderr)
            continue
        acks += json.loads(out)
    took = time.perf_counter() - t0
    store = open_store(workspace)
    rows = {v.version: v for v in store.versions(POINTS)}
    numbers = [a["version"] for a in acks]
    held = 0
    for a in acks:
        v = rows.get(a["version"])
        if v is not None and v.features == a["features"] and \
                len(store.read(POINTS, version=v.version)) == a["features"]:
            held += 1
    features = sum(a["features"] for a in acks)
    return {"written": len(acks), "held": held, "lost": len(acks) - held,
            "shared": len(numbers) - len(set(numbers)), "failed": failed,
            "seconds": took, "rate": features / took if took else 0.0}


# --- the run --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="GeoPackage 与 PostGIS 工作空间的基准测试（同一次运行）")
    ap.add_argument("--postgres", default=None,
                    help=f"PostgreSQL 服务器地址（可建库的角色），默认环境变量 {ENV}")
    ap.add_argument("--repeat", type=int, default=3, help="每项计时的次数（取中位数），默认 3")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8],
                    help="并发导入的客户端进程数，默认 1 8")
    ap.add_argument("--imports", type=int, default=3, help="每个客户端导入的次数，默认 3")
    ap.add_argument("--province", type=int, default=27_000, help="省级村数，默认 27000")
    ap.add_argument("--scales", default="county,province", help="规模：county、province，逗号分隔")
    ap.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    ap.add_argument("--client", nargs=3, metavar=("WORKSPACE", "CSV", "N"), default=None,
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client:
        client_main(args.client[0], args.client[1], int(args.client[2]))
        return 0

    server = (args.postgres or os.environ.get(ENV, "")).strip()
    if not server:
        print(NO_SERVER, file=sys.stderr)
        return 2
    if not server.startswith(("postgresql://", "postgres://")):
        print(f"PostgreSQL 服务器地址应以 postgresql:// 开头：{NO_SERVER}", file=sys.stderr)
        return 2
    dbs = Databases(server)
    dbs.check()

    import pyogrio

    from geoservice.services.accounts import cli_actor
    from geoservice.services.workspace_copy import copy_workspace
    from layers import open_store
    from layers.demo import DEMO_WORKSPACE

    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    print(f"基准：GeoPackage 对比 PostGIS（服务器 {_server(server)}），中位数，重复 {args.repeat} 次")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            print(f"{'规模':<4} {'要素':>6} | {'导入 要素/秒 GPKG':>16} {'PostGIS':>9} {'比值':>5} | "
                  f"{'写入 要素/秒 GPKG':>16} {'PostGIS':>9} {'比值':>5} | "
                  f"{'/api/coverage 毫秒 GPKG':>22} {'PostGIS':>8} {'比值':>5} | "
                  f"{'首次 GPKG':>9} {'PostGIS':>8}")
            for scale in scales:
                if scale == "county":
                    name = "县级"
                    villages, townships, points = county_data()
                    gpkg = tmp / "county.gpkg"
                    shutil.copyfile(DEMO_WORKSPACE, gpkg)
                    pg = dbs.new()
                    copy_workspace(open_store(gpkg), open_store(pg), actor=cli_actor())
                elif scale == "province":
                    name = "省级"
                    villages, townships, points = province_data(args.province, args.outlines)
                    gpkg = tmp / "province.gpkg"
                    fill(open_store(gpkg), villages, townships, points)
                    pg = dbs.new()
                    fill(open_store(pg), villages, townships, points)
                else:
                    print(f"未知的规模“{scale}”：应为 county 或 province", file=sys.stderr)
                    return 2
                # coverage first, on the workspaces as filled (imports add versions after)
                g_cold, g_cov = coverage_latency(str(gpkg), args.repeat)
                p_cold, p_cov = coverage_latency(pg, args.repeat)
                source = tmp / f"{scale}-villages.gpkg"
                pyogrio.write_dataframe(villages, source, layer="villages", driver="GPKG")
                g_imp, g_wr = import_rates(open_store(gpkg), source, villages, args.repeat)
                p_imp, p_wr = import_rates(open_store(pg), source, villages, args.repeat)
                print(f"{name:<4} {len(villages):>6} | {g_imp:>16,.0f} {p_imp:>9,.0f} "
                      f"{p_imp / g_imp:>5.2f} | {g_wr:>16,.0f} {p_wr:>9,.0f} {p_wr / g_wr:>5.2f} | "
                      f"{g_cov * 1000:>22.1f} {p_cov * 1000:>8.1f} {p_cov / g_cov:>5.2f} | "
                      f"{g_cold * 1000:>9.1f} {p_cold * 1000:>8.1f}", flush=True)

            print(f"\n并发导入：每个客户端进程导入自己的 2000 个点 {args.imports} 次（经审计的导入服务），"
                  "新建的工作空间")
            print(f"{'存储':<8} {'客户端':>6} {'写入版本':>8} {'完整保存':>8} {'丢失':>4} "
                  f"{'重号':>4} {'失败':>4} {'秒':>7} {'要素/秒':>9}")
            lost = 0
            for clients in args.clients:
                files = [write_csv(tmp / f"c{clients}-{i}.csv", 2000, i)
                         for i in range(clients)]
                for label, workspace in (("GPKG", str(tmp / f"concurrent-{clients}.gpkg")),
                                         ("PostGIS", dbs.new())):
                    r = concurrent_imports(workspace, files, args.imports)
                    lost += r["lost"] + r["shared"]
                    print(f"{label:<8} {clients:>6} {r['written']:>8} {r['held']:>8} "
                          f"{r['lost']:>4} {r['shared']:>4} {r['failed']:>4} "
                          f"{r['seconds']:>7.1f} {r['rate']:>9,.0f}", flush=True)
            print("丢失和重号必须为 0：每个客户端得到的版本都完整保存在工作空间中，且没有两个客户端得到同一版本号。"
                  + ("" if lost == 0 else f"本次有 {lost} 个版本丢失或重号！"))
            return 0 if lost == 0 else 1
    finally:
        dbs.drop_all()


if __name__ == "__main__":
    raise SystemExit(main())
