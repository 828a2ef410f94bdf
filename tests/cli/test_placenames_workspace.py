"""Issue 12, through the real import path: labels keep the system they came from, and a
label layer in the wrong system is noticed alike by the CLI, the JSON API and the page.

The county of tests/analysis/test_placenames_name_first (a real roster, its own seed) is
written to the files staff receive (villages GeoJSON, an Amap-style label CSV in GCJ-02
with no 坐标系 column) and imported with ``python -m geoservice import`` in a child process,
as a person would. Expected coordinates are the numbers written to those files.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fixtures import make_app, run_cli
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from test_placenames_name_first import (  # noqa: E402
    build_county,
    ll,
    point_outside,
)

from geoservice.cli import main  # noqa: E402
from layers import import_file, open_store  # noqa: E402
from layers.crs import wgs_to_gcj  # noqa: E402

GCJ_LABEL = "GCJ-02(高德/腾讯)"


def _labels(county):
    """(name, lon, lat) in CGCS2000: every village on its seat, with findings injected."""
    names, seats = county.names, county.seats
    uniq = county.unique_names()
    missing = set(uniq[:2])
    moved = uniq[2:5]
    rows = []
    for i in range(len(names)):
        if i in missing:
            continue
        x, y = seats[i]
        if i in moved:
            x, y = point_outside(county.cells[i], seats[i], 0.9 * i, 3_000)
        rows.append((names[i], x, y))
    d = uniq[5]
    rows.append((names[d], seats[d][0] + 250.0, seats[d][1] + 100.0))  # a duplicate
    rows.append(("子虚乌有庄", seats[uniq[6]][0] + 150.0, seats[uniq[6]][1]))  # unknown
    lon, lat = ll([r[1] for r in rows], [r[2] for r in rows])
    return pd.DataFrame({"名称": [r[0] for r in rows], "lon": lon, "lat": lat}), missing


def _write_labels(df, path: Path, lon, lat, crs_column: str | None = None) -> Path:
    out = pd.DataFrame({"名称": df["名称"], "经度": lon, "纬度": lat})
    if crs_column:
        out["坐标系"] = crs_column
    out.to_csv(path, index=False, float_format="%.9f", encoding="utf-8-sig")
    return path


@pytest.fixture(scope="module")
def county():
    return build_county()


@pytest.fixture(scope="module")
def base_workspace(county, tmp_path_factory) -> Path:
    """Villages only, imported from a GeoJSON file."""
    folder = tmp_path_factory.mktemp("pn_ws")
    v = county.villages
    path = folder / "villages.geojson"
    v.to_file(path, driver="GeoJSON")
    gpkg = folder / "base.gpkg"
    store = open_store(gpkg)
    store.set_info(title="泸溪县（测试）", county_code="433124", demo="0")
    import_file(store, "villages", path)
    return gpkg


def _workspace_with_labels(base: Path, folder: Path, labels_csv: Path, *crs_args) -> Path:
    gpkg = folder / "ws.gpkg"
    shutil.copyfile(base, gpkg)
    r = run_cli("--workspace", gpkg, "import", "place_labels", labels_csv, *crs_args)
    assert r.returncode == 0, r.stderr
    return gpkg


def _sheet(wb, name) -> list[dict]:
    ws = wb[name]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(2)]


def test_gcj02_labels_come_back_in_gcj02(county, base_workspace, tmp_path):
    df, missing = _labels(county)
    glon, glat = wgs_to_gcj(df["lon"].to_numpy(), df["lat"].to_numpy())
    csv = _write_labels(df, tmp_path / "amap_labels.csv", glon, glat)
    ws = _workspace_with_labels(base_workspace, tmp_path, csv, "--crs", "gcj02")
    versions = open_store(ws).versions("place_labels")
    assert [v.source_crs for v in versions] == ["gcj02"]

    out = tmp_path / "corrections.xlsx"
    r = CliRunner().invoke(main, ["--workspace", str(ws), "placenames", "--json",
                                  "--xlsx", str(out)])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    s = body["summary"]
    assert s["inputs"]["labels_crs"] == "gcj02"
    assert s["inputs"]["labels_crs_label"] == GCJ_LABEL
    assert s["crs_suspect"] is None
    assert (s["counts"]["missing"], s["counts"]["misplaced"], s["counts"]["duplicate_label"],
            s["counts"]["unknown_label"]) == (2, 3, 1, 1)

    wb = load_workbook(out)
    rows = _sheet(wb, "更正清单")
    assert len(rows) == 7
    assert {x["坐标系"] for x in rows} == {GCJ_LABEL}
    written = {}
    for name, x, y in zip(df["名称"], glon, glat, strict=True):
        written.setdefault(name, []).append((x, y))
    label_rows = [x for x in rows if x["标注名称"]]
    assert len(label_rows) == 5
    for row in label_rows:
        # each label's own numbers, as written to the Amap file
        assert any(abs(row["经度"] - x) < 1e-6 and abs(row["纬度"] - y) < 1e-6
                   for x, y in written[row["标注名称"]]), row
    # a missing label is placed at the village seat, in GCJ-02 too
    seats = {county.villages["code"][i]: i for i in missing}
    miss_rows = [x for x in rows if x["类型"] == "缺失标注"]
    assert {x["区划代码"] for x in miss_rows} == set(seats)
    for row in miss_rows:
        i = seats[row["区划代码"]]
        sx, sy = wgs_to_gcj(np.array([county.villages["center_lon"][i]]),
                            np.array([county.villages["center_lat"][i]]))
        assert abs(row["经度"] - sx[0]) < 1e-6 and abs(row["纬度"] - sy[0]) < 1e-6
    summary = dict((r[0], r[1]) for r in wb["汇总"].iter_rows(values_only=True))
    assert summary["标注原始坐标系"] == GCJ_LABEL
    assert summary["坐标系核查"].startswith("未发现整体偏移")
    text = " ".join(str(v) for row in rows for v in (row["坐标系"],)) + \
        " ".join(str(v) for v in summary.values())
    assert "Geodetic" not in text and "China" not in text


def test_a_file_said_gcj02_but_really_cgcs2000_is_flagged_everywhere(county, base_workspace,
                                                                   tmp_path):
    df, _ = _labels(county)
    csv = _write_labels(df, tmp_path / "said_gcj02.csv", df["lon"], df["lat"])
    ws = _workspace_with_labels(base_workspace, tmp_path, csv, "--crs", "gcj02")

    r = CliRunner().invoke(main, ["--workspace", str(ws), "placenames", "--json"])
    assert r.exit_code == 0, r.output
    cli = json.loads(r.stdout)["summary"]
    assert cli["crs_suspect"] == "cgcs2000"
    assert cli["crs_check"]["declared"] == "gcj02"
    assert 100 < cli["crs_offset_m"] < 1_500
    assert "CGCS2000" in cli["crs_message"]

    plain = CliRunner().invoke(main, ["--workspace", str(ws), "placenames"])
    assert plain.exit_code == 0
    first = plain.output.splitlines()[0]
    assert first.startswith("注意：标注整体偏移") and "GCJ-02" in first

    app = make_app({"WORKSPACE": str(ws)})
    client = app.test_client()
    api = client.get("/api/placenames").get_json()["summary"]
    for key in ("crs_suspect", "crs_offset_m", "crs_message", "crs_check"):
        assert api[key] == cli[key], key
    page = client.get("/placenames")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    warn = html.index('id="crs-warning"')
    assert warn < html.index('id="findings-table"')
    assert 'data-suspect="cgcs2000"' in html
    assert cli["crs_message"].split("：")[0] in html[warn:warn + 2000]
    wb = load_workbook(io.BytesIO(client.get("/placenames/report.xlsx").data))
    summary = dict((r[0], r[1]) for r in wb["汇总"].iter_rows(values_only=True))
    assert summary["坐标系核查"] == cli["crs_message"]
    assert summary["疑似实际坐标系"].startswith("CGCS2000")


def test_a_crs_column_is_applied_by_the_layer_import(county, base_workspace, tmp_path):
    """An Amap export naming GCJ-02 in its 坐标系 column, imported as a layer without --crs:
    the import reads it in GCJ-02 (each label keeping that system), so nothing is offset,
    no wrong-system warning is given, and the correction list writes the file's numbers."""
    df, _ = _labels(county)
    glon, glat = wgs_to_gcj(df["lon"].to_numpy(), df["lat"].to_numpy())
    csv = _write_labels(df, tmp_path / "amap_with_column.csv", glon, glat, crs_column="gcj02")
    ws = _workspace_with_labels(base_workspace, tmp_path, csv)
    stored = open_store(ws).read("place_labels")
    assert set(stored["crs"]) == {"gcj02"}
    # stored at the true CGCS2000 positions (the round trip through GCJ-02: millimetres)
    assert np.abs(stored.geometry.x.to_numpy() - df["lon"].to_numpy()).max() < 1e-7
    assert np.abs(stored.geometry.y.to_numpy() - df["lat"].to_numpy()).max() < 1e-7
    out = tmp_path / "corrections.xlsx"
    r = CliRunner().invoke(main, ["--workspace", str(ws), "placenames", "--json",
                                  "--xlsx", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["summary"]
    assert s["crs_suspect"] is None
    assert s["inputs"]["labels_crs_note"] is None
    rows = [x for x in _sheet(load_workbook(out), "更正清单") if x["标注名称"]]
    assert rows and {x["坐标系"] for x in rows} == {GCJ_LABEL}
    written = {}
    for name, x, y in zip(df["名称"], glon, glat, strict=True):
        written.setdefault(name, []).append((x, y))
    for row in rows:
        assert any(abs(row["经度"] - x) < 1e-6 and abs(row["纬度"] - y) < 1e-6
                   for x, y in written[row["标注名称"]]), row
