"""`python -m geoservice import` of a villages file with defects (issue 12): imported, the
warnings printed in Chinese with identical ones grouped (text and --json), the per-row
list written by --problems-csv. On the second county (``tests/second_county.py``)."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
import second_county as sc
from fixtures import run_cli as run

from layers import open_store

SHORT = "所属乡镇代码为 6 位，应为 9 位"


@pytest.fixture(scope="module")
def built(county, county_workspace_master, tmp_path_factory):
    folder = tmp_path_factory.mktemp("zhushan")
    villages, short = sc.inject_short_codes(county.villages, "township_code", 103, seed=9)
    same = villages[villages["township_code"] == "420323103"]["code"]
    villages, dup = sc.inject_duplicate_code(villages, same.iloc[0], same.iloc[4])
    path = sc.write_polygons(villages, folder / "villages_defects.geojson", "villages")
    workspace = folder / "zhushan.gpkg"
    shutil.copyfile(county_workspace_master, workspace)
    return workspace, path, short, dup


@pytest.fixture
def workspace(built, tmp_path):
    path = tmp_path / "zhushan.gpkg"
    shutil.copyfile(built[0], path)
    return path


def test_text_output_groups_the_warnings(built, workspace):
    _, path, short, dup = built
    r = run("--workspace", workspace, "import", "villages", path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "导入时发现 105 处警告（2 类）" in out
    rows = "、".join(str(f) for f in short["features"][:10])
    assert f"  villages_defects.geojson，103 个要素：{SHORT}（第 {rows} 个要素等）" in out
    dups = "、".join(str(f) for f in dup["features"])
    assert f"  villages_defects.geojson，2 个要素：村(社区)代码重复（第 {dups} 个要素）" in out
    assert out.count(SHORT) == 1 and "--problems-csv" in out
    assert "已导入“村(社区)”第 2 版，共 244 个要素（输入坐标系 EPSG:4490），有 105 处警告。" in out
    assert out.index("导入时发现") < out.index("已导入")
    assert open_store(workspace).current_versions()["villages"].version == 2


def test_json_output_and_the_whole_list(built, workspace, tmp_path):
    _, path, short, dup = built
    listing = tmp_path / "warnings.csv"
    r = run("--workspace", workspace, "import", "villages", path, "--json",
            "--problems-csv", listing)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["ok"] is True and body["version"]["version"] == 2
    assert body["warning_count"] == 105 and body["problems_csv"] == str(listing)
    assert [(g["count"], g["message"]) for g in body["warnings"]] == [
        (103, SHORT), (2, "村(社区)代码重复")]
    assert body["warnings"][0]["rows"] == short["features"][:10]
    assert body["warnings"][1]["rows"] == dup["features"]
    rows = list(csv.reader(io.StringIO(listing.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 106
    assert sorted(int(r[1].split()[1]) for r in rows[1:] if r[3] == SHORT) == short["features"]
    assert {r[4] for r in rows[1:] if r[3] == "村(社区)代码重复"} == {dup["code"]}
