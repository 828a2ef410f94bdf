"""Benchmark: map pages at county and province scale (bytes, server time, Chromium load).

    python -m bench.maps [--repeat 3] [--scales county,province] [--pages home,coverage,…]
                         [--workdir DIR] [--no-browser] [--no-baseline] [--outlines PATH]

Data: the generated Hubei villages and facilities of bench/synthetic.py (27,000 villages,
10,000 elderly-service points, townships dissolved from the villages), written once to
GeoPackage workspaces in a temporary folder (``--workdir`` keeps and reuses them): one
county (竹山县 420323, about 520 villages) and the province.

For each scale and page, two apps over the same workspace, in the same process, with a
production-like configuration (anonymous read, no access log, no basemap):

* ``new``: the defaults (heavy polygon layers drawn from ``/api/layers/<kind>/geometry``,
  simplified by zoom, every feature drawn: ``maps.bulk``);
* ``baseline``: the implementation before, ``MAP_GEOMETRY_MIN_VERTICES=0`` (village and
  township polygons inlined into the page up to ``MAP_INLINE_MAX_FEATURES`` features,
  loaded by view beyond).

Printed per page: the server time of the page (median of ``--repeat`` requests through
Flask's test client after one warm-up; the first request of the geometry endpoint is timed
apart), the HTML size (raw and gzip-compressed), and in real headless Chromium (Debian's
chromium + chromium-driver against a threaded live server): the bytes transferred for the
whole load (every response's encoded length from the network log: page, assets, geometry;
the geometry endpoint sends gzip) and the time to interactive: the page's load event, or,
when the page has bulk layers, the moment the last of them finished drawing
(``window.geoservice.readyAt``, set by ``maps/static/province.js``), whichever is later:
the median of ``--repeat`` loads, and the first load of a fresh app (every server cache
cold: layers read from the file, the analysis run, the geometry simplified). The bytes are
those of the first visit (later ones are printed too: the browser keeps a version's
geometry).
Then the ratios baseline/new. Goal (issue "Maps people can read, search and print"):
every page under 5 MB transferred and interactive in under 3 s, all villages drawn.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import province  # noqa: E402

COUNTY = "420323"  # 竹山县
PAGES = {
    "home": "/",
    "coverage": "/coverage?layer=elderly_service_points&radius=5000",
    "siting": "/siting",
    "boundaries": "/boundaries",
    "placenames": "/placenames",
}
GOAL_BYTES, GOAL_SECONDS = 5e6, 3.0


def build(folder: Path, name: str, villages, facilities) -> Path:
    """A GeoPackage workspace with the villages, their townships and the facilities (kept
    when it exists: ``--workdir``)."""
    from layers import open_store

    path = folder / f"{name}.gpkg"
    if path.exists():
        return path
    tmp = folder / f"{name}.partial.gpkg"
    tmp.unlink(missing_ok=True)
    store = open_store(tmp)
    v = villages.drop(columns=["county_code"]).reset_index(drop=True)
    t = villages[["township_code", "geometry"]].dissolve(by="township_code").reset_index()
    t = t.rename(columns={"township_code": "code"})
    t["name"] = "乡镇" + t["code"].str[-3:]
    t["county_code"] = t["code"].str[:6]
    f = facilities.drop(columns=["county_code"]).reset_index(drop=True)
    for kind, gdf in (("villages", v), ("townships", t), ("elderly_service_points", f)):
        store.write(kind, gdf.reset_index(drop=True), source="bench", source_crs="EPSG:4490")
    store.set_info(title=name)
    del store
    tmp.rename(path)
    return path


def make_app(path: Path, baseline: bool):
    from geoservice import create_app

    cfg = {"WORKSPACE": str(path), "ANONYMOUS_READ": 1, "ACCESS_LOG": 0}
    if baseline:
        cfg["MAP_GEOMETRY_MIN_VERTICES"] = 0
    return create_app(cfg)


class Live:
    """A threaded werkzeug server of ``app`` on a free port."""

    def __init__(self, app):
        import logging

        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


def server_side(app, path: str, repeat: int) -> dict:
    """Server time (median, and the first request), HTML size raw and gzipped."""
    client = app.test_client()
    t0 = time.perf_counter()
    r = client.get(path)
    first = time.perf_counter() - t0
    if r.status_code >= 500:
        raise SystemExit(f"{path}：HTTP {r.status_code}")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t0)
    html = r.data
    geometry = {}
    # the geometry the page asks for at its first zoom (timed cold in a fresh app cache)
    text = html.decode("utf-8", "replace")
    for kind in ("villages", "townships"):
        marker = f'/api/layers/{kind}/geometry'
        if marker in text:
            geometry[kind] = True
    return {"status": r.status_code, "first": first, "server": statistics.median(times),
            "html": len(html), "html_gz": len(gzip.compress(html, 6)),
            "bulk": sorted(geometry)}


def geometry_cold(app, kinds: list[str], zoom: int = 8) -> dict:
    """The first (uncached) and a cached whole-layer geometry request per kind."""
    out = {}
    client = app.test_client()
    for kind in kinds:
        url = f"/api/layers/{kind}/geometry?zoom={zoom}&props=name,code&pinyin=1"
        t0 = time.perf_counter()
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        client.get(url, headers={"Accept-Encoding": "gzip"})
        warm = time.perf_counter() - t0
        raw = client.get(url)
        out[kind] = {"cold": cold, "warm": warm, "gz": len(r.data), "raw": len(raw.data)}
    return out


def encoding_ratio(path: Path, kinds: list[str], zoom: int = 8, repeat: int = 3) -> dict:
    """The geometry endpoint's encoding step (simplify, round to the grid, encode every
    feature) per kind: before (``_parts_reference``: every feature snap-rounded by GEOS,
    encoded one by one) and now (``_parts``: validity checked in bulk, encoded at once),
    best of ``repeat`` in this process, and whether the encoder gives the same strings."""
    import numpy as np
    import shapely

    from geoservice.web import geometry as g
    from layers import open_store

    store = open_store(path)
    out = {}
    for kind in kinds:
        geoms = np.asarray(store.read(kind).geometry.values)
        step = g.grid_step(zoom)
        origin = np.floor(shapely.total_bounds(geoms)[:2] / step) * step
        times = {}
        for name, fn in (("old", g._parts_reference), ("new", g._parts)):
            best = float("inf")
            for _ in range(max(1, repeat)):
                t0 = time.perf_counter()
                fn(geoms, zoom, origin, step)
                best = min(best, time.perf_counter() - t0)
            times[name] = best
        simple = shapely.simplify(geoms, g.pixel_degrees(zoom), preserve_topology=True)
        same = g.encode_many(simple, origin, step) == [
            g._encode_reference(x, origin, step, on_grid=True) for x in simple]
        out[kind] = {**times, "same": same}
    return out


READY = """
var gs = window.geoservice || {};
if (document.readyState !== 'complete') { return null; }
var t = performance.timing, load = t.loadEventEnd - t.navigationStart;
if (t.loadEventEnd <= 0) { return null; }
if (gs.bulkPending > 0) { return null; }
var drawn = {};
for (var k in (gs.bulk || {})) { drawn[k] = gs.bulk[k].drawn; }
return {load: load, ready: gs.readyAt || 0, drawn: drawn};
"""


def browser_side(driver, url: str) -> dict:
    """Load ``url`` in Chromium: time to interactive and bytes transferred."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get_log("performance")  # drop what came before
    driver.get(url)
    state = WebDriverWait(driver, 120, poll_frequency=0.05).until(
        lambda d: d.execute_script(READY))
    time.sleep(0.2)  # let the last network events reach the log (not part of any timing)
    transferred = 0
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.loadingFinished":
            transferred += int(msg["params"].get("encodedDataLength") or 0)
    return {"interactive": max(state["load"], state["ready"]) / 1000.0,
            "transferred": transferred, "drawn": state["drawn"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="每个页面计时的请求次数（取中位数）")
    parser.add_argument("--scales", default="county,province", help="county,province")
    parser.add_argument("--pages", default=",".join(PAGES), help="逗号分隔：" + ",".join(PAGES))
    parser.add_argument("--workdir", type=Path, default=None, help="工作空间目录（保留并复用）")
    parser.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    parser.add_argument("--no-browser", action="store_true", help="不用 Chromium 测载入")
    parser.add_argument("--no-baseline", action="store_true", help="不测旧做法")
    args = parser.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    tmp = None
    if args.workdir:
        folder = args.workdir
        folder.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="gs-bench-maps-")
        folder = Path(tmp.name)
    paths = {}
    needed = [s for s in scales if not (folder / f"{s}.gpkg").exists()]
    if needed:
        villages, facilities, _ = province(outlines=args.outlines)
        if "county" in needed:
            paths["county"] = build(folder, "county",
                                    villages[villages["county_code"] == COUNTY],
                                    facilities[facilities["county_code"] == COUNTY])
        if "province" in needed:
            paths["province"] = build(folder, "province", villages, facilities)
    for s in scales:
        paths[s] = folder / f"{s}.gpkg"

    print("基准：地图页面（同一进程；新做法对比旧做法 MAP_GEOMETRY_MIN_VERTICES=0）。"
          f"目标：每页传输 < {GOAL_BYTES / 1e6:g} MB，Chromium 中 < {GOAL_SECONDS:g} s 可交互")
    driver_ctx = None
    if not args.no_browser:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))
        from chromium import start_chromium

        driver_ctx = start_chromium()
        driver = driver_ctx.__enter__()
    variants = ["new"] if args.no_baseline else ["new", "baseline"]
    rows = []
    try:
        for scale in scales:
            for kind, e in encoding_ratio(paths[scale], ["villages", "townships"]).items():
                print(f"[{scale}] {kind} 几何编码（zoom=8，简化+取整+编码，同一进程）：旧 {e['old']:.2f} s，"
                      f"新 {e['new']:.2f} s，旧/新 {e['old'] / max(e['new'], 1e-9):.1f} 倍"
                      f"（编码结果{'相同' if e['same'] else '不同！'}）", flush=True)
            geo = geometry_cold(make_app(paths[scale], False), ["villages", "townships"])
            for kind, g in geo.items():
                print(f"[{scale}] /api/layers/{kind}/geometry?zoom=8（整层）：首次 {g['cold']:.2f} s，"
                      f"缓存后 {g['warm'] * 1000:.0f} ms，{g['raw'] / 1e6:.2f} MB，gzip {g['gz'] / 1e6:.2f} MB")
            for page in pages:
                row = {"scale": scale, "page": page}
                for v in variants:
                    # a fresh app per page: the first load in Chromium finds every cache cold
                    app = make_app(paths[scale], v == "baseline")
                    srv = {}
                    if driver_ctx is not None:
                        with Live(app) as live:
                            cold = browser_side(driver, live.url + PAGES[page])
                            warm = [browser_side(driver, live.url + PAGES[page])
                                    for _ in range(max(1, args.repeat))]
                        srv.update(sorted(warm, key=lambda w: w["interactive"])[len(warm) // 2])
                        srv["cold"] = cold["interactive"]
                        # bytes of the first visit (later ones find the geometry of a
                        # version in the browser cache: Cache-Control of /geometry?version=)
                        srv["transferred"] = cold["transferred"]
                        srv["transferred_warm"] = sorted(
                            warm, key=lambda w: w["interactive"])[len(warm) // 2]["transferred"]
                    srv.update(server_side(app, PAGES[page], args.repeat))
                    row[v] = srv
                rows.append(row)
                _print(row, variants)
    finally:
        if driver_ctx is not None:
            driver_ctx.__exit__(None, None, None)
        if tmp is not None:
            tmp.cleanup()
    ok = all(r["new"].get("transferred", r["new"]["html"]) < GOAL_BYTES
             and r["new"].get("interactive", 0) < GOAL_SECONDS for r in rows)
    print("全部达到目标" if ok else "有页面未达到目标")


def _fmt(d: dict) -> str:
    s = (f"服务端 {d['server']:6.2f} s（首次 {d['first']:5.2f} s）| HTML {d['html'] / 1e6:6.2f} MB"
         f"（gzip {d['html_gz'] / 1e6:5.2f} MB）")
    if "interactive" in d:
        drawn = "，".join(f"{k} {n:,}" for k, n in d["drawn"].items())
        s += (f" | Chromium 首次访问传输 {d['transferred'] / 1e6:6.2f} MB（再次 "
              f"{d['transferred_warm'] / 1e6:5.2f} MB），可交互 {d['interactive']:6.2f} s"
              f"（首次访问、缓存全空 {d['cold']:5.2f} s）"
              + (f"（绘出 {drawn}）" if drawn else ""))
    return s


def _print(row: dict, variants: list[str]) -> None:
    print(f"[{row['scale']}] {row['page']}")
    for v in variants:
        print(f"    {'新做法' if v == 'new' else '旧做法'} {_fmt(row[v])}")
    if "baseline" in row:
        n, b = row["new"], row["baseline"]
        parts = [f"服务端 {b['server'] / max(n['server'], 1e-9):5.1f} 倍",
                 f"HTML {b['html'] / max(n['html'], 1):5.1f} 倍"]
        if "interactive" in n:
            parts += [f"传输 {b['transferred'] / max(n['transferred'], 1):5.1f} 倍",
                      f"可交互 {b['interactive'] / max(n['interactive'], 1e-9):5.1f} 倍"]
        print(f"    旧/新：{'，'.join(parts)}", flush=True)


if __name__ == "__main__":
    main()
