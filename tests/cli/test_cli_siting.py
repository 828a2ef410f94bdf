"""`python -m geoservice siting`: the same result as the function and the API."""

from __future__ import annotations

import json

from fixtures import (
    make_app,  # create_app with an admin signed in (API token)
    run_cli,
)
from openpyxl import load_workbook

from geoservice.analysis.siting import siting
from layers import open_store


def _cli(workspace, *args):
    return run_cli("--workspace", workspace, "siting", *args)


def test_json_is_the_issue_shape_and_equals_function_and_api(demo_workspace):
    r = _cli(demo_workspace, "--layer", "elderly_service_points", "--radius", "2000",
             "--add", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no progress lines with --json
    cli = json.loads(r.stdout)
    assert set(cli) >= {"summary", "sites", "excluded"}
    for key in ("problem", "radius_m", "added", "covered_elderly_before", "covered_elderly_after",
                "elderly_coverage_before", "elderly_coverage_after", "optimal", "gap",
                "solve_seconds"):
        assert key in cli["summary"], key
    for key in ("rank", "candidate", "village_code", "name", "lon", "lat", "marginal_elderly"):
        assert key in cli["sites"][0], key
    assert cli["summary"]["problem"] == "mclp" and cli["summary"]["added"] == 3

    s = open_store(demo_workspace)
    direct = siting(s.read("villages"), s.read("elderly_service_points"), problem="mclp",
                    radius_m=2000, add=3)
    assert cli["summary"]["objective"] == direct.summary["objective"]
    assert [x["candidate"] for x in cli["sites"]] == list(direct.sites["candidate"])

    api = make_app({"WORKSPACE": str(demo_workspace)}).test_client().post(
        "/api/siting", json={"layer": "elderly_service_points", "radius": 2000,
                             "add": 3}).get_json()
    assert cli["sites"] == api["sites"] and cli["villages"] == api["villages"]
    skip = ("solve_seconds", "inputs")
    assert {k: v for k, v in cli["summary"].items() if k not in skip} == \
        {k: v for k, v in api["summary"].items() if k not in skip}
    assert cli["summary"]["inputs"]["layer_versions"] == \
        api["summary"]["inputs"]["layer_versions"]


def test_text_output_progress_and_xlsx(demo_workspace, tmp_path):
    out = tmp_path / "选址.xlsx"
    r = _cli(demo_workspace, "--layer", "welfare_homes", "--problem", "pmedian", "--add", "2",
             "--xlsx", str(out))
    assert r.returncode == 0, r.stderr
    assert "%]" in r.stderr and "完成" in r.stderr  # progress on stderr
    assert "选址问题：p-中位" in r.stdout and "服务半径(米)：15000" in r.stdout
    assert "半径来源：默认值" in r.stdout and "建议站点" in r.stdout and "\n  1. " in r.stdout
    assert "老年人平均到最近设施距离(米)" in r.stdout
    wb = load_workbook(out)
    assert wb.sheetnames == ["汇总", "选址建议", "排除的候选点", "村"]
    assert wb["选址建议"].max_row == 3


def test_target_is_the_default_problem_with_target(demo_workspace):
    r = _cli(demo_workspace, "--layer", "elderly_service_points", "--radius", "1500",
             "--target", "0.9", "--weight", "villages", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)["summary"]
    assert s["problem"] == "target" and s["target"] == 0.9
    assert s["target_reached"] is True and s["village_coverage_after"] >= 0.9


def test_bad_input_is_a_chinese_error_and_exit_code(demo_workspace):
    r = _cli(demo_workspace, "--layer", "elderly_service_points", "--add", "0")
    assert r.returncode != 0 and "参数 add" in r.stderr
    r = _cli(demo_workspace, "--layer", "elderly_service_points")
    assert r.returncode != 0 and "add" in r.stderr and "必填" in r.stderr
    r = _cli(demo_workspace, "--layer", "welfare_homes", "--add", "1", "--candidates", "towns")
    assert r.returncode != 0 and "candidates" in r.stderr


def test_sites_that_add_nothing_are_marked_in_the_text_output(demo_workspace):
    r = _cli(demo_workspace, "--layer", "elderly_service_points", "--radius", "2000",
             "--add", "16")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if x.startswith("  ") and "（不再增加覆盖，可不建）" in x]
    assert lines and lines[-1].startswith("  16. ")
    first = int(lines[0].split(".")[0])
    assert f"第 {first} 至 16 处不再增加老年人口覆盖" in r.stdout
