"""Beds per 1,000 elderly as the plans count it (every welfare-home and service-point bed),
beside the layer's own figure, the same in the JSON, on the page and in the CLI; graves,
never beds, for cemeteries. Expected numbers are computed here from the raw layers."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from fixtures import make_app, run_cli

from layers import open_store

CARE = ("welfare_homes", "elderly_service_points")
QUERY = "layer=elderly_service_points&level=village_station&radius=2000"


def township_of(villages, geom):
    for poly, town in zip(villages.geometry, villages["township_code"], strict=True):
        if poly.covers(geom):
            return town
    return None


def per_township(villages, frames, column="beds") -> pd.Series:
    rows = [(township_of(villages, g), v) for fac in frames
            for g, v in zip(fac.geometry, fac[column], strict=True)]
    df = pd.DataFrame(rows, columns=["township", "value"])
    df["value"] = pd.to_numeric(df["value"], errors="coerce").fillna(0)
    towns = sorted(villages["township_code"].unique())
    return df.groupby("township")["value"].sum().reindex(towns, fill_value=0)


@pytest.fixture(scope="module")
def demo(module_demo_workspace):
    s = open_store(module_demo_workspace)
    layers = {k: s.read(k) for k in ("villages", "cemeteries", *CARE)}
    v = layers["villages"]
    elderly = v.groupby("township_code")["elderly_population"].sum().sort_index()
    points = layers["elderly_service_points"]
    care = per_township(v, [layers[k] for k in CARE])
    own = per_township(v, [points[points["level"] == "village_station"]])
    return {"layers": layers, "elderly": elderly, "care": care * 1000 / elderly,
            "own": own * 1000 / elderly,
            "county": sum(pd.to_numeric(layers[k]["beds"]).fillna(0).sum() for k in CARE)
            * 1000 / elderly.sum()}


@pytest.fixture(scope="module")
def client(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)}).test_client()


def test_json_townships_carry_both_figures(client, demo):
    body = client.get(f"/api/coverage?{QUERY}").get_json()
    towns = {t["code"]: t for t in body["townships"]}
    assert list(towns) == list(demo["care"].index)
    for code, want in demo["care"].items():
        assert towns[code]["care_beds_per_1000_elderly"] == pytest.approx(want, rel=1e-12)
        assert towns[code]["beds_per_1000_elderly"] == pytest.approx(demo["own"][code],
                                                                     rel=1e-12)
        assert towns[code]["meets_beds_target"] is bool(want >= 35)
    s = body["summary"]
    assert s["care_beds_per_1000_elderly"] == pytest.approx(demo["county"], rel=1e-12)
    assert s["beds_target"] == 35 and s["meets_beds_target"] is bool(demo["county"] >= 35)
    assert s["inputs"]["care_layer_versions"] == {"welfare_homes": 1,
                                                  "elderly_service_points": 1}


def test_page_township_table_shows_both_figures(client, demo):
    text = client.get(f"/coverage?{QUERY}").get_data(as_text=True)
    table = text[text.index('id="township-table"'):]
    table = table[:table.index("</table>")]
    care = re.findall(r'<td class="care-beds">([^<]*)</td>', table)
    own = re.findall(r'<td class="layer-beds">([^<]*)</td>', table)
    assert care == [f"{x:.1f}" for x in demo["care"]]
    assert own == [f"{x:.1f}" for x in demo["own"]]
    assert "每千名老年人床位" in table and "其中本图层" in table
    note = html.unescape(text[text.index('id="beds-note"'):].split("</p>")[0])
    assert "福利院/特困供养机构+养老服务设施" in note and "≥ 35" in note
    summary = text[text.index('id="coverage-summary"'):text.index('id="township-table"')]
    assert f"{demo['county']:.2f}" in summary  # the county figure, beside the layer's


def test_cli_prints_both_figures_per_township(module_demo_workspace, demo):
    r = run_cli("--workspace", module_demo_workspace, "coverage", "--layer",
                "elderly_service_points", "--level", "village_station", "--radius", "2000")
    assert r.returncode == 0, r.stderr
    names = dict(zip(*[open_store(module_demo_workspace).read("townships")[c]
                       for c in ("code", "name")], strict=True))
    for code, want in demo["care"].items():
        verdict = "达标" if want >= 35 else "未达标"
        line = (f"  {names[code]}：", f"每千名老年人床位 {want:.1f}（{verdict}），"
                f"其中本图层 {demo['own'][code]:.1f}")
        assert any(x.startswith(line[0]) and line[1] in x for x in r.stdout.splitlines())
    assert f"每千名老年人床位：{demo['county']:.2f}" in r.stdout


def test_cemeteries_speak_of_graves(client, module_demo_workspace, demo):
    body = client.get("/api/coverage?layer=cemeteries").get_json()
    assert not [k for t in body["townships"] for k in t if "bed" in k]
    v, cem = demo["layers"]["villages"], demo["layers"]["cemeteries"]
    cap = per_township(v, [cem], "capacity_graves")
    assert [t["capacity_graves"] for t in body["townships"]] == cap.tolist()
    text = client.get("/coverage?layer=cemeteries").get_data(as_text=True)
    table = text[text.index('id="township-table"'):]
    table = table[:table.index("</table>")]
    assert "床位" not in table and "剩余墓穴数" in table and "设计墓穴数" in table
    assert 'id="beds-note"' not in text
    r = run_cli("--workspace", module_demo_workspace, "coverage", "--layer", "cemeteries")
    assert r.returncode == 0, r.stderr
    assert "床位" not in r.stdout and "剩余墓穴数" in r.stdout
