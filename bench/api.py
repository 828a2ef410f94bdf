"""Benchmark: ``GET /api/coverage`` against ``GET /api/layers`` in the same run, through the app.

    python -m bench.api [--repeat 15] [--outlines PATH]

Data: the generated Hubei villages and facilities of bench/synthetic.py, written to two
temporary GeoPackage workspaces: one county (竹山县 420323) and the province (27,000
villages, 10,000 elderly-service points, townships dissolved from the villages). One app
per workspace (``create_app``, its store opened once), Flask's test client, one warm-up
request per path, then the median of ``--repeat`` requests of each path, alternated.
Printed: milliseconds per request, response size, and the ratios of ``/api/coverage`` to
``/api/layers/villages`` (one page of features: the layer read and serialised) and to the
``/api/layers`` index (metadata only, a few SQLite queries). Goals (issue 19): county
``/api/coverage`` at most 3x ``/api/layers/villages``, province ``/api/coverage`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import province  # noqa: E402

COVERAGE = "/api/coverage?layer=elderly_service_points&radius=5000"
LAYERS = "/api/layers/villages"  # the first page (API_PAGE_DEFAULT features) of a layer
INDEX = "/api/layers"  # the index: metadata only


def workspace(folder: Path, name: str, villages, facilities) -> Path:
    """A GeoPackage workspace with the villages, their townships and the facilities."""
    from layers import open_store

    path = folder / f"{name}.gpkg"
    store = open_store(path)
    v = villages.drop(columns=["county_code"])
    t = villages[["township_code", "geometry"]].dissolve(by="township_code").reset_index()
    t = t.rename(columns={"township_code": "code"})
    t["name"] = "乡镇" + t["code"].str[-3:]
    f = facilities.drop(columns=["county_code"])
    for kind, gdf in (("villages", v), ("townships", t), ("elderly_service_points", f)):
        store.write(kind, gdf.reset_index(drop=True), source="bench", source_crs="EPSG:4490")
    store.set_info(title=name)
    return path


def timed(client, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = client.get(path)
    elapsed = time.perf_counter() - t
    if r.status_code != 200:
        raise SystemExit(f"{path}：HTTP {r.status_code} {r.get_data(as_text=True)[:200]}")
    return elapsed, len(r.data)


def measure(name: str, path: Path, repeat: int) -> tuple[float, float]:
    from geoservice import create_app

    app = create_app({"WORKSPACE": str(path), "ANONYMOUS_READ": 1, "ACCESS_LOG": 0})
    client = app.test_client()
    cold, _ = timed(client, COVERAGE)  # first request: layers read from the file
    timed(client, LAYERS)
    timed(client, INDEX)
    times: dict[str, list[float]] = {COVERAGE: [], LAYERS: [], INDEX: []}
    sizes = {}
    for _ in range(repeat):
        for p in (INDEX, LAYERS, COVERAGE):
            t, sizes[p] = timed(client, p)
            times[p].append(t)
    idx, lay, cov = (statistics.median(times[p]) for p in (INDEX, LAYERS, COVERAGE))
    print(f"{name:<4} {LAYERS} {lay * 1000:7.1f} ms（{sizes[LAYERS] / 1e6:5.2f} MB）| "
          f"/api/coverage {cov * 1000:7.1f} ms（{sizes[COVERAGE] / 1e6:5.2f} MB；首次 "
          f"{cold * 1000:6.1f} ms）| 比值 {cov / lay:5.1f} | {INDEX} {idx * 1000:5.1f} ms，"
          f"比值 {cov / idx:5.1f}")
    return lay, cov


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="每个路径计时的请求数，默认 15")
    parser.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    args = parser.parse_args()
    villages, facilities, _ = province(outlines=args.outlines)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        county = (villages["county_code"] == "420323", facilities["county_code"] == "420323")
        paths = [("县级", workspace(folder, "county", villages.loc[county[0]],
                                    facilities.loc[county[1]])),
                 ("省级", workspace(folder, "province", villages, facilities))]
        print(f"基准：{COVERAGE} 对比 {LAYERS}（同一进程、同一应用，中位数，{args.repeat} 次）")
        (c_lay, c_cov), (_, p_cov) = [measure(name, p, args.repeat) for name, p in paths]
        print(f"目标：县级 /api/coverage ÷ {LAYERS} ≤ 3（本次 {c_cov / c_lay:.1f}），"
              f"省级 /api/coverage < 500 ms（本次 {p_cov * 1000:.0f} ms）")


if __name__ == "__main__":
    main()
