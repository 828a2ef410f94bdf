"""`python -m geoservice boundaries ...` as a user runs it: JSON, reports, merge, errors."""

from __future__ import annotations

import json
import zipfile

from fixtures import ROOT
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
    assert set(body) == {"summary", "findings", "boundary_lines", "groups"}
    counts = body["summary"]["counts"]
    assert counts["marker_off_line"] == 1 and counts["duplicate_marker"] == 1
    assert body["summary"]["duplicate_marker"] == 1  # also at the top of the summary
    direct = run_boundaries(open_store(demo_workspace), boundary_params("townships")).to_dict()
    assert body["findings"] == direct["findings"]
    assert body["boundary_lines"] == direct["boundary_lines"]
    assert body["groups"] == direct["groups"]
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


MEISHAN = ROOT / "tests" / "data" / "boundaries" / "meishan_counties.geojson"
ZHUSHAN = ROOT / "tests" / "data" / "second_county" / "zhushan_outline.geojson"


def test_outline_of_several_features_needs_a_choice(demo_workspace):
    from geoservice.services.boundaries import read_outline

    r = run("--workspace", demo_workspace, "boundaries", "--outline", MEISHAN)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "“meishan_counties.geojson”包含 6 个面要素" in r.stderr
    assert "--outline-feature" in r.stderr
    for name in ("东坡区（511402）", "彭山区（511403）", "仁寿县（511421）", "洪雅县（511423）",
                 "丹棱县（511424）", "青神县（511425）"):
        assert name in r.stderr
    r = run("--workspace", demo_workspace, "boundaries", "--outline", MEISHAN,
            "--outline-feature", "511425", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["summary"]["inputs"]["outline"] == "meishan_counties.geojson：青神县（511425）"
    direct = run_boundaries(open_store(demo_workspace), boundary_params("townships"),
                            read_outline(str(MEISHAN), "青神县",
                                         filename="meishan_counties.geojson")).to_dict()
    assert body["findings"] == direct["findings"]
    assert body["summary"]["gap_area_m2"] == direct["summary"]["gap_area_m2"]
    r = run("--workspace", demo_workspace, "boundaries", "--outline-feature", "511425")
    assert r.returncode != 0 and "--outline（县界文件）" in r.stderr


def test_outline_of_one_feature_in_two_parts_is_used_and_said(demo_workspace):
    r = run("--workspace", demo_workspace, "boundaries", "--outline", ZHUSHAN)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("县界文件："))
    assert "zhushan_outline.geojson：竹山县（420323）" in line
    assert "由 2 个不相连的部分组成" in line


def test_identical_findings_are_one_line_of_text(tiny_workspace, tmp_path):
    store = open_store(tiny_workspace)
    v = store.read("villages")
    short = ["511425", "511426", "511427"]
    v.loc[:2, "code"] = short
    store.write("villages", v, source="测试：6 位代码", source_crs="EPSG:4490")
    xlsx = tmp_path / "r.xlsx"
    r = run("--workspace", tiny_workspace, "boundaries", "--layer", "villages", "--xlsx", xlsx)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if "的代码为 6 位" in x]
    assert len(lines) == 1
    assert "3 个村(社区)的代码为 6 位，应为 12 位数字：" in lines[0]
    names = list(v["name"][:3])
    for code, name in zip(short, names, strict=True):
        assert f"{name}（{code}）" in lines[0]
    r = run("--workspace", tiny_workspace, "boundaries", "--layer", "villages", "--json")
    body = json.loads(r.stdout)
    fmt = [f for f in body["findings"] if f["type"] == "bad_code" and f["subtype"] == "format"]
    assert sorted(f["codes"][0] for f in fmt) == short
    group = [g for g in body["groups"] if g["type"] == "bad_code" and g["count"] > 1]
    assert len(group) == 1 and group[0]["message"] == lines[0].split("] ", 1)[1]
    rows = list(load_workbook(xlsx)["问题清单"].iter_rows(values_only=True))
    codes = [row[3] for row in rows[1:] if row[-1] == "bad_code"]
    assert sorted(c for c in codes if c in short) == short
