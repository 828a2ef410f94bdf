"""The CLI starts fast: help pages and `layers` import no geopandas, shapely, pandas or folium.

Each command runs in a child process under ``python -X importtime``, which lists every
module the process imported (on stderr); the heavy libraries must not be among them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fixtures import ROOT

from layers.schema import KINDS

HEAVY = {"geopandas", "shapely", "pandas", "folium"}
HELP = [("--help",), ("import", "--help"), ("layers", "--help"), ("coverage", "--help"),
        ("siting", "--help"), ("boundaries", "--help"), ("boundaries", "merge", "--help"),
        ("placenames", "--help")]


def imported(*args) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime -m geoservice ARGS``; its result and the top-level
    packages it imported."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "geoservice", *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=180,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    modules = {line.rsplit("|", 1)[1].strip().split(".")[0]
               for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "geoservice" in modules and "click" in modules  # the listing was read
    return r, modules


@pytest.mark.parametrize("args", HELP, ids=" ".join)
def test_help_imports_nothing_heavy(args):
    r, modules = imported(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "用法:" in r.stdout
    assert not modules & HEAVY, sorted(modules & HEAVY)


def test_layers_imports_nothing_heavy_and_lists_the_layers(tiny_workspace):
    r, modules = imported("--workspace", tiny_workspace, "layers")
    assert r.returncode == 0, r.stderr[-2000:]
    assert not modules & HEAVY, sorted(modules & HEAVY)
    rows = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert list(rows) == list(KINDS)
    assert "4 个要素，第 1 版" in rows["villages"] and "村(社区)" in rows["villages"]
    assert "2 个要素，第 1 版" in rows["townships"]
    assert rows["planned_sites"].split()[-1] == "未导入"

    r, modules = imported("--workspace", tiny_workspace, "layers", "--json")
    assert r.returncode == 0 and not modules & HEAVY, sorted(modules & HEAVY)
    data = json.loads(r.stdout)
    assert data["title"] == "测试县"
    assert {row["kind"]: row["features"] for row in data["layers"]}["villages"] == 4


def test_an_analysis_does_import_them(tiny_workspace):
    """The check above can fail: a command that needs geopandas shows it in the listing."""
    r, modules = imported("--workspace", tiny_workspace, "coverage",
                          "--layer", "elderly_service_points", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert {"geopandas", "shapely", "pandas"} <= modules
