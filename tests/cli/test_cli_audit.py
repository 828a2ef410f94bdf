"""`python -m geoservice audit` and `restore`, and the CLI's changes in the audit trail: every
state-changing command is recorded under the operating-system user, `restore` makes a new
version equal to the old one, and the XLSX export keeps text as text."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
from fixtures import ROOT
from fixtures import run_cli as run
from openpyxl import load_workbook

from geoservice.reports.audit import HEADERS
from geoservice.services.accounts import cli_actor
from layers import open_store


def add_user_cli(ws, name, role, password):
    return subprocess.run([sys.executable, "-m", "geoservice", "--workspace", str(ws), "users",
                           "add", name, "--role", role, "--password-stdin"], cwd=ROOT,
                          input=password + "\n", capture_output=True, text=True, timeout=180)


def os_user() -> str:
    return cli_actor().name


def audit_json(ws, *args) -> dict:
    r = run("--workspace", ws, "audit", "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def edited_villages(ws, tmp_path):
    """The current villages with one renamed, as a file a person would import."""
    gdf = open_store(ws).read("villages")
    gdf.loc[gdf.index[0], "name"] = "改名村"
    path = tmp_path / "villages_v2.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


def same_frames(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-9).all()
    assert a.crs == b.crs


def test_import_and_restore_are_audited_and_restore_equals_the_old_version(tiny_workspace,
                                                                           tmp_path):
    ws = tiny_workspace
    r = run("--workspace", ws, "import", "villages", edited_villages(ws, tmp_path))
    assert r.returncode == 0, r.stderr
    store = open_store(ws)
    v2 = store.current_versions()["villages"]
    assert v2.version == 2 and v2.user == os_user()
    assert "改名村" in set(store.read("villages")["name"])

    r = run("--workspace", ws, "restore", "villages", "1")
    assert r.returncode == 0, r.stderr
    assert "第 1 版恢复为第 3 版" in r.stdout
    store = open_store(ws)
    v3 = store.current_versions()["villages"]
    assert v3.version == 3 and v3.user == os_user() and v3.features == 4
    same_frames(store.read("villages"), store.read("villages", version=1))
    assert "改名村" in set(store.read("villages", version=2)["name"])  # nothing lost
    assert [v.version for v in store.versions("villages")] == [1, 2, 3]

    rows = audit_json(ws)["rows"]
    assert [r["action"] for r in rows] == ["restore", "import"]
    restore, imported = rows
    assert restore["user"] == os_user() and restore["address"] == "local"
    assert (restore["layer"], restore["version_before"], restore["version_after"]) == \
        ("villages", 2, 3)
    assert restore["params"] == {"restored": 1} and restore["action_label"] == "恢复旧版本"
    assert imported["user"] == os_user() and imported["params"]["file"] == "villages_v2.geojson"
    assert (imported["version_before"], imported["version_after"]) == (1, 2)

    r = run("--workspace", ws, "restore", "villages", "2", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["restored"] == 2 and body["version"]["version"] == 4
    assert body["version"]["user"] == os_user()


def test_restore_of_a_missing_version_changes_nothing(tiny_workspace):
    r = run("--workspace", tiny_workspace, "restore", "villages", "7")
    assert r.returncode == 1 and "没有第 7 版" in r.stderr and "Traceback" not in r.stderr
    r = run("--workspace", tiny_workspace, "restore", "villages", "0")
    assert r.returncode == 2
    store = open_store(tiny_workspace)
    assert store.current_versions()["villages"].version == 1 and store.audit_rows() == []


def test_refused_import_is_audited_as_refused(tiny_workspace, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,层级,经度,纬度\n站,村级互助养老服务站,200,29\n", encoding="utf-8")
    r = run("--workspace", tiny_workspace, "import", "elderly_service_points", bad)
    assert r.returncode == 1
    (row,) = audit_json(tiny_workspace)["rows"]
    assert row["action"] == "import" and row["user"] == os_user()
    assert row["version_before"] == row["version_after"] == 1 and "被拒绝" in row["result"]


def test_merge_apply_is_audited_with_the_os_user(tiny_workspace):
    ws = tiny_workspace
    r = run("--workspace", ws, "boundaries", "merge", "--codes", "511425102200,511425102201",
            "--name", "甲合村", "--apply", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["applied"]["version"] == 2
    (row,) = audit_json(ws, "--action", "merge_apply", "--layer", "villages")["rows"]
    assert row["user"] == os_user() and row["layer"] == "villages"
    assert (row["version_before"], row["version_after"]) == (1, 2)
    assert "甲合村" in json.dumps(row, ensure_ascii=False)
    assert open_store(ws).current_versions()["villages"].user == os_user()


def test_filters_text_and_bad_dates(tiny_workspace):
    ws = tiny_workspace
    assert run("--workspace", ws, "restore", "townships", "1").returncode == 0
    r = add_user_cli(ws, "王丽", "viewer", "short")
    assert r.returncode == 1  # refused: nothing recorded
    today = dt.date.today().isoformat()
    assert audit_json(ws)["count"] == 1
    assert audit_json(ws, "--layer", "townships")["count"] == 1
    assert audit_json(ws, "--layer", "villages")["count"] == 0
    assert audit_json(ws, "--action", "import")["count"] == 0
    assert audit_json(ws, "--user", os_user())["count"] == 1
    assert audit_json(ws, "--user", "别人")["count"] == 0
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert audit_json(ws, "--since", yesterday, "--until", today)["count"] == 1
    assert audit_json(ws, "--until", "2000-01-01")["count"] == 0
    body = audit_json(ws, "--layer", "townships", "--since", yesterday)
    assert body["filters"] == {"layer": "townships", "since": yesterday}

    r = run("--workspace", ws, "audit")
    assert r.returncode == 0 and os_user() in r.stdout and "恢复旧版本" in r.stdout
    assert "乡镇" in r.stdout
    r = run("--workspace", ws, "audit", "--action", "login_failed")
    assert r.returncode == 0 and "没有符合条件的操作记录" in r.stdout
    r = run("--workspace", ws, "audit", "--since", "2026-13-40")
    assert r.returncode == 2 and "不是日期" in r.stderr
    r = run("--workspace", ws, "audit", "--action", "delete")
    assert r.returncode == 2 and "可选值" in r.stderr


def test_xlsx_has_chinese_headers_and_text_never_becomes_a_formula(tiny_workspace, tmp_path):
    ws = tiny_workspace
    evil = "=HYPERLINK(\"http://x\",\"y\")"
    r = add_user_cli(ws, evil, "viewer", "long-enough-1")
    assert r.returncode == 0, r.stderr
    assert run("--workspace", ws, "restore", "villages", "1").returncode == 0
    out = tmp_path / "审计.xlsx"
    r = run("--workspace", ws, "audit", "--xlsx", out)
    assert r.returncode == 0, r.stderr
    assert "已写出操作记录" in r.stderr
    wb = load_workbook(out)
    assert wb.sheetnames == ["操作记录", "筛选条件"]
    sheet = wb["操作记录"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    assert list(HEADERS) == ["时间", "用户", "地址", "操作", "图层", "原版本", "新版本", "参数",
                             "结果"]
    assert rows[1][3] == "恢复旧版本（restore）" and rows[1][4] == "村(社区)（villages）"
    assert (rows[1][5], rows[1][6]) == (1, 2) and rows[1][1] == os_user()
    assert any(evil in (c or "") for c in rows[2] if isinstance(c, str))
    for row in sheet.iter_rows(min_row=2):
        for c in row:
            assert c.data_type != "f", c.coordinate
    assert wb["筛选条件"]["A2"].value == "筛选"

    r = run("--workspace", ws, "audit", "--xlsx", tmp_path / "no" / "dir" / "a.xlsx")
    assert r.returncode == 1 and "无法写出文件" in r.stderr
