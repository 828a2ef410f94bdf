"""Benchmark: importing village polygons through the real CLI, against a plain pyogrio
read + write of the same file, whole process each.

    python -m bench.imports [--repeat 5] [--province 27000] [--county 1500] [--outlines PATH]

Data: Voronoi villages clipped to the real Hubei county outlines (bench/synthetic.py), at
county scale (``--county`` villages) and province scale (``--province`` villages), each
written as a GeoPackage and as GeoJSON.

Measured, in the same run, alternating, medians of ``--repeat`` runs:
- ``python -m geoservice --workspace <fresh file> import villages FILE --json``: the CLI
  path users wait on (start-up, workspace creation, read, validation, store write);
- ``python -c "read_dataframe(FILE); write_dataframe(..., out.gpkg)"``: a plain pyogrio
  read and write of the same file, no validation.
The ratio CLI / plain is the goal of issue 19 (at most 1.3× at province scale).

``--bytecode-cache``: let both processes keep compiled bytecode (in a temporary folder,
after one warm-up run), as an installed package has it; without it the environment's
``PYTHONDONTWRITEBYTECODE`` (if set) makes every run compile the project's modules again
(about 30 ms of the CLI's start-up; site-packages are compiled either way).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN = ("import sys, pyogrio\n"
         "g = pyogrio.read_dataframe(sys.argv[1])\n"
         "pyogrio.write_dataframe(g, sys.argv[2])\n")


PYCACHE: Path | None = None  # a bytecode folder for the runs (--bytecode-cache)


def _run(args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"失败：{' '.join(args)}\n{done.stderr[-2000:]}")
    return took


def measure(path: Path, work: Path, repeat: int) -> tuple[float, float]:
    """Medians (CLI import, plain read + write) of ``repeat`` alternating runs."""
    cli, plain = [], []
    for i in range(repeat):
        ws = work / f"ws-{path.stem}-{path.suffix[1:]}-{i}.gpkg"
        out = work / f"plain-{path.stem}-{path.suffix[1:]}-{i}.gpkg"
        cli.append(_run([sys.executable, "-m", "geoservice", "--workspace", str(ws),
                         "import", "villages", str(path), "--json"]))
        plain.append(_run([sys.executable, "-c", PLAIN, str(path), str(out)]))
    return statistics.median(cli), statistics.median(plain)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--province", type=int, default=27_000)
    ap.add_argument("--county", type=int, default=1_500)
    ap.add_argument("--outlines", type=Path, default=None)
    ap.add_argument("--formats", default="gpkg,geojson")
    ap.add_argument("--bytecode-cache", action="store_true",
                    help="keep compiled bytecode between runs, as an installed package does")
    args = ap.parse_args(argv)
    global PYCACHE

    import pyogrio

    from bench.synthetic import province

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = []
        for scale, n in (("county", args.county), ("province", args.province)):
            villages, _, _ = province(n, 10, outlines=args.outlines)
            for fmt in args.formats.split(","):
                path = work / f"{scale}.{fmt}"
                pyogrio.write_dataframe(villages, path, layer="villages" if fmt == "gpkg" else None)
                files.append((scale, len(villages), path))
        if args.bytecode_cache:
            PYCACHE = work / "pycache"
            (work / "warm-up").mkdir()
            measure(files[0][2], work / "warm-up", 1)  # compiles every module once
        print(f"{'规模':<10}{'格式':<9}{'要素':>7}{'CLI 导入':>10}{'pyogrio 读写':>14}{'比值':>8}")
        for scale, n, path in files:
            cli, plain = measure(path, work, args.repeat)
            print(f"{scale:<10}{path.suffix[1:]:<9}{n:>7}{cli:>9.2f}s{plain:>13.2f}s"
                  f"{cli / plain:>7.2f}×", flush=True)
    cache = "，保留字节码缓存" if args.bytecode_cache else ""
    print(f"（整个进程计时，{args.repeat} 次交替运行的中位数{cache}；目标：省级 ≤ 1.3×）")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
