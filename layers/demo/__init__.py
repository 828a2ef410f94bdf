"""The demo county 青神县 (Qingshen, Sichuan, 511425).

Real county outline and real township / village roster (names and codes); simulated
township and village boundaries, populations, facilities and map labels (示例数据).
``python -m layers.demo.build`` rebuilds ``qingshen.gpkg`` from ``source/``; see README.md.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
SOURCE_DIR = DEMO_DIR / "source"
GENERATED_DIR = SOURCE_DIR / "generated"
DEMO_WORKSPACE = DEMO_DIR / "qingshen.gpkg"

__all__ = ["DEMO_DIR", "DEMO_WORKSPACE", "GENERATED_DIR", "SOURCE_DIR"]
