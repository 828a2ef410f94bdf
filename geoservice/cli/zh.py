"""Click's own words in Chinese: help headings, usage errors, type names.

Click marks every message it prints with gettext (``_("Usage:")``, ``ngettext(...)``) in
its modules. :func:`install` puts :func:`gettext` and :func:`ngettext` below in place of
those modules' ``_`` and ``ngettext``, looking the message up in :data:`MESSAGES` (keyed by
click's own msgid; the placeholders keep their names, so click's ``.format(...)`` fills
them). This touches only click, not the process-wide gettext domain, and needs no
compiled catalogue or ``LANGUAGE`` setting.

A few words click prints without gettext are handled here too: the type names behind the
metavars and "is not a valid integer" (``TEXT``, ``INTEGER`` …), and the usage pieces
``[OPTIONS]`` and ``COMMAND [ARGS]...``. And the help's columns are measured in terminal
cells (a Chinese character takes two), so the option column stays aligned.

``tests/cli/test_cli_zh.py`` checks that every msgid in the installed click has an entry,
so a click upgrade that adds a message fails a test rather than printing English.
"""

from __future__ import annotations

import gettext as _gettext
import importlib
import sys
import unicodedata

import click

# click's msgid -> Chinese; singular and plural msgids of ngettext are separate keys
MESSAGES: dict[str, str] = {
    # help page
    "Usage:": "用法:",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示此帮助信息并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "(dynamic)": "（动态）",
    "deprecated": "已弃用",
    # errors
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行“{command} {option}”查看帮助。",
    "Aborted!": "已中止。",
    "unknown error": "未知错误",
    "Missing command.": "缺少命令。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "参数 {param_hint} 的取值无效：{message}",
    "No such option {name!r}.": "没有选项“{name}”。",
    "No such command {name!r}.": "没有命令“{name}”。",
    "Did you mean {possibility}?": "是否要用 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（是否要用其中之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Option {name!r} does not take a value.": "选项“{name}”不带取值。",
    "Option {name!r} requires an argument.": "选项“{name}”需要一个取值。",
    "Option {name!r} requires {nargs} arguments.": "选项“{name}”需要 {nargs} 个取值。",
    "Argument {name!r} takes {nargs} values.": "参数“{name}”需要 {nargs} 个取值。",
    "Invalid start character for option ({option})": "选项的起始字符无效（{option}）",
    "Value must be an iterable.": "取值必须是可迭代的。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个取值，只给了 1 个。",
    "Takes {nargs} values but {len} were given.": "需要 {nargs} 个取值，给了 {len} 个。",
    "{len_type} values are required, but {len_value} was given.":
        "需要 {len_type} 个取值，给了 {len_value} 个。",
    "{len_type} values are required, but {len_value} were given.":
        "需要 {len_type} 个取值，给了 {len_value} 个。",
    # values
    "{value!r} is not {choice}.": "“{value}”不是可选值 {choice}。",
    "{value!r} is not one of {choices}.": "“{value}”不是可选值之一：{choices}。",
    "Choice({choices})": "可选值({choices})",
    "{value!r} does not match the format {format}.": "“{value}”不符合格式 {format}。",
    "{value!r} does not match the formats {formats}.": "“{value}”不符合格式 {formats} 中的任何一种。",
    "{value!r} is not a valid {number_type}.": "“{value}”不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "“{value}”不是有效的布尔值。可用的值：{states}",
    "{value!r} is not a valid UUID.": "“{value}”不是有效的 UUID。",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name}“{filename}”不存在。",
    "{name} {filename!r} is a file.": "{name}“{filename}”是文件。",
    "{name} {filename!r} is a directory.": "{name}“{filename}”是目录。",
    "{name} {filename!r} is not readable.": "{name}“{filename}”不可读。",
    "{name} {filename!r} is not writable.": "{name}“{filename}”不可写。",
    "{name} {filename!r} is not executable.": "{name}“{filename}”不可执行。",
    "Could not open file {filename!r}: {message}": "无法打开文件“{filename}”：{message}",
    # prompts and the terminal
    "Do you want to continue?": "是否继续？",
    "Confirm the action without prompting.": "不询问，直接确认操作。",
    "Repeat for confirmation": "再输入一次以确认",
    "Error: The two entered values do not match.": "错误：两次输入的值不一致。",
    "Error: invalid input": "错误：输入无效",
    "Press any key to continue...": "按任意键继续…",
    "d": "天",
    "{editor}: Editing failed": "{editor}：编辑失败",
    "{editor}: Editing failed: {e}": "{editor}：编辑失败：{e}",
    "Windows error: {error}": "Windows 错误：{error}",
    "Unknown color {colour!r}": "未知颜色“{colour}”",
    "Unknown standard stream '{name}'": "未知标准流“{name}”",
    "Couldn't detect Bash version, shell completion is not supported.":
        "无法识别 Bash 版本，不支持命令补全。",
    "Shell completion is not supported for Bash versions older than 4.4.":
        "Bash 4.4 以前的版本不支持命令补全。",
    # deprecations and mistakes in a command's definition (for the developer)
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}":
        "弃用警告：命令“{name}”已弃用。{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}":
        "弃用警告：{param_type}“{name}”已弃用。{extra_message}",
    "Name '{name}' defined twice": "名称“{name}”定义了两次",
    "Boolean option {decl!r} cannot use the same flag for true/false.":
        "布尔选项“{decl}”的真、假两值不能用同一个开关。",
    "Could not determine name for option with declarations {decls!r}":
        "无法从声明 {decls!r} 确定选项名称",
    "No options defined but a name was passed ({name}). Did you mean to declare an "
    "argument instead? Did you mean to pass '--{name}'?":
        "没有定义选项，却给了名称（{name}）。是要声明参数，还是要写成“--{name}”？",
    "Arguments take exactly one parameter declaration, got {length}: {decls}.":
        "参数只能有一个声明，却给了 {length} 个：{decls}。",
}

# Words click prints without gettext
TYPE_NAMES: dict[type, str] = {  # -> metavar (upper-cased, a no-op here) and "not a valid …"
    click.types.StringParamType: "文本",
    click.types.UnprocessedParamType: "文本",
    click.types.IntParamType: "整数",
    click.types.IntRange: "整数",
    click.types.FloatParamType: "数值",
    click.types.FloatRange: "数值",
    click.types.BoolParamType: "布尔值",
    click.types.UUIDParameterType: "UUID",
    click.types.DateTime: "日期时间",
    click.types.Choice: "选项值",
    click.types.File: "文件名",
}
USAGE_PIECES: dict[str, str] = {
    "[OPTIONS]": "[选项]",
    "COMMAND [ARGS]...": "命令 [参数]...",
    "COMMAND1 [ARGS]... [COMMAND2 [ARGS]...]...": "命令1 [参数]... [命令2 [参数]...]...",
}

# click's modules that call gettext (_winconsole is imported on Windows only)
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "shell_completion",
                 "termui", "types", "utils", "_termui_impl")


def gettext(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def display_width(text: str) -> int:
    """Terminal cells of ``text``: wide (CJK) characters count two; ANSI codes none."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in click._compat.strip_ansi(text))


def _usage_pieces(original):
    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [USAGE_PIECES.get(piece, piece) for piece in original(self, ctx)]

    collect_usage_pieces.zh = True
    return collect_usage_pieces


def install() -> None:
    """Make click speak Chinese in this process (idempotent)."""
    names = ["click." + m for m in CLICK_MODULES]
    if sys.platform == "win32":
        names.append("click._winconsole")
    for name in names:
        module = importlib.import_module(name)
        if getattr(module, "_", None) in (_gettext.gettext, gettext):
            module._ = gettext
        if getattr(module, "ngettext", None) in (_gettext.ngettext, ngettext):
            module.ngettext = ngettext
    click.formatting.term_len = display_width
    for cls, word in TYPE_NAMES.items():
        cls.name = word
    for cls in (click.Command, click.Group):
        method = cls.__dict__["collect_usage_pieces"]
        if not getattr(method, "zh", False):
            cls.collect_usage_pieces = _usage_pieces(method)
