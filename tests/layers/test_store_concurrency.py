"""Several writers on one workspace (GeoPackage and PostGIS): nothing lost, nothing half-seen.

Real processes (the CLI, as staff would run it next to the server) and threads of one
process (the web server's): the lock that matters holds across both.
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
STORES = ["gpkg", "postgis"]


def copy_workspace(src, url: str) -> None:
    """Every version of the GeoPackage workspace ``src`` into the PostGIS store at ``url``."""
    source, target = open_store(src), open_store(url)
    try:
        for kind in source.current_versions():
            for v in source.versions(kind):
                target.load_version(kind, source.read(kind, version=v.version), v)
    finally:
        target.close()


@pytest.fixture(params=STORES)
def workspace(request, tiny_workspace) -> str:
    """The tiny workspace, as a GeoPackage file or copied into a fresh PostGIS database."""
    if request.param == "gpkg":
        return str(tiny_workspace)
    url = request.getfixturevalue("pg_url")
    copy_workspace(tiny_workspace, url)
    return url


def whole_versions_reader(workspace: str, stop: threading.Event, errors: list, reads: list):
    """Read the layer being imported until ``stop``: every read must be one whole version
    (as many features as its version row says), never a half-written one."""
    store = open_store(workspace)
    while not stop.is_set():
        try:
            current = store.current_versions()["elderly_service_points"]
            got = store.read("elderly_service_points", version=current.version)
            if len(got) != current.features:
                errors.append(f"version {current.version}: {len(got)} != {current.features}")
            n = len(store.read("elderly_service_points"))
            # versions only grow: the one just read is listed afterwards
            if n not in {v.features for v in store.versions("elderly_service_points")}:
                errors.append(f"a current read of {n} features matched no version")
            store.read("villages")
            reads[0] += 1
        except Exception as exc:  # any failure of a read during imports is a bug
            errors.append(repr(exc))
    if hasattr(store, "close"):
        store.close()


def points_csv(path, n, tag):
    pd.DataFrame({"名称": [f"{tag}站{i}" for i in range(n)], "层级": ["村级互助养老服务站"] * n,
                  "经度": [103.70 + 0.001 * i for i in range(n)],
                  "纬度": [29.80 + 0.001 * i for i in range(n)]}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_concurrent_cli_imports_lose_no_version(workspace, tmp_path):
    files = [points_csv(tmp_path / f"w{i}.csv", 50 + i, f"W{i}") for i in range(WRITERS)]
    stop = threading.Event()
    read_errors: list[str] = []
    reads = [0]
    t = threading.Thread(target=whole_versions_reader, args=(workspace, stop, read_errors, reads))
    t.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(
                lambda f: run_cli("--workspace", workspace, "import", "elderly_service_points",
                                  f, "--json"), files))
    finally:
        stop.set()
        t.join()
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    import json

    acknowledged = sorted(json.loads(r.stdout)["version"]["version"] for r in results)
    assert acknowledged == list(range(2, 2 + WRITERS))  # version 1 came with the workspace
    store = open_store(workspace)
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


@pytest.mark.slow
def test_concurrent_thread_writes_lose_no_version(workspace):
    """Eight threads of one process (each with its own store, as server threads share one)
    write the same kind at once: eight distinct consecutive versions, each whole."""
    shared = open_store(workspace)
    frames = [gpd.GeoDataFrame(
        {"name": [f"T{i}站{j}" for j in range(1 + i)], "level": ["village_station"] * (1 + i)},
        geometry=[Point(103.70 + 0.001 * j, 29.80) for j in range(1 + i)], crs="EPSG:4490")
        for i in range(WRITERS)]
    stop = threading.Event()
    read_errors: list[str] = []
    reads = [0]
    t = threading.Thread(target=whole_versions_reader, args=(workspace, stop, read_errors, reads))
    t.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            written = list(pool.map(
                lambda i: (shared if i % 2 else open_store(workspace)).write(
                    "elderly_service_points", frames[i], source=f"t{i}",
                    source_crs="EPSG:4490"), range(WRITERS)))
    finally:
        stop.set()
        t.join()
    assert sorted(v.version for v in written) == list(range(2, 2 + WRITERS))
    versions = shared.versions("elderly_service_points")
    assert [v.version for v in versions] == list(range(1, 2 + WRITERS))
    for v in written:  # each thread's own frame, under the number it was told
        assert v.features == int(v.source[1:]) + 1
        got = shared.read("elderly_service_points", version=v.version)
        assert got["name"].tolist() == frames[int(v.source[1:])]["name"].tolist()
    assert [v.version for v in versions if v.current] == [1 + WRITERS]
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
