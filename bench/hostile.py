"""Benchmark: how fast hostile archives are refused, against reading the archive's directory.

    python -m bench.hostile [--repeat 7] [--gib 1]

A zipped Shapefile whose .dbf is ``--gib`` GiB of zeros (about 1 MB per GiB on disk: a zip
bomb) is given to the reader (``layers.read_layer``) and refused. The named baseline, run in
the same process, alternating, is ``zipfile.ZipFile(path).infolist()``: listing the archive's
directory, the least any check of an archive has to do. The ratio says how close the refusal
is to that floor (before issue 11 the reader inflated the archive: 13-21 s and 2.4-2.8 GB per
GiB). The tests check that nothing is extracted; time is measured only here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_bomb(folder: Path, gib: int) -> Path:
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame({"名称": ["站"]}, geometry=[Point(103.8, 29.8)], crs=4490)
    pyogrio.write_dataframe(gdf, folder / "small.shp", encoding="UTF-8")
    path = folder / "bomb.zip"
    chunk = bytes(1 << 24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(folder / "small.shp", "layer.shp")
        zf.write(folder / "small.shx", "layer.shx")
        with zf.open("layer.dbf", "w", force_zip64=True) as fh:
            for _ in range(gib * (1 << 30) // len(chunk)):
                fh.write(chunk)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="压缩炸弹的拒绝速度（与只读压缩包目录相比）")
    ap.add_argument("--repeat", type=int, default=7, help="重复次数（取中位数）")
    ap.add_argument("--gib", type=int, default=1, help="压缩炸弹解压后的大小（GiB）")
    args = ap.parse_args(argv)

    from layers import ValidationError, read_layer

    with tempfile.TemporaryDirectory() as tmp:
        path = make_bomb(Path(tmp), args.gib)
        refuse, listing = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            zipfile.ZipFile(path).infolist()
            listing.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            try:
                read_layer(path, "welfare_homes")
            except ValidationError as exc:
                message = exc.problems[0].message
            else:
                print("错误：压缩炸弹没有被拒绝", file=sys.stderr)
                return 1
            refuse.append(time.perf_counter() - t0)
        r, b = statistics.median(refuse), statistics.median(listing)
        print(f"压缩炸弹 {path.stat().st_size / 1e6:.2f} MB → 解压后 {args.gib} GiB：{message}")
        print(f"拒绝（read_layer）     中位数 {r * 1000:8.2f} ms")
        print(f"基线（只读压缩包目录） 中位数 {b * 1000:8.2f} ms")
        print(f"比值 拒绝/基线 = {r / b:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
