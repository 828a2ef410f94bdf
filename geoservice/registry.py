"""The one list of analyses: the app, the CLI and the menu all read it.

Adding an analysis is one entry here plus its modules under the conventional names:
``geoservice/web/<name>.py`` with a blueprint ``bp`` whose page endpoint is ``page``,
``geoservice/cli/<name>.py`` with a click command ``command``. Nothing else is edited.
This module imports nothing heavy: the CLI builds its command list from it without
loading geopandas.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Analysis:
    name: str  # URL prefix, CLI command, module name in every tier
    label: str  # menu entry and page title (Chinese)
    summary: str  # one line for `python -m geoservice --help` (Chinese)

    @property
    def endpoint(self) -> str:
        """The Flask endpoint of the analysis page (for the menu)."""
        return f"{self.name}.page"

    def blueprint(self):
        return importlib.import_module(f"geoservice.web.{self.name}").bp

    def command(self):
        return importlib.import_module(f"geoservice.cli.{self.name}").command


ANALYSES: tuple[Analysis, ...] = (
    Analysis("coverage", "覆盖分析",
             "覆盖与可达性分析：服务半径覆盖、覆盖率、每千名老年人床位、G2SFCA，与目标比较。"),
    Analysis("siting", "选址建议",
             "选址建议：最大覆盖、目标覆盖、p-中位、公墓选址（排除禁建区）。"),
    Analysis("boundaries", "界线审查",
             "界线审查：几何、重叠、缝隙、碎片、代码、界桩；界线导出；合并模拟。"),
    Analysis("placenames", "地名核查",
             "地名核查：地图村(社区)标注与标准名册比对，罗马字母拼写。"),
    Analysis("network", "道路网检查",
             "道路网：检查道路图层（连通部分、悬挂线端、离路过远的村和设施）。"),
)


def get(name: str) -> Analysis:
    for analysis in ANALYSES:
        if analysis.name == name:
            return analysis
    raise KeyError(name)
