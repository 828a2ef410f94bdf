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

The other analysis APIs (issue 19: results serialised column-wise, ``fields=`` and paging):
``GET /api/siting/jobs/<id>`` (a finished job's result), ``GET /api/boundaries?layer=villages``
and ``GET /api/placenames`` on the same two workspaces (with synthetic place labels: one per
village, 3 % dropped, 3 % misspelt, 2 % moved 3 km). Each analysis runs once per workspace
(timed and printed) and its result is kept (the view's ``run_*`` patched to return it), so
what is timed is the answer: parameters, ``to_dict``, JSON encoding, Flask. Three paths,
alternated in one run, medians of ``--repeat``: the named baseline ``old`` (a route added
by this bench: Flask's ``jsonify`` of the result's ``to_dict`` as it was before, row by row
for the boundary review), ``full`` (the endpoint without parameters: the same content, by
orjson) and ``page`` (the endpoint with ``fields=`` and ``limit``). Printed: milliseconds,
megabytes, and the ratios full/old and page/old. ``--no-coverage`` skips the first part.
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


# --- the other analysis APIs -----------------------------------------------------------

SITING = {"layer": "elderly_service_points", "radius": "5000", "add": "3"}
PAGES = {  # the endpoint asked for less: some fields of the main list, one page of it
    "siting": "fields=code,covered_after,new_site_rank&limit=1000",
    "boundaries": "fields=type,codes,message&limit=100",
    "placenames": "fields=type,code,label_name,suggestion&limit=1000",
}


def labels_for(villages, seed: int = 19):
    """One label per village at a point inside it, named as the village; 3 % dropped,
    3 % misspelt, 2 % moved 3 km north-east (fixed seed)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    n = len(villages)
    keep = rng.random(n) >= 0.03
    pts = shapely.point_on_surface(villages.geometry.to_numpy())
    xy = shapely.get_coordinates(pts)
    moved = rng.random(n) < 0.02
    xy[moved] += 0.03  # about 3 km at Hubei's latitude
    names = villages["name"].astype(str).to_numpy().copy()
    wrong = rng.random(n) < 0.03
    names[wrong] = ["林" + x[1:] for x in names[wrong]]
    return gpd.GeoDataFrame({"name": names[keep], "source": "amap"},
                            geometry=shapely.points(xy[keep]), crs="EPSG:4490")


def old_boundaries_dict(result) -> dict:
    """``BoundaryResult.to_dict`` before the column-wise conversion, verbatim (row by row)."""
    import numpy as np
    import pandas as pd

    from geoservice.analysis.boundaries.checks import FINDING_COLUMNS
    from geoservice.analysis.jsonsafe import jsonable

    findings = []
    for row in pd.DataFrame(result.findings.drop(columns="geometry")).to_dict("records"):
        findings.append({k: jsonable(row[k]) for k in FINDING_COLUMNS})
    lines = []
    for row in pd.DataFrame(result.boundary_lines.drop(columns="geometry")).to_dict(
            "records"):
        lines.append({
            "kind": row["kind"],
            "codes": [c for c in (row["code_a"], row["code_b"])
                      if c is not None and not (isinstance(c, float) and np.isnan(c))],
            "names": [jsonable(row["name_a"]), jsonable(row["name_b"])],
            "length_m": jsonable(row["length_m"]),
            "length_km": jsonable(row["length_km"]),
        })
    summary = {**result.summary.get("counts", {}), **result.summary}
    return {"summary": summary, "findings": findings, "boundary_lines": lines,
            "groups": result.groups()}


def analysis_app(path: Path):
    """The app on ``path`` with each analysis run once and kept, the old JSON path added
    as ``/bench/old/<analysis>`` routes, and a finished siting job; (app, paths)."""
    import json

    from flask import jsonify, url_for

    import geoservice.web.boundaries as web_boundaries
    import geoservice.web.placenames as web_placenames
    from geoservice import create_app
    from geoservice.services.boundaries import run_boundaries
    from geoservice.services.placenames import run_placenames
    from geoservice.services.siting import params_from_mapping, run_siting
    from layers import open_store

    store = open_store(path)
    kept = {}
    for name, run in (("siting", lambda: run_siting(store, params_from_mapping(SITING))),
                      ("boundaries", lambda: run_boundaries(
                          store, web_boundaries.boundary_params("villages"))),
                      ("placenames", lambda: run_placenames(store))):
        t = time.perf_counter()
        kept[name] = run()
        kept[name + "_s"] = time.perf_counter() - t
    web_boundaries.run_boundaries = lambda *a, **k: kept["boundaries"]
    web_placenames.run_placenames = lambda *a, **k: kept["placenames"]

    app = create_app({"WORKSPACE": str(path), "ANONYMOUS_READ": 1, "ACCESS_LOG": 0})
    runner = app.extensions["siting_jobs"]
    job = runner.submit(lambda progress, cancel: kept["siting"], params=SITING,
                        label="bench", owner="bench")
    if not runner.get(job.id).wait(60):
        raise SystemExit("选址任务未完成")

    def old_job(job_id):  # the job view as it was: jsonify of the result's to_dict
        found = runner.get(job_id)
        body = found.to_dict()
        body["status_url"] = url_for("siting.api_job", job_id=found.id)
        body["page_url"] = url_for("siting.page", job=found.id)
        body["result"] = found.result.to_dict()
        body["report_xlsx"] = url_for("siting.report_xlsx", job=found.id)
        body["report_csv"] = url_for("siting.report_csv", job=found.id)
        return jsonify(body)

    app.add_url_rule("/bench/old/siting/<job_id>", "old_siting", old_job)
    app.add_url_rule("/bench/old/boundaries", "old_boundaries",
                     lambda: jsonify(old_boundaries_dict(kept["boundaries"])))
    app.add_url_rule("/bench/old/placenames", "old_placenames",
                     lambda: jsonify(kept["placenames"].to_dict()))
    new = {"siting": f"/api/siting/jobs/{job.id}", "boundaries": "/api/boundaries?layer=villages",
           "placenames": "/api/placenames"}
    old = {"siting": f"/bench/old/siting/{job.id}", "boundaries": "/bench/old/boundaries",
           "placenames": "/bench/old/placenames"}
    paths = {a: {"old": old[a], "full": new[a],
                 "page": new[a] + ("&" if "?" in new[a] else "?") + PAGES[a]} for a in new}
    client = app.test_client()
    for a, p in paths.items():  # the same content by both paths, before any time
        o, f = (json.loads(client.get(p[k]).data) for k in ("old", "full"))
        if a == "siting":  # the job's own fields (elapsed_s ...) aside: its result
            o, f = o["result"], f["result"]
        if o != f:
            raise SystemExit(f"{a}：新旧 JSON 内容不同（{first_difference(o, f)}）")
    return app, paths, kept


def first_difference(a, b, where: str = "") -> str:
    """Where two parsed JSON values first differ, and the two values there."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for k in a:
            if a[k] != b[k]:
                return first_difference(a[k], b[k], f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{where}[{i}]")
    return f"{where or '根'}：{str(a)[:120]} ≠ {str(b)[:120]}"


def measure_analyses(name: str, path: Path, repeat: int) -> None:
    app, paths, kept = analysis_app(path)
    client = app.test_client()
    for p in paths.values():
        for k in p.values():
            timed(client, k)  # warm-up
    for a, p in paths.items():
        times: dict[str, list[float]] = {k: [] for k in p}
        sizes = {}
        for _ in range(repeat):
            for k, url in p.items():
                t, sizes[k] = timed(client, url)
                times[k].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows = {"siting": len(kept["siting"].result.villages),
                "boundaries": len(kept["boundaries"].findings),
                "placenames": len(kept["placenames"].findings)}[a]
        print(f"{name:<4} {a:<10}（分析 {kept[a + '_s']:6.2f} s，主列表 {rows:>6} 行）"
              f"| old {med['old'] * 1000:7.1f} ms {sizes['old'] / 1e6:6.2f} MB "
              f"| full {med['full'] * 1000:7.1f} ms {sizes['full'] / 1e6:6.2f} MB "
              f"| page {med['page'] * 1000:7.1f} ms {sizes['page'] / 1e6:6.2f} MB "
              f"| 时间比 full/old {med['full'] / med['old']:5.2f}、page/old "
              f"{med['page'] / med['old']:5.2f}；字节比 page/old "
              f"{sizes['page'] / sizes['old']:5.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="每个路径计时的请求数，默认 15")
    parser.add_argument("--outlines", type=Path, default=None, help="湖北县界 GeoJSON")
    parser.add_argument("--no-coverage", action="store_true",
                        help="不测 /api/coverage，只测其他分析接口")
    args = parser.parse_args()
    villages, facilities, _ = province(outlines=args.outlines)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        county = (villages["county_code"] == "420323", facilities["county_code"] == "420323")
        paths = [("县级", workspace(folder, "county", villages.loc[county[0]],
                                    facilities.loc[county[1]])),
                 ("省级", workspace(folder, "province", villages, facilities))]
        if not args.no_coverage:
            print(f"基准：{COVERAGE} 对比 {LAYERS}（同一进程、同一应用，中位数，{args.repeat} 次）")
            (c_lay, c_cov), (_, p_cov) = [measure(name, p, args.repeat) for name, p in paths]
            print(f"目标：县级 /api/coverage ÷ {LAYERS} ≤ 3（本次 {c_cov / c_lay:.1f}），"
                  f"省级 /api/coverage < 500 ms（本次 {p_cov * 1000:.0f} ms）")
        print(f"\n其他分析接口：基准 old = 原来的 jsonify（界线审查为逐行 to_dict），full = 不带参数，"
              f"page = 带 fields 与 limit（同一进程交替请求，中位数，{args.repeat} 次）")
        for name, p in paths:
            from layers import open_store

            store = open_store(p)
            store.write("place_labels", labels_for(store.read("villages")), source="bench",
                        source_crs="EPSG:4490")
            measure_analyses(name, p, args.repeat)


if __name__ == "__main__":
    main()
