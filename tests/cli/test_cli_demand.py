"""`coverage` and `siting` with --year, --growth and --projection: the same figures as the
service, the year used in the text and the JSON, bad tables refused with row-level Chinese
messages. Tiny county: 500/300/250/600 elderly, base year 2024."""

from __future__ import annotations

import json

from fixtures import run_cli

from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store


def _cli(workspace, *args):
    return run_cli("--workspace", str(workspace), *args)


def test_coverage_json_with_and_without_a_year(tiny_workspace):
    r = _cli(tiny_workspace, "coverage", "--radius", "1500", "--json")
    assert r.returncode == 0, r.stderr
    plain = json.loads(r.stdout)
    assert "demand" not in plain["summary"]
    service = json.loads(json.dumps(run_coverage(open_store(tiny_workspace),
                                                 coverage_params(radius="1500")).to_dict(),
                                    ensure_ascii=False))
    for body in (plain, service):
        body["summary"]["inputs"].pop("date", None)
    assert plain == service

    r = _cli(tiny_workspace, "coverage", "--radius", "1500", "--year", "2030", "--growth",
             "511425102:0.05,511425108:0.01", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    # 1.05**6 = 1.340096: 500 -> 670.05, 300 -> 402.03; 1.01**6 = 1.061520: 250 -> 265.38,
    # 600 -> 636.91
    assert sorted(v["elderly_population"] for v in body["villages"]) == [265, 402, 637, 670]
    assert body["summary"]["demand"] == {
        "year": 2030, "base_year": 2024, "source": "年增长率（分乡镇）甲镇 5%、乙镇 1%",
        "given": True}


def test_text_names_the_year_and_a_bad_table_is_refused(tiny_workspace, tmp_path):
    good = tmp_path / "预测.csv"
    good.write_text("村代码,年份,60岁以上人口\n511425102200,2030,510\n511425102201,2030,310\n"
                    "511425108200,2030,260\n511425108201,2030,610\n", encoding="utf-8")
    r = _cli(tiny_workspace, "coverage", "--year", "2030", "--projection", str(good))
    assert r.returncode == 0, r.stderr
    assert "需求年份：2030 年（预测表 预测.csv，基准年 2024 年）" in r.stdout
    assert "60岁以上人口：1690" in r.stdout  # 510 + 310 + 260 + 610

    bad = tmp_path / "bad.csv"
    bad.write_text("村代码,年份,60岁以上人口\n511425102200,2030,x\n511425102200,2030,1\n",
                   encoding="utf-8")
    r = _cli(tiny_workspace, "siting", "--layer", "elderly_service_points", "--add", "1",
             "--year", "2030", "--projection", str(bad))
    assert r.returncode == 1
    assert "预测表“bad.csv”不能使用，共 2 处问题" in r.stderr
    assert "第 2 行" in r.stderr and "60岁以上人口不是数字" in r.stderr
    assert "第 3 行" in r.stderr and "代码与年份重复" in r.stderr


def test_siting_with_a_year(tiny_workspace):
    r = _cli(tiny_workspace, "siting", "--layer", "elderly_service_points", "--add", "1",
             "--year", "2030", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["summary"]["demand"]["source"] == "年增长率 3%（默认）"
    # 1.03**6 = 1.194052: 597, 358, 299, 716
    assert sorted(v["elderly_population"] for v in body["villages"]) == [299, 358, 597, 716]
    r = _cli(tiny_workspace, "siting", "--layer", "elderly_service_points", "--add", "1",
             "--year", "2030")
    assert r.returncode == 0, r.stderr
    assert "需求年份：2030 年（年增长率 3%（默认），基准年 2024 年）" in r.stdout
