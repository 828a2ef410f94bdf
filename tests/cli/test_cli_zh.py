"""The CLI speaks Chinese throughout, click's own help and usage errors included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from geoservice.cli import main, zh

PROG = "python -m geoservice"
# What click prints in English when a message is left untranslated
ENGLISH = ("Usage:", "Options:", "Commands:", "Show this message", "and exit", "Error:",
           "Try '", "for help", "Missing", "Invalid value", "is not one of", "is not a valid",
           "does not exist", "No such", "Did you mean", "Got unexpected", "extra argument",
           "requires an argument", "does not take a value", "Aborted", "default:", "[required]",
           "Choose from", "[OPTIONS]", "COMMAND", "[ARGS]")
ENGLISH_METAVARS = re.compile(r"\b(TEXT|INTEGER|FLOAT|BOOLEAN|PATH|DIRECTORY|FILENAME)\b")


def click_msgids() -> set[str]:
    """Every literal message the installed click passes to ``_`` or ``ngettext``."""
    found = set()
    for source in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("_", "ngettext")):
                found.update(a.value for a in node.args[:2]
                             if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), prog_name=PROG)


def assert_no_english(text: str) -> None:
    left = [w for w in ENGLISH if w in text] + ENGLISH_METAVARS.findall(text)
    assert not left, f"English click text {left} in:\n{text}"


def command_paths() -> list[tuple[str, ...]]:
    """The group, every command and every subcommand (e.g. ``boundaries merge``)."""
    ctx = click.Context(main)
    paths: list[tuple[str, ...]] = [()]
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        paths.append((name,))
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.list_commands(ctx)]
    return paths


def test_every_click_message_has_a_translation():
    msgids = click_msgids()
    assert "Show this message and exit." in msgids and "Usage:" in msgids  # the scan works
    missing = sorted(msgids - set(zh.MESSAGES))
    assert not missing, f"click messages without a Chinese entry in geoservice/cli/zh.py: {missing}"
    assert all(zh.gettext(m) != m for m in msgids)


def test_every_help_page_is_chinese():
    paths = command_paths()
    assert ("boundaries", "merge") in paths and ("layers",) in paths and len(paths) >= 8
    for path in paths:
        r = invoke(*path, "--help")
        assert r.exit_code == 0, (path, r.output)
        assert_no_english(r.output)
        assert r.output.startswith(f"用法: {' '.join((PROG, *path))} [选项]"), r.output
        assert "选项:" in r.output and "--help" in r.output and "显示此帮助信息并退出。" in r.output


def test_help_shows_defaults_required_and_chinese_headings():
    text = invoke("--help").output
    assert "命令 [参数]..." in text and "命令:" in text and "--workspace 文件或地址" in text
    text = invoke("siting", "--help").output
    assert "[必填]" in text and "[默认：elderly]" in text and "--radius 文本" in text
    text = invoke("boundaries", "--help").output
    assert "[默认：townships]" in text and "命令:" in text and "merge" in text


def test_help_columns_are_aligned_in_terminal_cells():
    lines = [line for line in invoke("--help").output.splitlines()
             if line.startswith("  --")]
    assert len(lines) == 2
    starts = [zh.display_width(re.match(r"\s*\S+(?: \S+)?\s+", line).group()) for line in lines]
    assert starts[0] == starts[1], lines


# Errors the option parser raises have no context, so click prints them without the usage
@pytest.mark.parametrize("args, chinese", [
    (("coverage", "--layer", "nope"),
     ["参数 '--layer' 的取值无效", "“nope”不是可选值之一", "'welfare_homes'"]),
    (("coverage", "--radis", "1"), ["没有选项“--radis”", "是否要用 '--radius'"]),
    (("coverage", "--radius"), ["选项“--radius”需要一个取值", "!usage"]),
    (("siting",), ["缺少选项 '--layer'"]),
    (("boundaries", "merge", "--codes", "1"), ["缺少选项 '--name'"]),
    (("boundaries", "mergee"), ["没有命令“mergee”", "是否要用 'merge'"]),
    (("import",), ["缺少参数", "可选：", "villages"]),
    (("frobnicate",), ["没有命令“frobnicate”"]),
    (("layers", "extra"), ["多余的参数（extra）"]),
    (("layers", "--json=yes"), ["选项“--json”不带取值", "!usage"]),
])
def test_usage_errors_are_chinese(args, chinese):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert_no_english(r.output)
    assert r.output.count("错误：") == 1
    if "!usage" not in chinese:
        assert "用法: python -m geoservice" in r.output and "查看帮助。" in r.output
    for words in (w for w in chinese if w != "!usage"):
        assert words in r.output, (words, r.output)


def test_click_types_and_abort_are_chinese(tmp_path):
    """Types our commands do not use yet (numbers, existing paths) and Ctrl-C."""
    @click.command()
    @click.option("--n", type=int)
    @click.option("--x", type=float)
    @click.argument("where", type=click.Path(exists=True), required=False)
    def probe(n, x, where):
        raise click.Abort()

    runner = CliRunner()
    cases = [(["--n", "三"], "“三”不是有效的整数"), (["--x", "x"], "“x”不是有效的数值"),
             ([str(tmp_path / "无")], "路径“" + str(tmp_path / "无") + "”不存在")]
    for args, words in cases:
        r = runner.invoke(probe, args)
        assert r.exit_code == 2 and words in r.output, r.output
        assert_no_english(r.output)
    r = runner.invoke(probe, ["--help"])
    assert "--n 整数" in r.output and "--x 数值" in r.output and "[WHERE]" in r.output
    r = runner.invoke(probe, [], standalone_mode=True)
    assert r.exit_code == 1 and "已中止。" in r.output
