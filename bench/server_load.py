"""Benchmark: a bounded load test of the production server on 127.0.0.1 (not a timed test).

    python -m bench.server_load [--quick] [--concurrency 1 8 32] [--threads 8]

Two servers on the demo county, started in the same run, each in its own process, on free
ports of 127.0.0.1 only, each on its own copy of the demo workspace:

* waitress as ``python run.py`` serves it (``--threads`` worker threads, the access log on,
  written to a file in the temporary folder);
* the baseline: Flask's development server (``app.run(threaded=True)``, its request log to
  a file too).

For each server, path and concurrency (1, 8, 32 client threads, one new connection per
request, as a browser without keep-alive): a fixed number of requests (``--quick``: a
quarter), stopped early at a per-case time limit; one warm-up request per path first.
Reported: requests done, throughput (req/s), p50 and p99 latency (ms), errors (a status
other than 200, a refused or reset connection, a time-out: must be 0), and the ratio of
waitress to the development server (throughput; p99). A default run takes about 2-3
minutes on 2 cores, ``--quick`` under one.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# path -> requests per case (default run); the home page is the heaviest (the whole map)
PATHS = {"/": 48, "/api/layers/villages": 240, "/api/coverage": 160}
CASE_SECONDS = 12.0  # per-case time limit: no new request is started after it
SERVERS = ("waitress", "development")


def serve(kind: str, port: int, workspace: str, log: str, threads: int) -> None:
    """In the server process: serve the app on 127.0.0.1:port until killed."""
    import logging

    from geoservice import create_app
    from geoservice.web.server import AccessLog, configure_logging

    stream = open(log, "a", encoding="utf-8")  # noqa: SIM115 - open for the process' life
    logging.basicConfig(stream=stream, level=logging.INFO)
    app = create_app({"WORKSPACE": workspace, "SERVER_THREADS": threads})
    if kind == "waitress":
        import waitress

        configure_logging(access_log=True, stream=stream)
        waitress.serve(AccessLog(app), host="127.0.0.1", port=port, threads=threads,
                       ident="waitress", _quiet=True)
    else:
        app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, tmp: Path, threads: int) -> tuple[subprocess.Popen, int]:
    from layers.demo import DEMO_WORKSPACE

    workspace = tmp / f"{kind}.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, workspace)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server_load", "--serve", kind, "--port", str(port),
         "--workspace", str(workspace), "--log", str(tmp / f"{kind}.log"),
         "--threads", str(threads)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / f"{kind}.err", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} server exited: " + (tmp / f"{kind}.err").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{kind} server did not listen within 60 s")


def get(port: int, path: str) -> tuple[int, float]:
    """One GET on a new connection: (status, seconds); status 0 for a failure."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        status = r.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        conn.close()
    return status, time.perf_counter() - t0


def case(port: int, path: str, concurrency: int, count: int) -> dict:
    """``count`` requests by ``concurrency`` threads (no new one after CASE_SECONDS)."""
    lock = threading.Lock()
    todo = [count]
    times: list[float] = []
    errors = [0]
    t0 = time.perf_counter()
    stop_at = t0 + CASE_SECONDS

    def worker():
        while True:
            with lock:
                if todo[0] == 0 or time.perf_counter() > stop_at:
                    return
                todo[0] -= 1
            status, seconds = get(port, path)
            with lock:
                times.append(seconds)
                if status != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(times) * 1000
    return {"done": len(times), "rps": len(times) / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "errors": errors[0]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the requests")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    ap.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workspace", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.workspace, args.log, args.threads)
        return

    scale = 0.25 if args.quick else 1.0
    print(f"demo county on 127.0.0.1; waitress ({args.threads} threads, access log on) vs "
          f"Flask development server (threaded); {os.cpu_count()} CPUs; per case at most "
          f"{CASE_SECONDS:.0f} s")
    t_start = time.perf_counter()
    results: dict[tuple[str, str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        procs = {kind: start(kind, tmp, args.threads) for kind in SERVERS}
        try:
            for kind, (_proc, port) in procs.items():
                for path in PATHS:
                    status, _ = get(port, path)  # warm-up
                    assert status == 200, (kind, path, status)
            print(f"{'path':<22} {'c':>3} {'server':<12} {'done':>5} {'req/s':>8} "
                  f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for path, n in PATHS.items():
                count = max(4, int(n * scale))
                for c in args.concurrency:
                    for kind, (_proc, port) in procs.items():
                        r = case(port, path, c, count)
                        results[(path, kind, c)] = r
                        print(f"{path:<22} {c:>3} {kind:<12} {r['done']:>5} {r['rps']:>8.1f} "
                              f"{r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>6}", flush=True)
        finally:
            for proc, _port in procs.values():
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    print("\nwaitress vs development server (throughput ratio, >1 = waitress faster; "
          "p99 ratio, <1 = waitress lower)")
    print(f"{'path':<22} " + " ".join(f"{'c=' + str(c):>16}" for c in args.concurrency))
    for path in PATHS:
        cells = []
        for c in args.concurrency:
            w, d = results[(path, "waitress", c)], results[(path, "development", c)]
            cells.append(f"{w['rps'] / d['rps']:>6.2f}x / {w['p99'] / d['p99']:>5.2f}")
        print(f"{path:<22} " + " ".join(f"{cell:>16}" for cell in cells))
    total_errors = sum(r["errors"] for r in results.values())
    print(f"\nerrors: {total_errors} (must be 0); run took {time.perf_counter() - t_start:.0f} s")
    if total_errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
