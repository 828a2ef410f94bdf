"""Benchmark of the place-name check on the national roster (620,573 villages).

    python -m bench.placenames [--roster PATH] [--limit N] [--sizes 10000,100000,0]

The roster (NBS 2023 division codes, ../shared/data/gazetteer/villages.csv.gz) has no
geometry, so every village gets a synthetic one: each township is a square block of
1 km x 1 km cells (side = ceil(sqrt(villages in it))), blocks are laid out row by row in
a CGCS2000 Gauss-Kruger plane (EPSG:4545, central meridian 108E), and a village is its
cell, centre at the cell's middle. The label set has the same size: one label per village
near its centre, written as the roster's committee name (so suffixes are stripped), with
1 % of labels given a wrong character, 1 % moved 3 km away and 1 % dropped (fixed seed).

It prints the time and the peak memory (resident set size of the process, which holds the
synthetic roster and labels too) of the check at 10k, 100k and all villages (near-linear
growth), and a same-process baseline: naive ``rapidfuzz.process.extractOne`` of each label
over all roster names (the all-pairs approach this check avoids), timed on a sample and
extrapolated. Target (issue 12): the national check in under 60 s and 2 GB on 2 cores.

Labels are judged by their name first: a label whose wrong character happens to make the
name of another village of the same county is that village's label (a duplicate or a
misplaced label), not a wrong name of its own.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rapidfuzz import fuzz, process

from geoservice.analysis.placenames import check_placenames, standard_name

DEFAULT_ROSTER = Path(__file__).resolve().parents[2] / "shared" / "data" / "gazetteer" / \
    "villages.csv.gz"
GK = "EPSG:4545"
CELL = 1000.0
POOL = list("东南西北上下大小新老前后中高长金石山河湖塘坪沟岭坡田花桥")


def load_roster(path: Path, limit: int | None) -> pd.DataFrame:
    if not path.exists():
        sys.exit(f"找不到全国名册 {path}：请用 --roster 指定 villages.csv.gz 的位置")
    v = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["code", "name",
                                                                     "streetCode"])
    v = v.sort_values("code").reset_index(drop=True)
    return v.head(limit) if limit else v


def synthetic(v: pd.DataFrame, seed: int = 6):
    """Villages (square cells per township block) and labels, stored CRS."""
    rng = np.random.default_rng(seed)
    n = len(v)
    town = v["streetCode"].to_numpy()
    starts = np.r_[0, np.flatnonzero(town[1:] != town[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    side = np.ceil(np.sqrt(sizes)).astype(int)
    per_row = int(math.ceil(math.sqrt(n) * 1.2))  # cells per national row
    bx = np.zeros(len(sizes), int)
    by = np.zeros(len(sizes), int)
    x = y = row_h = 0
    for i, s in enumerate(side):  # pack blocks row by row
        if x + s > per_row:
            x, y, row_h = 0, y + row_h, 0
        bx[i], by[i] = x, y
        x += s
        row_h = max(row_h, s)
    block = np.repeat(np.arange(len(sizes)), sizes)
    k = np.arange(n) - starts[block]
    cx = (bx[block] + k % side[block] + 0.5) * CELL + 200_000
    cy = (by[block] + k // side[block] + 0.5) * CELL + 2_500_000
    tr = Transformer.from_crs(GK, "EPSG:4490", always_xy=True)
    boxes = shapely.box(cx - CELL / 2, cy - CELL / 2, cx + CELL / 2, cy + CELL / 2)
    boxes = shapely.transform(boxes, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    clon, clat = tr.transform(cx, cy)
    villages = gpd.GeoDataFrame({"code": v["code"].to_numpy(), "name": v["name"].to_numpy(),
                                 "township_code": town, "center_lon": clon, "center_lat": clat},
                                geometry=boxes, crs="EPSG:4490")
    names = v["name"].to_numpy().copy()
    u = rng.random(n)
    wrong = u < 0.01
    moved = (u >= 0.01) & (u < 0.02)
    dropped = (u >= 0.02) & (u < 0.03)
    for i in np.flatnonzero(wrong):
        s = standard_name(names[i])
        if len(s) >= 3:
            p = int(rng.integers(0, len(s) - 1))
            names[i] = s[:p] + str(rng.choice(POOL)) + s[p + 1:]
    lx = cx + rng.uniform(-150, 150, n)
    ly = cy + rng.uniform(-150, 150, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    lx[moved] += 3000 * np.cos(ang[moved])
    ly[moved] += 3000 * np.sin(ang[moved])
    keep = ~dropped
    llon, llat = tr.transform(lx[keep], ly[keep])
    labels = gpd.GeoDataFrame({"name": names[keep]}, geometry=shapely.points(llon, llat),
                              crs="EPSG:4490")
    return villages, labels


def _rss() -> int:
    """Resident set size of this process in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        return 0


class PeakMemory:
    """The peak resident set size while the block runs (sampled every 10 ms), and the
    process's peak so far (``ru_maxrss``) as a floor."""

    def __enter__(self):
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(sizes: list[int], roster: Path, limit: int | None, sample: int) -> None:
    t0 = time.perf_counter()
    v = load_roster(roster, limit)
    villages, labels = synthetic(v)
    print(f"名册 {len(v):,} 个村(社区)，标注 {len(labels):,} 个；合成几何 "
          f"{time.perf_counter() - t0:.1f} 秒")
    labels_code = labels.copy()
    print(f"{'村数':>10} {'标注数':>10} {'耗时(秒)':>10} {'每千村(毫秒)':>14} "
          f"{'峰值内存(GB)':>12}  发现")
    last = None
    for size in sizes:
        size = len(v) if size <= 0 or size > len(v) else size
        vs = villages.iloc[:size]
        # labels of those villages: labels lie in the same blocks, take by position
        ls = labels_code.iloc[: int(size * len(labels) / len(v))]
        with PeakMemory() as mem:
            t = time.perf_counter()
            r = check_placenames(vs, ls)
            dt_ = time.perf_counter() - t
        c = r.summary["counts"]
        print(f"{size:>10,} {len(ls):>10,} {dt_:>10.1f} {dt_ / size * 1e6:>14.1f} "
              f"{mem.peak / 1e9:>12.2f}  "
              f"缺失 {c['missing']:,}，错名 {c['wrong_name']:,}，位置偏差 {c['misplaced']:,}，"
              f"重复 {c['duplicate_label']:,}，无对应 {c['unknown_label']:,}")
        last = (size, len(ls), dt_, mem)
        del r
    size, nl, dt_, mem = last
    print(f"全部 {size:,} 个村：{dt_:.1f} 秒，核查期间峰值内存 {mem.peak / 1e9:.2f} GB"
          f"（进程峰值 {mem.process_peak / 1e9:.2f} GB，含合成数据）；目标 60 秒、2 GB 以内")
    names = [standard_name(n) for n in villages["name"].iloc[:size]]
    probe = [standard_name(n) for n in labels_code["name"].iloc[:sample]]
    t = time.perf_counter()
    for q in probe:
        process.extractOne(q, names, scorer=fuzz.ratio)
    per = (time.perf_counter() - t) / len(probe)
    naive = per * nl
    print(f"基线（全量两两模糊匹配 rapidfuzz.process.extractOne，{len(probe)} 个标注实测，外推）："
          f"{naive:,.0f} 秒，是本方法的 {naive / dt_:,.0f} 倍")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="地名核查基准：全国名册 + 同规模标注")
    ap.add_argument("--roster", type=Path, default=DEFAULT_ROSTER, help="villages.csv.gz 路径")
    ap.add_argument("--limit", type=int, default=None, help="只用名册前 N 个村")
    ap.add_argument("--sizes", default="10000,100000,0",
                    help="逗号分隔的规模，0 表示全部（默认 10000,100000,0）")
    ap.add_argument("--sample", type=int, default=100, help="基线实测的标注数")
    a = ap.parse_args(argv)
    run([int(s) for s in a.sizes.split(",")], a.roster, a.limit, a.sample)


if __name__ == "__main__":
    main()
