"""Several processes on one GeoPackage workspace: nothing lost, nothing half-seen.

Real processes (the CLI, as staff would run it next to the server), not threads: the lock
that matters holds across processes.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from fixtures import run_cli
from shapely.geometry import Point

from layers import StoreError, open_store

WRITERS = 8


def points_csv(path, n, tag):
    pd.DataFrame({"名称": [f"{tag}站{i}" for i in range(n)], "层级": ["村级互助养老服务站"] * n,
                  "经度": [103.70 + 0.001 * i for i in range(n)],
                  "纬度": [29.80 + 0.001 * i for i in range(n)]}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_concurrent_cli_imports_lose_no_version(tiny_workspace, tmp_path):
    files = [points_csv(tmp_path / f"w{i}.csv", 50 + i, f"W{i}") for i in range(WRITERS)]
    stop = threading.Event()
    read_errors: list[str] = []
    reads = [0]

    def reader():
        store = open_store(tiny_workspace)
        while not stop.is_set():
            try:
                store.read("elderly_service_points")
                store.read("villages")
                reads[0] += 1
            except Exception as exc:  # any failure of a read during imports is a bug
                read_errors.append(repr(exc))

    t = threading.Thread(target=reader)
    t.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(
                lambda f: run_cli("--workspace", tiny_workspace, "import", "elderly_service_points",
                                  f, "--json"), files))
    finally:
        stop.set()
        t.join()
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    import json

    acknowledged = sorted(json.loads(r.stdout)["version"]["version"] for r in results)
    assert acknowledged == list(range(2, 2 + WRITERS))  # version 1 came with the workspace
    store = open_store(tiny_workspace)
    versions = store.versions("elderly_service_points")
    assert [v.version for v in versions] == list(range(1, 2 + WRITERS))
    # every acknowledged version is whole: its own file's features, in its own table
    by_features = sorted(v.features for v in versions[1:])
    assert by_features == [50 + i for i in range(WRITERS)]
    for v in versions:
        assert len(store.read("elderly_service_points", version=v.version)) == v.features
    current = store.current_versions()["elderly_service_points"]
    assert current.version == 1 + WRITERS
    assert read_errors == [] and reads[0] > 0


def test_a_table_left_by_a_dead_writer_is_removed_at_next_start(tiny_workspace):
    orphan = gpd.GeoDataFrame({"name": ["半截"]}, geometry=[Point(103.7, 29.8)], crs="EPSG:4490")
    # what a writer that died after writing its table but before its version row leaves
    pyogrio.write_dataframe(orphan, tiny_workspace, layer="welfare_homes_v2", driver="GPKG")
    store = open_store(tiny_workspace)
    with sqlite3.connect(tiny_workspace) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        contents = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert "welfare_homes_v2" not in names and "welfare_homes_v2" not in contents
    assert [v.version for v in store.versions("welfare_homes")] == [1]
    v = store.write("welfare_homes", store.read("welfare_homes"), source="again",
                    source_crs="EPSG:4490")
    assert v.version == 2 and len(store.read("welfare_homes")) == 1


def test_a_failed_writer_does_not_touch_another_writers_table(tiny_workspace, monkeypatch):
    """Two writers in one process: the one that fails drops only its own table."""
    store = open_store(tiny_workspace)
    homes = store.read("welfare_homes")
    real = pyogrio.write_dataframe
    gate, go = threading.Event(), threading.Event()

    def slow_then_fail(df, path, **kwargs):
        if kwargs["layer"].startswith("cemeteries"):
            gate.set()
            go.wait(10)
            raise OSError(28, "No space left on device")
        return real(df, path, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", slow_then_fail)
    errors = []

    def write_and_fail():
        try:
            store.write("cemeteries", homes, source="x", source_crs="EPSG:4490")
        except StoreError as exc:
            errors.append(str(exc))

    failing = threading.Thread(target=write_and_fail)
    failing.start()
    gate.wait(10)
    ok = threading.Thread(target=store.write, args=("welfare_homes", homes),
                          kwargs={"source": "y", "source_crs": "EPSG:4490"})
    ok.start()
    go.set()
    failing.join()
    ok.join()
    assert [v.version for v in store.versions("welfare_homes")] == [1, 2]
    assert len(store.read("welfare_homes", version=2)) == len(homes)
    assert store.versions("cemeteries") == []
    assert errors == ["写入图层失败：磁盘空间不足，工作空间未改变"]
