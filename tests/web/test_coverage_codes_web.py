"""A workspace whose villages layer repeats a code: the coverage warning is the same in the
JSON, on the page (above the summary), in the CLI and in the workbook."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from fixtures import make_app, run_cli
from openpyxl import load_workbook

from layers import open_store

DUP = "511425108200"  # 乙一村's code, given to 乙二村 as well


@pytest.fixture
def workspace(tiny_workspace):
    store = open_store(tiny_workspace)
    villages = store.read("villages")
    villages.loc[villages["name"] == "乙二村", "code"] = DUP
    store.write("villages", villages, source="测试：代码重复的村图层", source_crs="EPSG:4490")
    return tiny_workspace


def test_warning_is_said_everywhere(workspace):
    client = make_app({"WORKSPACE": str(workspace)}).test_client()
    q = "layer=elderly_service_points&radius=1500"
    s = client.get(f"/api/coverage?{q}").get_json()["summary"]
    warnings = s["code_warnings"]
    assert len(warnings) == 2
    assert f"{DUP}（乙一村、乙二村）" in warnings[0]
    assert f"养老服务设施“乙二村互助养老服务站”：{DUP}" in warnings[1]
    assert s["ambiguous_village_codes"][0]["names"] == ["乙一村", "乙二村"]

    page = client.get(f"/coverage?{q}").get_data(as_text=True)
    box = page[page.index('id="code-warnings"'):page.index('id="coverage-summary"')]
    assert [html.unescape(w) for w in re.findall(r"<p>(.*?)</p>", box)] == warnings

    cli = run_cli("--workspace", workspace, "coverage", "--layer", "elderly_service_points",
                  "--radius", "1500")
    assert cli.returncode == 0, cli.stderr
    assert [x for x in cli.stdout.splitlines() if x.startswith("注意：")] == \
        [f"注意：{w}" for w in warnings]
    as_json = run_cli("--workspace", workspace, "coverage", "--layer",
                      "elderly_service_points", "--radius", "1500", "--json")
    assert json.loads(as_json.stdout)["summary"]["code_warnings"] == warnings

    book = load_workbook(io.BytesIO(client.get(f"/coverage/report.xlsx?{q}").data))
    assert [r[1] for r in book["汇总"].iter_rows(values_only=True) if r[0] == "注意"] == warnings


def test_no_warning_box_without_repeated_codes(tiny_workspace):
    client = make_app({"WORKSPACE": str(tiny_workspace)}).test_client()
    assert 'id="code-warnings"' not in client.get("/coverage?radius=1500").get_data(as_text=True)
    assert client.get("/api/coverage?radius=1500").get_json()["summary"]["code_warnings"] == []
