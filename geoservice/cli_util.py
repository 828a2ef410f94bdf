"""Small helpers shared by the CLI modules (no imports of the commands themselves)."""

from __future__ import annotations

from pathlib import Path

import click


def existing_file(path: str | None, what: str) -> str | None:
    """Click's own missing-file message is English: say it in Chinese, naming the argument."""
    if path is not None and not Path(path).is_file():
        raise click.ClickException(f"参数 {what}：文件“{path}”不存在或不是文件")
    return path
