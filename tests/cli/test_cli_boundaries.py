"""`python -m geoservice boundaries ...` as a user runs it: JSON, reports, merge, errors."""

from __future__ import annotations

import json
import zipfile

from fixtures import run_cli as run
from openpyxl import load_workbook

from geoservice.services.boundaries import boundary_params, run_boundaries
from geoservice.services.params import GIVEN
from layers import open_store


def test_review_json_matches_the_service(demo_workspace, tmp_path):
    xlsx, lines = tmp_path / "r.xlsx", tmp_path / "lines.zip"
    r = run("--workspace", demo_workspace, "boundaries", "--json", "--xlsx", xlsx,
            "--lines-out", lines)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert set(body) == {"summary", "findings", "boundary_lines"}
    counts = body["summary"]["counts"]
    assert counts["marker_off_line"] == 1 and counts["duplicate_marker"] == 1
    assert body["summary"]["duplicate_marker"] == 1  # also at the top of the summary
    direct = run_boundaries(open_store(demo_workspace), boundary_params("townships")).to_dict()
    assert body["findings"] == direct["findings"]
    assert body["boundary_lines"] == direct["boundary_lines"]
    assert len([x for x in body["boundary_lines"] if len(x["codes"]) == 2]) == 10
    assert load_workbook(xlsx).sheetnames == ["汇总", "问题清单", "界线登记表"]
    assert "boundary_lines.cpg" in zipfile.ZipFile(lines).namelist()


def test_review_text_villages_and_bad_tolerance(demo_workspace):
    r = run("--workspace", demo_workspace, "boundaries", "--layer", "villages", "--area", "2")
    assert r.returncode == 0, r.stderr
    assert "审查图层：村(社区)（第 1 版）" in r.stdout and f"2（{GIVEN}" in r.stdout
    r = run("--workspace", demo_workspace, "boundaries", "--width", "宽")
    assert r.returncode != 0 and "width" in r.stderr and "不是数字" in r.stderr


def test_merge_simulates_then_applies(demo_workspace):
    args = ("--workspace", demo_workspace, "boundaries", "merge", "--codes",
            "511425102201,511425102208", "--name", "汉阳场社区", "--json")
    r = run(*args)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["applied"] is None and not body["name_check"]["ok"]
    assert body["name_check"]["conflicts"][0]["name"] == "汉阳场社区"
    assert body["new_code"] == "511425102002"  # a community: 001-199, lowest free
    assert open_store(demo_workspace).current_versions()["villages"].version == 1
    # A name already used in the township is not written (one place, one name).
    r = run(*args, "--apply")
    assert r.returncode != 0 and "重名，不能应用" in r.stderr
    assert open_store(demo_workspace).current_versions()["villages"].version == 1
    free = [a if a != "汉阳场社区" else "汉阳新城社区" for a in args]
    r = run(*free, "--apply")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["applied"]["version"] == 2
    store = open_store(demo_workspace)
    assert len(store.read("villages")) == 57 and len(store.read("villages", version=1)) == 58
    # Facilities that sat in the merged villages now point at the merged village's code.
    codes = set(store.read("villages")["code"])
    moved = body["facilities_recoded"]
    for kind in ("welfare_homes", "elderly_service_points", "cemeteries", "place_labels"):
        if kind in store.current_versions() and "village_code" in store.read(kind).columns:
            vc = store.read(kind)["village_code"].dropna()
            assert set(vc) <= codes, kind
            if kind in moved:
                assert store.current_versions()[kind].version == 2
                assert (vc == body["new_code"]).sum() >= moved[kind]
    assert sum(moved.values()) > 0
    r = run("--workspace", demo_workspace, "boundaries", "merge", "--codes",
            "511425102001,511425108205", "--name", "新村")
    assert r.returncode != 0 and "同一乡镇" in r.stderr


def test_merge_xlsx_and_township_apply(demo_workspace, tmp_path):
    out = tmp_path / "merge.xlsx"
    args = ("--workspace", demo_workspace, "boundaries", "merge", "--layer", "townships",
            "--codes", "511425217,511425218", "--name", "白罗乡")
    r = run(*args, "--xlsx", out)
    assert r.returncode == 0, r.stderr
    assert "村代码调整：西坝村 511425218204 → 511425217200" in r.stdout
    wb = load_workbook(out)
    assert wb.sheetnames == ["合并汇总", "合并前", "合并后", "村代码调整"]
    assert wb["村代码调整"].max_row == 14  # header + 13 villages of the two townships
    r = run(*args, "--xlsx", tmp_path / "no" / "such" / "dir.xlsx")
    assert r.returncode != 0 and "无法写出文件" in r.stderr and "Traceback" not in r.stderr
    r = run(*args, "--apply", "--json")
    assert r.returncode == 0, r.stderr
    applied = json.loads(r.stdout)["applied"]
    assert applied["version"] == 2 and applied["villages"]["version"] == 2
    store = open_store(demo_workspace)
    v = store.read("villages")
    assert (v["code"].str[:9] == v["township_code"]).all()
