"""Docs stay true: every layer kind, field, setting, route and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from fixtures import make_app  # create_app with an admin signed in (API token)

from geoservice.cli import main as cli_main
from geoservice.config import SETTINGS
from layers.schema import KINDS

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_layer_kind_and_field_is_documented():
    from layers.schema import docs_markdown

    text = (DOCS / "layers.md").read_text(encoding="utf-8")
    assert text == docs_markdown(), "docs/layers.md 已过期：python -m layers.schema > docs/layers.md"
    for name, kind in KINDS.items():
        assert f"`{name}`" in text and kind.label in text
        for f in kind.fields:
            assert f"`{f.name}` | {f.label}" in text, (name, f.name)


def test_every_setting_is_documented():
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for key in SETTINGS:
        assert f"`{key}`" in text, key


def test_every_route_is_documented(tiny_workspace):
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    app = make_app({"WORKSPACE": str(tiny_workspace)})
    for rule in app.url_map.iter_rules():
        assert f"`{rule.rule}`" in text, rule.rule


def test_every_cli_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = cli_main.list_commands(None)
    assert {"import", "layers", "coverage", "siting", "boundaries", "placenames"} <= set(names)
    for name in names:
        assert f" {name} " in text or f" {name}\n" in text, name


def test_readme_gives_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "python run.py" in text
    assert "python -m pytest" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci


def test_architecture_page_names_every_tier_and_module_it_describes():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    root = DOCS.parent
    for folder in ("layers/", "geoservice/analysis/", "geoservice/services/",
                   "geoservice/reports/", "geoservice/cli/", "geoservice/web/", "maps/"):
        assert f"`{folder}" in text, folder
    for path in ("geoservice/registry.py", "geoservice/errors.py", "maps/base.py",
                 "layers/store/__init__.py", "geoservice/analysis/vocabulary.py",
                 "geoservice/services/params.py", "geoservice/web/common.py"):
        assert (root / path).is_file(), path
    for name in ("registry.py", "errors.py", "maps/base.py", "vocabulary.py", "params.py",
                 "common.py", "tests/test_architecture.py"):
        assert name in text, name
