"""`python -m geoservice placenames`: JSON equal to the function, XLSX, upload file, errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from geoservice.cli import main
from geoservice.services.placenames import run_placenames
from layers import open_store

GENERATED = Path(__file__).resolve().parents[2] / "layers" / "demo" / "source" / "generated"


def test_json_matches_the_function(demo_workspace, tmp_path):
    out = tmp_path / "pn.xlsx"
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames", "--json",
                                  "--xlsx", str(out)])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    direct = run_placenames(open_store(demo_workspace)).to_dict()
    assert body["findings"] == direct["findings"]
    assert body["summary"]["counts"]["missing"] == 3
    assert body["summary"]["missing"] == 3  # counts by type also at the top of the summary
    assert {"code", "name", "pinyin"} <= set(body["romanization"][0])
    assert load_workbook(out).sheetnames[0] == "更正清单"


def test_label_file_with_its_crs(demo_workspace, tmp_path):
    aliases = tmp_path / "al.csv"
    aliases.write_text("代码,曾用名\n511425112201,双河村\n", encoding="utf-8")
    args = ["--workspace", str(demo_workspace), "placenames", "--json",
            "--labels", str(GENERATED / "place_labels_amap_gcj02.csv")]
    r = CliRunner().invoke(main, args + ["--labels-crs", "gcj02", "--aliases", str(aliases)])
    assert r.exit_code == 0, r.output
    counts = json.loads(r.stdout)["summary"]["counts"]
    assert counts["misplaced"] == 2 and counts["former_name"] == 1
    assert json.loads(r.stdout)["summary"]["inputs"]["labels_crs"] == "gcj02"


def test_errors_are_chinese(demo_workspace):
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames",
                                  "--tolerance", "-5"])
    assert r.exit_code != 0 and "位置容差" in r.output
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames",
                                  "--labels-crs", "gcj02"])
    assert r.exit_code != 0 and "标注文件" in r.output


def test_plain_output(demo_workspace):
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames"])
    assert r.exit_code == 0
    assert "名称错误（wrong_name）：2" in r.output and "洪化村" not in r.output.split("问题清单")[0]


def test_a_label_file_naming_its_own_system_is_converted_without_labels_crs(demo_workspace):
    """The demo export has a 坐标系 column (gcj02): no --labels-crs still converts it; an
    explicit other system contradicts the file and is refused (read raw, the positions would
    be hundreds of metres off)."""
    import pytest

    from geoservice.services.placenames import LabelFileRejected, read_labels_file
    from layers import read_layer

    path = GENERATED / "place_labels_amap_gcj02.csv"
    own = read_labels_file(path, None)
    gcj = read_labels_file(path, "gcj02")
    with pytest.raises(LabelFileRejected, match="GCJ-02"):
        read_labels_file(path, "EPSG:4490")
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames",
                                  "--labels", str(path), "--labels-crs", "bd09"])
    assert r.exit_code != 0 and "坐标系" in r.output and "BD-09" in r.output
    raw = read_layer(path, "place_labels", crs="EPSG:4490")
    assert own.geometry.equals(gcj.geometry)
    shift = own.to_crs(4544).distance(raw.to_crs(4544), align=False)
    assert shift.min() > 100  # GCJ-02 is offset 100-700 m from CGCS2000
    assert set(own["crs"]) == {"gcj02"}
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames", "--json",
                                  "--labels", str(path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["counts"]["misplaced"] == 2


def test_file_errors_are_chinese_and_name_the_option(demo_workspace, tmp_path):
    base = ["--workspace", str(demo_workspace), "placenames"]
    for option in ("--labels", "--aliases", "--readings"):
        r = CliRunner().invoke(main, base + [option, str(tmp_path / "nope.csv")])
        assert r.exit_code != 0 and f"参数 {option}" in r.output and "找不到文件" in r.output
        assert "Invalid value" not in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, base + ["--xlsx", str(tmp_path / "no" / "dir" / "x.xlsx")])
    assert r.exit_code != 0 and "参数 --xlsx" in r.output
    assert not isinstance(r.exception, OSError)


def test_listing_shows_the_label_name_and_help_is_chinese(demo_workspace):
    r = CliRunner().invoke(main, ["--workspace", str(demo_workspace), "placenames"])
    assert "鸿化村（标注“洪化村”）" in r.output
    r = CliRunner().invoke(main, ["--help"])
    line = [x for x in r.output.splitlines() if x.strip().startswith("placenames")][0]
    assert "地名核查" in line
