"""`python -m geoservice` as a user runs it: exit codes, JSON, Chinese errors."""

from __future__ import annotations

import json

import pytest
from fixtures import run_cli as run


def test_layers_json(tiny_workspace):
    r = run("--workspace", tiny_workspace, "layers", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["kind"]: row for row in json.loads(r.stdout)["layers"]}
    assert rows["villages"]["features"] == 4 and rows["villages"]["version"] == 1


def test_import_creates_new_workspace_and_versions(tmp_path):
    ws = tmp_path / "new.gpkg"
    csv = tmp_path / "homes.csv"
    csv.write_text("名称,类型,床位数,经度,纬度\n县福利院,县级福利院,150,103.85,29.83\n",
                   encoding="utf-8")
    r = run("--workspace", ws, "import", "welfare_homes", csv)
    assert r.returncode == 0, r.stderr
    assert "第 1 版" in r.stdout and ws.exists()
    r = run("--workspace", ws, "import", "welfare_homes", csv, "--json")
    assert json.loads(r.stdout)["version"]["version"] == 2


def test_rejected_import_exits_non_zero_with_problems(tiny_workspace, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,层级,经度,纬度\n站,村级互助养老服务站,200,29\n"
                   "好站,村级互助养老服务站,103.8,29.8\n", encoding="utf-8")
    before = run("--workspace", tiny_workspace, "layers", "--json").stdout
    r = run("--workspace", tiny_workspace, "import", "elderly_service_points", bad)
    assert r.returncode != 0
    assert "bad.csv，第 2 行" in r.stderr and "超出中国范围" in r.stderr
    assert run("--workspace", tiny_workspace, "layers", "--json").stdout == before


def test_import_gcj02_with_crs_option(tiny_workspace, tmp_path):
    from layers.crs import wgs_to_gcj

    gx, gy = wgs_to_gcj([103.8], [29.85])
    f = tmp_path / "labels.csv"
    f.write_text(f"名称,来源,经度,纬度\n甲一村,amap,{gx[0]:.8f},{gy[0]:.8f}\n", encoding="utf-8")
    r = run("--workspace", tiny_workspace, "import", "place_labels", f, "--crs", "gcj02", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"]["source_crs"] == "gcj02"
    from layers import open_store

    p = open_store(tiny_workspace).read("place_labels").geometry.iloc[0]
    assert abs(p.x - 103.8) < 1e-7 and abs(p.y - 29.85) < 1e-7


def test_workspace_from_environment(tiny_workspace):
    r = run("layers", "--json", env={"GEOSERVICE_WORKSPACE": str(tiny_workspace)})
    assert json.loads(r.stdout)["title"] == "测试县"


def test_a_missing_input_file_is_named_in_chinese(tmp_path):
    from click.testing import CliRunner

    from geoservice.cli import main

    ws = str(tmp_path / "ws.gpkg")
    r = CliRunner().invoke(main, ["--workspace", ws, "import", "villages", str(tmp_path / "无.csv")])
    assert r.exit_code != 0 and "参数 FILE：文件" in r.output and "不存在" in r.output
    assert "Invalid value" not in r.output
    r = CliRunner().invoke(main, ["--workspace", ws, "boundaries", "--outline", "无.geojson"])
    assert r.exit_code != 0 and "参数 --outline：文件“无.geojson”不存在" in r.output


@pytest.mark.parametrize("args, words", [
    (["siting", "--layer", "elderly_service_points", "--add", "59"], "超过了候选点数"),  # analysis
    (["coverage", "--radius", "abc"], "不是数字"),  # service parameter
    (["coverage"], "请先导入"),  # a layer never imported (the workspace is empty)
])
def test_every_readable_error_ends_the_command_in_chinese(demo_workspace, tmp_path, args,
                                                          words):
    workspace = tmp_path / "empty.gpkg" if args == ["coverage"] else demo_workspace
    r = run("--workspace", workspace, *args)
    assert r.returncode == 1, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr


def test_coverage_xlsx_option(tiny_workspace, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    r = run("--workspace", tiny_workspace, "coverage", "--radius", "1500", "--xlsx", out)
    assert r.returncode == 0, r.stderr
    assert "村覆盖率：50.0%" in r.stdout and "未覆盖村" in r.stdout
    assert load_workbook(out).sheetnames[0] == "汇总"
