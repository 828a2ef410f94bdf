"""Benchmark: several processes importing into one GeoPackage workspace at once.

    python -m bench.concurrent_writes [--writers 8] [--features 2000 20000]

Each writer is a real process running ``python -m geoservice import`` (as staff would run it
next to the server) on its own CSV of ``--features`` points. After all have finished the
bench counts the versions the writers were told they got ("acknowledged") and the versions
the workspace holds whole (its row present and its table readable with the writer's feature
count): lost = acknowledged - held. It must be 0.

Baseline (same process, same files): the same imports one after another. The ratio says
what the cross-process lock costs or saves against strict sequence (the writers still run
their reading and validation in parallel; only the writes are serialised). Scales: a county
layer (2,000 points) and a province-size layer (20,000 points).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers import open_store  # noqa: E402
from layers.demo import DEMO_WORKSPACE  # noqa: E402

KIND = "elderly_service_points"


def write_csv(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "名称": [f"站{seed}-{i}" for i in range(n)],
        "层级": ["村级互助养老服务站"] * n,
        "经度": rng.uniform(103.70, 103.95, n).round(6),
        "纬度": rng.uniform(29.75, 29.95, n).round(6),
    }).to_csv(path, index=False)
    return path


def cli_import(workspace: Path, path: Path) -> dict | None:
    r = subprocess.run([sys.executable, "-m", "geoservice", "--workspace", str(workspace),
                        "import", KIND, str(path), "--json"], cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ})
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["version"]


def run(workspace: Path, files: list[Path], parallel: bool) -> tuple[list[dict], float]:
    t0 = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(len(files)) as pool:
            acks = list(pool.map(lambda f: cli_import(workspace, f), files))
    else:
        acks = [cli_import(workspace, f) for f in files]
    return [a for a in acks if a], time.perf_counter() - t0


def held(workspace: Path, acks: list[dict]) -> int:
    store = open_store(workspace)
    rows = {v.version: v for v in store.versions(KIND)}
    whole = 0
    for a in acks:
        v = rows.get(a["version"])
        if v and v.features == a["features"] and \
                len(store.read(KIND, version=v.version)) == a["features"]:
            whole += 1
    return whole


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--features", type=int, nargs="+", default=[2000, 20000])
    args = ap.parse_args(argv)
    print(f"{args.writers} writer processes, layer {KIND}; baseline: the same imports in "
          "sequence")
    print(f"{'features':>9} {'sequential s':>13} {'parallel s':>11} {'ratio':>7} "
          f"{'acknowledged':>13} {'held whole':>11} {'lost':>5} {'failed':>7}")
    for n in args.features:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            files = [write_csv(tmp / f"w{i}.csv", n, i) for i in range(args.writers)]
            seq_ws, par_ws = tmp / "seq.gpkg", tmp / "par.gpkg"
            shutil.copyfile(DEMO_WORKSPACE, seq_ws)
            shutil.copyfile(DEMO_WORKSPACE, par_ws)
            seq_acks, seq_s = run(seq_ws, files, parallel=False)
            par_acks, par_s = run(par_ws, files, parallel=True)
            kept = held(par_ws, par_acks)
            assert held(seq_ws, seq_acks) == len(seq_acks) == args.writers
            print(f"{n:>9} {seq_s:>13.2f} {par_s:>11.2f} {seq_s / par_s:>6.2f}x "
                  f"{len(par_acks):>13} {kept:>11} {len(par_acks) - kept:>5} "
                  f"{args.writers - len(par_acks):>7}")
    print("lost must be 0: every version a writer was told it got is in the workspace, whole.")


if __name__ == "__main__":
    main()
