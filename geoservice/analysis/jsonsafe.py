"""JSON-safe values for every analysis' ``to_dict()``: numpy scalars to Python, NaN, inf,
NA and NaT to None, arrays and tuples to lists, dict keys to text.

Frames are converted column by column (:func:`column_values`): a numeric or boolean column
in one vectorised step, an object column value by value only where a value is not already
text or None. :func:`records` gives exactly what converting each row with
:func:`jsonable` gives. :func:`page_records` is the main list of a result's ``to_dict``
when the JSON API asks for less: some fields, one page of rows.
"""

from __future__ import annotations

import contextlib
import gc
import math

import numpy as np
import pandas as pd

from geoservice.analysis.errors import InvalidInput


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection while many small lists and dicts are built (rows that
    hold lists): the collector would otherwise walk the whole heap several times over
    objects that are all still in use. Collection resumes as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


def column_values(col: pd.Series) -> list:
    """The values of one column as JSON-safe Python objects (what :func:`jsonable` gives
    for each value), converted in one step where the dtype allows."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biu":
            return col.to_numpy().tolist()
        if dtype.kind == "f":
            a = col.to_numpy()
            bad = ~np.isfinite(a)
            if not bad.any():
                return a.tolist()
            out = a.astype(object)
            out[bad] = None
            return out.tolist()
    elif isinstance(dtype, (pd.BooleanDtype, pd.core.dtypes.dtypes.BaseMaskedDtype)) \
            and dtype.kind in "biuf":
        # nullable Int64/boolean/Float64: NA (and NaN, inf) to None, the rest as numbers
        values = col.to_numpy(dtype=object, na_value=None)
        if dtype.kind == "f":
            return [jsonable(v) for v in values]
        return [None if v is None else v.item() if isinstance(v, np.generic) else v
                for v in values]
    values = col.to_numpy(dtype=object)
    return [v if v is None or type(v) is str else jsonable(v) for v in values]


def records(df: pd.DataFrame) -> list[dict]:
    """The rows of ``df`` as JSON-safe dicts."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):  # duplicate names: the row-wise way decides
        return [jsonable(row) for row in df.to_dict(orient="records")]
    columns = [column_values(df.iloc[:, i]) for i in range(df.shape[1])]
    if not columns:
        return [{} for _ in range(len(df))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def page_records(df: pd.DataFrame, columns: list[str], *, fields: list[str] | None = None,
                 offset: int = 0, limit: int | None = None, noun: str) -> list[dict]:
    """The rows ``offset`` to ``offset + limit`` of ``df`` (all rows when ``limit`` is
    None) with the fields ``columns`` as JSON-safe dicts; ``fields`` keeps only those
    fields, in the order given. A field not in ``columns`` raises ``InvalidInput`` naming
    the fields of a ``noun`` row (村, 问题 ...)."""
    if fields is not None:
        unknown = [f for f in fields if f not in columns]
        if unknown:
            raise InvalidInput(f"参数 fields 中的字段“{'、'.join(unknown)}”无效：{noun}的字段有 "
                               + "、".join(columns), name="fields")
        columns = list(dict.fromkeys(fields))
    if offset or limit is not None:
        df = df.iloc[offset:None if limit is None else offset + limit]
    return records(pd.DataFrame(df[columns]))
