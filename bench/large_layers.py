"""Benchmark: large layers, from import to the home page (not a timed test).

    python -m bench.large_layers [--quick] [--sizes 10000,100000,500000] [--inline-max N]

Data: a copy of the demo county workspace (layers/demo/qingshen.gpkg) and N generated
place labels (points spread over the county, fixed seed) in a GeoPackage source file.
For each N (default 10k, 100k, 500k; ``--quick``: 10k and 100k):

* import: ``layers.import_file`` (read, validate, store a new version) against the
  baseline of a plain ``pyogrio`` read + write of the same file (same process);
* home page: ``GET /`` of the app (time and size; the large layer is loaded by view)
  against the baseline of the old inline rendering of the same layers, every layer put
  into the page whole as ``folium.GeoJson`` (``overview_map`` without ``by_view``),
  rendered the same way; the baseline is measured up to ``--inline-max`` features (it
  takes minutes and gigabytes beyond that: 187 s and 133 MB at 500k before the change);
* one view: ``GET /api/layers/place_labels?bbox=…&limit=…`` for a zoom-14 view, what the
  map asks for when zoomed in (the limit the app's map uses).

At the end: how each time grows from the smallest to the largest N.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geoservice import create_app  # noqa: E402
from geoservice.config import DEMO_WORKSPACE  # noqa: E402
from layers import import_file, open_store  # noqa: E402
from maps import map_parts, overview_map  # noqa: E402
from maps.base import MapSettings  # noqa: E402

KIND = "place_labels"
COUNTY = (103.71, 29.73, 103.95, 29.89)  # the demo county's extent, degrees
VIEW = (103.80, 29.79, 103.92, 29.83)  # about one zoom-14 view on a 1400 x 900 window


def labels(n: int, seed: int = 42) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(COUNTY[0], COUNTY[2], n)
    y = rng.uniform(COUNTY[1], COUNTY[3], n)
    return gpd.GeoDataFrame({"name": [f"标注{i}" for i in range(n)], "source": "amap",
                             "crs": "cgcs2000"}, geometry=shapely.points(x, y), crs=4490)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(n: int, tmp: Path, inline_max: int) -> dict:
    src = tmp / f"labels_{n}.gpkg"
    pyogrio.write_dataframe(labels(n), src, layer="labels", driver="GPKG")
    ws = tmp / f"ws_{n}.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, ws)
    store = open_store(ws)

    t_import, _ = timed(lambda: import_file(store, KIND, src, filename=src.name))
    plain = tmp / f"plain_{n}.gpkg"

    def baseline_import():
        gdf = pyogrio.read_dataframe(src)
        pyogrio.write_dataframe(gdf, plain, layer="labels", driver="GPKG")

    t_plain, _ = timed(baseline_import)

    app = create_app({"WORKSPACE": str(ws)})
    limit = min(app.config["API_PAGE_MAX"], app.config["MAP_INLINE_MAX_FEATURES"])
    client = app.test_client()
    client.get("/")  # first request: templates and imports warmed up
    t_page, r = timed(lambda: client.get("/"))
    assert r.status_code == 200, r.status_code
    page_bytes = len(r.data)
    bbox = ",".join(f"{v:g}" for v in VIEW)
    t_view, rv = timed(lambda: client.get(f"/api/layers/{KIND}?bbox={bbox}&limit={limit}"))
    view = rv.get_json()

    t_inline = inline_bytes = None
    if n <= inline_max:
        def inline():
            layers = {k: store.read(k) for k in store.current_versions()}
            m = overview_map(layers, title="基准", settings=MapSettings())
            parts = map_parts(m)
            return len(parts.header) + len(parts.html) + len(parts.script)

        t_inline, inline_bytes = timed(inline)
    row = {"n": n, "import": t_import, "plain": t_plain, "page": t_page, "bytes": page_bytes,
           "inline": t_inline, "inline_bytes": inline_bytes, "view": t_view,
           "view_bytes": len(rv.data), "matched": view["numberMatched"],
           "returned": view["numberReturned"]}
    inline_text = ("未测（超过 --inline-max）" if t_inline is None else
                   f"{t_inline:7.2f} s {inline_bytes / 1e6:6.1f} MB，快 {t_inline / t_page:6.1f} 倍，"
                   f"小 {inline_bytes / page_bytes:6.1f} 倍")
    print(f"{n:>7,} 个 | 导入 {t_import:6.2f} s，对 pyogrio 读写 {t_plain:5.2f} s"
          f"（{t_import / t_plain:4.1f} 倍）| 首页 {t_page:5.2f} s {page_bytes / 1e6:5.2f} MB，"
          f"对整层内嵌 {inline_text} | 一个视野 {t_view:5.2f} s {len(rv.data) / 1e6:5.2f} MB"
          f"（{view['numberReturned']:,}/{view['numberMatched']:,} 个）", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="只测 1 万和 10 万个要素")
    parser.add_argument("--sizes", default=None, help="要素数，逗号分隔（默认 10000,100000,500000）")
    parser.add_argument("--inline-max", type=int, default=100_000,
                        help="整层内嵌基准只测到这个要素数（默认 100000；50 万约需数分钟）")
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 500_000]
    print("基准：大图层的导入和首页（同一进程）。导入对比 pyogrio 直接读写同一文件；"
          "首页对比整层内嵌（folium.GeoJson，旧做法）")
    rows = []
    with tempfile.TemporaryDirectory(prefix="gs-bench-") as tmp:
        for n in sizes:
            rows.append(measure(n, Path(tmp), args.inline_max))
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        k = b["n"] / a["n"]
        print(f"从 {a['n']:,} 到 {b['n']:,} 个（{k:g} 倍）：导入时间 {b['import'] / a['import']:.1f} 倍，"
              f"首页时间 {b['page'] / a['page']:.1f} 倍、大小 {b['bytes'] / a['bytes']:.2f} 倍，"
              f"一个视野 {b['view'] / a['view']:.1f} 倍")
        if a["inline"] and b["inline"]:
            print(f"整层内嵌（旧做法）：时间 {b['inline'] / a['inline']:.1f} 倍，"
                  f"大小 {b['inline_bytes'] / a['inline_bytes']:.1f} 倍")


if __name__ == "__main__":
    main()
