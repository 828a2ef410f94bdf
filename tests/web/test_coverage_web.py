"""Coverage through the API, the page, the downloads and the CLI: one result, three ways."""

from __future__ import annotations

import io
import json

import pytest
from fixtures import run_cli
from openpyxl import load_workbook

from geoservice.analysis.coverage import coverage
from geoservice.services.params import DEFAULT, GIVEN
from layers import open_store


@pytest.fixture
def client(tiny_app):
    return tiny_app.test_client()


def test_api_matches_the_function(client, tiny_workspace):
    body = client.get("/api/coverage?layer=elderly_service_points&radius=1500").get_json()
    s = open_store(tiny_workspace)
    direct = coverage(s.read("villages"), s.read("elderly_service_points"),
                      layer="elderly_service_points", radius_m=1500)
    for key in ("radius_m", "villages", "covered_villages", "village_coverage",
                "presence_coverage", "population_coverage", "elderly_population",
                "covered_elderly", "elderly_coverage", "beds", "beds_per_1000_elderly",
                "target", "meets_target"):
        assert body["summary"][key] == direct.summary[key], key
    assert body["summary"]["inputs"]["layer_versions"] == {
        "villages": 1, "elderly_service_points": 1, "townships": 1}
    by_code = {v["code"]: v for v in body["villages"]}
    for row in direct.villages.itertuples():
        assert by_code[row.code]["covered"] == row.covered
        assert by_code[row.code]["nearest_m"] == pytest.approx(row.nearest_m)
        assert by_code[row.code]["access"] == pytest.approx(row.access, rel=1e-12)
    assert [t["code"] for t in body["townships"]] == ["511425102", "511425108"]
    assert body["townships"][0]["name"] == "甲镇"


def test_cli_json_is_the_same_result(client, tiny_workspace):
    r = run_cli("--workspace", tiny_workspace, "coverage", "--layer", "elderly_service_points",
                "--radius", "1500", "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    api = client.get("/api/coverage?layer=elderly_service_points&radius=1500").get_json()
    assert cli["villages"] == api["villages"] and cli["townships"] == api["townships"]
    assert {k: v for k, v in cli["summary"].items() if k != "inputs"} == \
        {k: v for k, v in api["summary"].items() if k != "inputs"}


def test_default_radius_comes_from_settings_and_is_shown(client):
    body = client.get("/api/coverage?layer=elderly_service_points&level=village_station").get_json()
    assert body["summary"]["radius_m"] == 2000
    assert "village_station" in body["summary"]["radius_source"]
    assert body["summary"]["inputs"]["radius_from"] == DEFAULT
    assert body["summary"]["target"] == 0.8  # mutual-aid target, Hubei
    given = client.get("/api/coverage?layer=elderly_service_points&radius=2000").get_json()
    assert given["summary"]["inputs"]["radius_from"] == GIVEN
    page = client.get("/coverage?layer=elderly_service_points&level=village_station")
    text = page.get_data(as_text=True)
    assert "服务半径 2,000 米" in text and DEFAULT in text
    # the level is accepted by its Chinese label too, and named in the reports
    r = client.get("/coverage/report.xlsx?layer=elderly_service_points&level=村级互助养老服务站")
    summary = {row[0]: row[1] for row in load_workbook(io.BytesIO(r.data))["汇总"]
               .iter_rows(min_row=2, values_only=True)}
    assert summary["设施层级/类型"] == "村级互助养老服务站"
    assert summary["半径来源"] == (f"{DEFAULT}（defaults.toml [coverage.radius_m] "
                               "elderly_service_points.village_station）")


@pytest.mark.parametrize("query, message", [
    ("radius=-5", "参数 radius（服务半径）应在 0 到 200000 米之间，而不是 -5"),
    ("radius=abc", "参数 radius（服务半径，米）“abc”不是数字"),
    ("layer=hospitals", "参数 layer（设施图层）“hospitals”无效：可选 welfare_homes（福利院/特困供养机构）、"
                        "elderly_service_points（养老服务设施）、cemeteries（公墓）"),
    ("layer=welfare_homes&level=village_station",
     "参数 level（层级/类型）“village_station”无效：福利院/特困供养机构可选 county（县级福利院）、"
     "regional（区域性福利院）、township（乡镇敬老院）"),
    ("weighting=cars", "参数 weighting（加权方式）“cars”无效：可选 villages（村覆盖率）、"
                       "population（人口覆盖率）、elderly（老年人口覆盖率）"),
    ("target=150", "参数 target（目标覆盖率）应在 0 到 1（或 0 到 100%）之间，而不是“150”"),
])
def test_bad_parameters_are_chinese_400s(client, query, message):
    """One wording for every parameter (services/params.py): the name, its label, why."""
    r = client.get(f"/api/coverage?{query}")
    assert r.status_code == 400 and r.get_json()["error"] == message


def test_missing_facility_layer_is_404(client):
    r = client.get("/api/coverage?layer=cemeteries")
    assert r.status_code == 404 and "公墓" in r.get_json()["error"]


def test_page_has_form_map_table_and_downloads(client):
    text = client.get("/coverage?radius=1500").get_data(as_text=True)
    assert 'id="coverage-form"' in text and 'id="township-table"' in text
    assert "甲镇" in text and "未达标" in text
    assert "report.xlsx?" in text and "report.csv?" in text and "<iframe" not in text
    assert "服务半径 1,500 米" in text


def test_xlsx_report_has_inputs_and_three_sheets(client):
    r = client.get("/coverage/report.xlsx?layer=elderly_service_points&radius=1500")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames[:3] == ["汇总", "乡镇", "村(社区)"]
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["服务半径(米)"] == 1500 and summary["半径来源"] == GIVEN
    assert summary["设施图层"] == "养老服务设施（第 1 版）"
    assert summary["分析日期"] and summary["村覆盖率"] == 0.5 and summary["是否达标"] == "否"
    header = [c.value for c in wb["村(社区)"][1]]
    assert header[:3] == ["村(社区)代码", "名称", "所属乡镇代码"] and "是否覆盖" in header
    assert wb["村(社区)"].max_row == 5
    towns = [c.value for c in wb["乡镇"][1]]
    assert "每千名老年人床位" in towns and "覆盖率达标" in towns


def test_csv_download_opens_in_excel_and_pandas(client):
    import pandas as pd

    r = client.get("/coverage/report.csv?radius=1500")
    assert r.data.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(io.BytesIO(r.data), comment="#", dtype={"村(社区)代码": str})
    assert len(df) == 4 and set(df["是否覆盖"]) == {"是", "否"}
    assert "服务半径(米): 1500" in r.data.decode("utf-8-sig")


def test_fields_and_paging_of_the_village_rows(client):
    q = "/api/coverage?layer=elderly_service_points&radius=1500"
    whole = client.get(q).get_json()
    assert "numberMatched" not in whole
    r = client.get(q + "&fields=code,covered&limit=2&offset=1")
    assert r.status_code == 200 and r.mimetype == "application/json"
    page = r.get_json()
    assert page["villages"] == [{"code": v["code"], "covered": v["covered"]}
                                for v in whole["villages"][1:3]]
    assert (page["numberMatched"], page["numberReturned"]) == (len(whole["villages"]), 2)
    assert (page["limit"], page["offset"]) == (2, 1)
    assert page["summary"] == whole["summary"] and page["townships"] == whole["townships"]
    assert client.get(q + "&fields=access").get_json()["villages"] == \
        [{"access": v["access"]} for v in whole["villages"]]


@pytest.mark.parametrize("query, message", [
    ("fields=code,nope", "参数 fields 中的字段“nope”无效"),
    ("fields=,", "参数 fields 为空"),
    ("limit=0", "参数 limit“0”应为 1 到"),
    ("offset=-1", "参数 offset“-1”应为 0 到"),
])
def test_bad_fields_or_paging_is_a_chinese_400(client, query, message):
    r = client.get(f"/api/coverage?layer=elderly_service_points&{query}")
    assert r.status_code == 400 and r.get_json()["error"].startswith(message)
