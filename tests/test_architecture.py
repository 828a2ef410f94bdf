"""The layout's rules, checked on the source (docs/architecture.md explains them).

Dependencies point one way: ``layers`` ← ``geoservice.analysis`` ← ``geoservice.services``
← ``geoservice.reports`` / ``cli`` / ``web``; ``maps`` never imports ``geoservice``; the
analyses import no Flask, Folium, store or service module. Imports inside functions count
too (a late import is still a dependency). There are no import cycles, and every analysis
has its module in every tier under the same name.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from geoservice.registry import ANALYSES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("layers", "maps", "geoservice")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = source_modules()


def imports_of(name: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute names of what ``name`` imports (``from a import b`` gives ``a.b`` when that
    is a module of ours, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    return out


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# (who, which imports are refused, why)
RULES = [
    ("layers", ("geoservice", "maps", "flask", "folium"),
     "layers 是最底层：不依赖分析、服务、地图或网页"),
    ("maps", ("geoservice", "flask"), "maps 从不导入 geoservice：结果以列或汇总键传给地图"),
    ("geoservice.analysis", ("flask", "werkzeug", "folium", "branca", "maps", "layers.store",
                             "geoservice.services", "geoservice.reports", "geoservice.cli",
                             "geoservice.web", "geoservice.errors", "geoservice.config",
                             "geoservice.registry"),
     "分析是纯函数：不导入 Flask、Folium、存储或服务层"),
    ("geoservice.services", ("flask", "werkzeug", "folium", "maps", "geoservice.reports",
                             "geoservice.cli", "geoservice.web"),
     "服务层把分析接到存储上，不依赖报表、命令行和网页"),
    ("geoservice.reports", ("flask", "werkzeug", "geoservice.cli", "geoservice.web"),
     "报表不依赖命令行和网页"),
    ("geoservice.cli", ("flask", "werkzeug", "geoservice.web"), "命令行不依赖网页"),
    ("geoservice.web", ("geoservice.cli",), "网页不依赖命令行"),
]


# Library modules that are not the web framework although they live in its package.
ALLOWED = ("werkzeug.security",)  # the standard password hashing scheme


def violations() -> list[str]:
    found = []
    for name, path in MODULES.items():
        for who, refused, why in RULES:
            if not under(name, who):
                continue
            for imported in sorted(imports_of(name, path)):
                if any(under(imported, r) for r in refused) and imported not in ALLOWED:
                    found.append(f"{name} imports {imported}: {why}")
    return found


def test_dependencies_point_one_way():
    assert violations() == []


def test_the_rule_checker_sees_a_violation(tmp_path):
    """The checker itself: a module that breaks a rule is reported."""
    bad = ROOT / "maps" / "_architecture_probe.py"
    try:
        bad.write_text("from geoservice.services import coverage\n", encoding="utf-8")
        MODULES["maps._architecture_probe"] = bad
        assert any(v.startswith("maps._architecture_probe imports geoservice.services")
                   for v in violations())
    finally:
        MODULES.pop("maps._architecture_probe", None)
        bad.unlink()


def test_no_import_cycles():
    graph = {name: {m for m in imports_of(name, path, top_level_only=True) if m in MODULES}
             for name, path in MODULES.items()}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("analysis", [a.name for a in ANALYSES])
def test_every_analysis_has_its_module_in_every_tier(analysis):
    for tier in ("geoservice.services", "geoservice.reports", "geoservice.cli",
                 "geoservice.web", "maps"):
        assert f"{tier}.{analysis}" in MODULES, f"{tier}.{analysis} is missing"
    assert f"geoservice.analysis.{analysis}" in MODULES


def test_the_registry_drives_app_cli_and_menu(demo_app):
    from geoservice.cli import main

    client = demo_app.test_client()
    home = client.get("/").get_data(as_text=True)
    for a in ANALYSES:
        assert a.blueprint().name in demo_app.blueprints
        assert main.get_command(None, a.name) is a.command()
        assert f">{a.label}</a>" in home
        assert client.get(f"/{a.name}").status_code == 200


def test_no_registration_markers_left():
    """Adding an analysis touches no hand-edited marker: the old '-- x blueprint --' lines
    are gone from code, templates and settings."""
    for path in [*ROOT.joinpath("geoservice").rglob("*.py"),
                 *ROOT.joinpath("geoservice").rglob("*.html"),
                 *ROOT.joinpath("geoservice").rglob("*.toml")]:
        text = path.read_text(encoding="utf-8")
        for marker in ("blueprint --", "command --", "nav --", "settings --"):
            assert marker not in text, f"{path.relative_to(ROOT)} still has '{marker}'"
