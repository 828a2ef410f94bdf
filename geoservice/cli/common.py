"""What every CLI module shares: the workspace from the root options, JSON out, file checks.

No command lives here and nothing here imports a command, so there is no cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def existing_file(path: str | None, what: str) -> str | None:
    """Click's own missing-file message is English: say it in Chinese, naming the argument."""
    if path is not None and not Path(path).is_file():
        raise click.ClickException(f"参数 {what}：文件“{path}”不存在或不是文件")
    return path


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def open_workspace(ctx: click.Context):
    """The store named by ``--workspace`` (or the environment, or the demo copy)."""
    from geoservice import config as config_mod
    from geoservice.services.workspace import store_for
    from layers import LayerError

    root = ctx.find_root()
    workspace = (root.obj or {}).get("workspace") or str(config_mod.default_workspace())
    try:
        return store_for(workspace)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
