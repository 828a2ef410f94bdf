"""JSON-safe values for every analysis' ``to_dict()``: numpy scalars to Python, NaN, inf,
NA and NaT to None, arrays and tuples to lists, dict keys to text."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def records(df: pd.DataFrame) -> list[dict]:
    """The rows of ``df`` as JSON-safe dicts."""
    return [jsonable(row) for row in df.to_dict(orient="records")]
