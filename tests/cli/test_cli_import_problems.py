"""`python -m geoservice import` with a long problem list and the import limits (issue 11)."""

from __future__ import annotations

import csv
import io
import json

from fixtures import run_cli as run


def bad_csv(tmp_path, n: int):
    path = tmp_path / "bad.csv"
    path.write_text("名称,层级,经度,纬度\n" + "".join(
        f"站{i},村级互助养老服务站,abc,29.8\n" for i in range(n)), encoding="utf-8")
    return path


def test_long_problem_list_is_capped_and_written_whole_on_request(tiny_workspace, tmp_path):
    bad = bad_csv(tmp_path, 50)
    out = tmp_path / "problems.csv"
    env = {"GEOSERVICE_PROBLEMS_SHOWN": "5"}
    before = run("--workspace", tiny_workspace, "layers", "--json").stdout
    r = run("--workspace", tiny_workspace, "import", "elderly_service_points", bad, env=env)
    assert r.returncode == 1
    # 50 identical problems are one line with the first 10 lines (2-11) and 等
    assert "共 50 处问题（1 类）" in r.stderr and r.stderr.count("不是数字") == 1
    rows = "、".join(str(n) for n in range(2, 12))
    assert f"  bad.csv，50 行，字段“经度”：坐标“abc”不是数字（第 {rows} 行等）" in r.stderr
    assert "--problems-csv" in r.stderr
    r = run("--workspace", tiny_workspace, "import", "elderly_service_points", bad, "--json",
            "--problems-csv", out, env=env)
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["ok"] is False and body["problem_count"] == 50 and len(body["problems"]) == 5
    assert body["problem_counts"] == [{"kind": "经度：坐标“…”不是数字", "count": 50}]
    [group] = body["problem_groups"]
    assert (group["count"], group["field"], group["message"]) == (50, "经度", "坐标“abc”不是数字")
    assert group["rows"] == list(range(2, 12)) and group["rows_more"] == 40
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 51 and rows[1][0] == "bad.csv"
    assert run("--workspace", tiny_workspace, "layers", "--json").stdout == before


def test_feature_limit_from_the_environment(tiny_workspace, tmp_path):
    good = tmp_path / "homes.csv"
    good.write_text("名称,经度,纬度\n甲院,103.8,29.8\n乙院,103.81,29.81\n丙院,103.82,29.82\n",
                    encoding="utf-8")
    r = run("--workspace", tiny_workspace, "import", "welfare_homes", good,
            env={"GEOSERVICE_IMPORT_MAX_FEATURES": "2"})
    assert r.returncode == 1 and "上限 2 行" in r.stderr and "IMPORT_MAX_FEATURES" in r.stderr
    r = run("--workspace", tiny_workspace, "import", "welfare_homes", good)
    assert r.returncode == 0, r.stderr
