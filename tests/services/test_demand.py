"""The target year's demand: projected elderly population equals a hand computation (county
rate, per-township rates, a projection table with village and township rows), coverage with
a year equals coverage on villages carrying those figures, bad tables are refused row by row
and change nothing stored. The tiny county (tests/fixtures.py): 甲镇 511425102 with 甲一村
500 and 甲二村 300 elderly, 乙镇 511425108 with 乙一村 250 and 乙二村 600; base year 2024."""

from __future__ import annotations

import pandas as pd
import pytest

from geoservice.analysis.coverage import coverage
from geoservice.errors import BadParameter
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.demand import ProjectionRejected, read_projection
from geoservice.services.siting import run_siting, siting_params
from layers import open_store

CODES = ["511425102200", "511425102201", "511425108200", "511425108201"]


@pytest.fixture
def store(tiny_workspace):
    return open_store(tiny_workspace)


def _elderly(result) -> list[int]:
    by_code = dict(zip(result.villages["code"], result.villages["elderly_population"],
                       strict=True))
    return [int(by_code[c]) for c in CODES]


def _csv(tmp_path, text: str, name: str = "预测.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_projection(path)


def test_default_county_rate_is_the_hand_computation(store):
    result = run_coverage(store, coverage_params(year="2030"))
    # 6 years at 3%: 1.03**6 = 1.194052...; 500 -> 597.03, 300 -> 358.22, 250 -> 298.51,
    # 600 -> 716.43, rounded to whole people
    assert _elderly(result) == [597, 358, 299, 716]
    assert result.summary["elderly_population"] == 597 + 358 + 299 + 716
    assert result.summary["demand"] == {"year": 2030, "base_year": 2024,
                                        "source": "年增长率 3%（默认）", "given": False}


def test_per_township_rates_are_the_hand_computation(store):
    result = run_coverage(store, coverage_params(year="2028", growth="511425102:5%,511425108:-0.01"))
    # 4 years: 1.05**4 = 1.21550625 (500 -> 607.75, 300 -> 364.65);
    # 0.99**4 = 0.96059601 (250 -> 240.15, 600 -> 576.36)
    assert _elderly(result) == [608, 365, 240, 576]
    assert result.summary["demand"]["source"] == "年增长率（分乡镇）甲镇 5%、乙镇 -1%"
    assert result.summary["demand"]["given"] is True
    # a bare rate for the townships not listed: 1.02**4 = 1.08243216 (250 -> 270.61, 600 -> 649.46)
    mixed = run_coverage(store, coverage_params(year="2028", growth="0.02,511425102:5%"))
    assert _elderly(mixed) == [608, 365, 271, 649]
    assert mixed.summary["demand"]["source"] == "年增长率（分乡镇）甲镇 5%；其他乡镇 2%"


def test_projection_table_with_village_and_township_rows(store, tmp_path):
    table = _csv(tmp_path, "村代码,乡镇代码,年份,60岁以上人口\n"
                           "511425102200,,2030,520\n"
                           ",511425102,2030,1000\n"
                           ",511425108,2030,900\n"
                           ",511425108,2035,5000\n")
    result = run_coverage(store, coverage_params(year="2030", projection=table))
    # 甲一村 has its own row (520); 甲镇's 1000 leaves 480 for 甲二村. 乙镇's 900 spreads
    # over 250 : 600 -> 264.71 and 635.29; floors 264 + 635 = 899, the one person left
    # goes to the larger remainder (0.71): 265 and 635.
    assert _elderly(result) == [520, 480, 265, 635]
    assert result.summary["demand"] == {"year": 2030, "base_year": 2024,
                                        "source": "预测表 预测.csv", "given": True}


def test_projection_xlsx_with_english_headers(store, tmp_path):
    path = tmp_path / "projection.xlsx"
    pd.DataFrame({"code": CODES, "year": [2035] * 4,
                  "elderly_population": [510, 310, 260, 610.4]}).to_excel(path, index=False)
    result = run_coverage(store, coverage_params(year="2035", projection=read_projection(path)))
    assert _elderly(result) == [510, 310, 260, 610]


def test_coverage_with_a_year_equals_coverage_on_replaced_villages(store):
    with_year = run_coverage(store, coverage_params(radius="1500", year="2030"))
    villages = store.read("villages")
    hand = {"511425102200": 597, "511425102201": 358, "511425108200": 299,
            "511425108201": 716}
    villages["elderly_population"] = [hand[c] for c in villages["code"]]
    store.write("villages", villages, source="projected.geojson", source_crs="EPSG:4490")
    replaced = run_coverage(store, coverage_params(radius="1500"))
    a, b = with_year.to_dict(), replaced.to_dict()
    for body in (a, b):
        body["summary"] = {k: v for k, v in body["summary"].items()
                           if k not in ("inputs", "demand")}
    assert a == b
    assert a["summary"]["elderly_population"] == sum(hand.values())
    # the direct analysis on the replaced frame says the same
    direct = coverage(villages, store.read("elderly_service_points"),
                      layer="elderly_service_points", radius_m=1500)
    assert with_year.summary["covered_elderly"] == direct.summary["covered_elderly"]


def test_without_a_year_nothing_changes(store):
    plain = run_coverage(store, coverage_params(radius="1500"))
    empty = run_coverage(store, coverage_params(radius="1500", year="", growth=""))
    assert "demand" not in plain.summary and plain.to_dict() == empty.to_dict()
    assert coverage_params(radius="1500").query() == {
        "layer": "elderly_service_points", "radius": 1500, "weighting": "villages"}
    p = siting_params(layer="elderly_service_points", add="1")
    assert p.demand is None and "demand" not in p.to_dict() and "year" not in p.query()
    stored = store.read("villages")
    assert _elderly(plain) == [int(stored.set_index("code").loc[c, "elderly_population"])
                               for c in CODES]


def test_siting_uses_the_projected_elderly(store):
    run = run_siting(store, siting_params(layer="elderly_service_points", add="1", year="2030",
                                          growth="0.1"))
    # 1.1**6 = 1.771561: 500 -> 885.78, 300 -> 531.47, 250 -> 442.89, 600 -> 1062.94
    assert sorted(run.result.villages["elderly_population"].astype(int)) == [443, 531, 886, 1063]
    assert run.summary["demand"]["source"] == "年增长率 10%"
    assert run.summary["inputs"]["parameters"]["demand"] == {"year": 2030, "growth": "0.1"}


def _refused(store, tmp_path, text):
    before = ({k: v.version for k, v in store.current_versions().items()},
              len(store.audit_rows()))
    with pytest.raises(ProjectionRejected) as err:
        run_coverage(store, coverage_params(year="2030", projection=_csv(tmp_path, text)))
    after = ({k: v.version for k, v in store.current_versions().items()},
             len(store.audit_rows()))
    assert before == after  # nothing stored
    return err.value


def test_bad_rows_are_named_by_file_row_and_field(store, tmp_path):
    exc = _refused(store, tmp_path, "村代码,年份,60岁以上人口\n"
                                    "511425102200,2030,abc\n"
                                    "511425999999,2030,10\n"
                                    "511425102201,二〇三〇,10\n"
                                    "511425108200,2030,10\n"
                                    "511425108200,2030,11\n"
                                    "511425108201,2030,-3\n")
    got = {(p.row, p.field, p.message) for p in exc.problems}
    assert got == {
        (2, "60岁以上人口", "60岁以上人口不是数字"),
        (3, "村代码", "代码不是工作空间中的村(社区)代码"),
        (4, "年份", "年份不是四位数的年份"),
        (6, "村代码", "代码与年份重复：与第 5 行是同一代码、同一年份"),
        (7, "60岁以上人口", "60岁以上人口不能为负数"),
    }
    assert all(p.file == "预测.csv" for p in exc.problems)
    assert str(exc).startswith("预测表“预测.csv”不能使用，共 5 处问题")
    assert "第 3 行" in str(exc) and "511425999999" in str(exc)


def test_a_year_the_table_leaves_villages_out_of_is_refused(store, tmp_path):
    exc = _refused(store, tmp_path, "code,year,elderly_population\n"
                                    "511425102200,2030,1\n511425102,2030,0\n")
    # 甲镇's total 0 is below 甲一村's own row; 乙镇's villages have no figure
    messages = " ".join(p.message for p in exc.problems)
    assert "乡镇合计与该乡镇已单列的村(社区)之和不符" in messages
    with pytest.raises(ProjectionRejected) as err:
        run_coverage(store, coverage_params(year="2031", projection=_csv(
            tmp_path, "code,year,elderly_population\n511425102,2031,900\n")))
    assert "2031 年缺少村(社区) 511425108200、511425108201 的数据" in str(err.value)
    with pytest.raises(ProjectionRejected) as err:
        run_coverage(store, coverage_params(year="2040", projection=_csv(
            tmp_path, "code,year,elderly_population\n511425102,2031,900\n")))
    assert "预测表中没有 2040 年的数据（表中年份：2031）" in str(err.value)


def test_missing_columns_and_bad_parameters(store, tmp_path):
    with pytest.raises(ProjectionRejected, match="缺少列：年份"):
        _csv(tmp_path, "村代码,60岁以上人口\n511425102200,1\n")
    for kwargs, words in (
            ({"year": "30"}, "参数 year（目标年份）“30”应为四位数的年份"),
            ({"year": "2020"}, "应在 2024 到 2074 年之间"),
            ({"growth": "0.03"}, "还需要参数 year（目标年份）"),
            ({"year": "2030", "growth": "abc"}, "参数 growth（年增长率）“abc”不是数字"),
            ({"year": "2030", "growth": "80%"}, "应在 -50% 到 50% 之间"),
            ({"year": "2030", "growth": "5114251:0.1"}, "应为 9 位数字")):
        with pytest.raises(BadParameter, match=words):
            coverage_params(**kwargs)
    with pytest.raises(BadParameter, match="乡镇代码“511425199”不是工作空间"):
        run_coverage(store, coverage_params(year="2030", growth="511425199:0.02"))


def test_rows_after_a_blank_line_keep_the_row_a_spreadsheet_shows(tmp_path):
    path = tmp_path / "projection.csv"
    # row 1 header, row 2 good, row 3 blank, row 4 a year that is not a number
    path.write_text("村代码,年份,60岁以上人口\n511425100201,2030,900\n\n511425100202,明年,800\n",
                    encoding="utf-8")
    table = read_projection(path)
    assert [(p.row, p.field) for p in table.problems] == [(4, "年份")]
