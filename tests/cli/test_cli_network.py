"""``python -m geoservice network check`` on a copy of the demo county."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from geoservice.cli import COMMANDS, main
from geoservice.config import DEMO_WORKSPACE


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """The command as the registry will list it (until it does)."""
    if "network" not in COMMANDS:
        monkeypatch.setitem(COMMANDS, "network", ("geoservice.cli.network", "command", "道路网"))


def _run(tmp_path, *args):
    ws = tmp_path / "demo.gpkg"
    if not ws.exists():
        shutil.copyfile(DEMO_WORKSPACE, ws)
    return CliRunner().invoke(main, ["--workspace", str(ws), "network", *args])


def test_check_json(tmp_path):
    r = _run(tmp_path, "check", "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["summary"]["villages"] == 58
    assert sum(p["villages"] for p in body["parts"]) == 58
    assert body["summary"]["findings"]


def test_check_text_and_thresholds(tmp_path):
    r = _run(tmp_path, "check", "--far", "0", "--dangle", "5")
    assert r.exit_code == 0, r.output
    assert "道路网检查" in r.output and "各等级默认车速" in r.output
    assert "离最近道路过远" in r.output and "悬挂线端距离 5 米" in r.output


def test_bad_threshold_is_a_chinese_error(tmp_path):
    r = _run(tmp_path, "check", "--far", "很远")
    assert r.exit_code != 0
    assert "far" in r.output and "不是数字" in r.output
