"""What a siting run is asked to do: :class:`SitingOptions`, checked once, defaults filled.

Light (no geopandas, no HiGHS): the defaults come from ``defaults.toml`` ``[siting]``
(:func:`geoservice.analysis.settings.siting_defaults`), the words from the vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.settings import siting_defaults
from geoservice.analysis.vocabulary import (
    PROBLEM_SHORT,
    PROBLEMS,
    WEIGHT_LABELS,
    WEIGHTS,
    ZONE_LABELS,
)


@dataclass(frozen=True)
class SitingOptions:
    """The checked parameters of one siting run, every default resolved.

    Build it with :meth:`build` (checks, Chinese messages naming the parameter, defaults
    from defaults.toml); ``dataclasses.replace`` gives a variant (e.g. another
    ``pmedian_k``) without checking again.
    """

    problem: str                   # mclp | target | pmedian | cemetery
    radius_m: float                # what "covered" means, as in coverage()
    add: int | None                # new sites (mclp, pmedian, cemetery)
    target: float | None           # target share in (0, 1] (target)
    weight: str                    # elderly | population | villages
    capacitated: bool              # pmedian: assign demand within beds
    single_source: bool            # capacitated pmedian: each village wholly to one facility
    setbacks_m: dict               # cemetery: zone type -> setback (defaults + overrides)
    village_setback_m: float       # cemetery: minimum distance from village centres
    new_capacity: float            # capacitated pmedian: beds of each new site
    bed_demand_per_1000: float     # capacitated pmedian: beds per 1,000 elderly
    time_limit_s: float            # MILP wall-clock limit
    mip_rel_gap: float             # relative gap at which HiGHS stops
    pmedian_k: int                 # pmedian: nearest candidates per village, first round
    capacitated_dense_max_pairs: int  # capacitated pmedian: all pairs up to this many
    capacitated_k: int             # ... else this many nearest facilities per village
    setbacks_source: str | None    # where the setbacks come from (shown with the result)

    @classmethod
    def build(cls, *, problem: str, radius_m: float, add: int | None = None,
              target: float | None = None, weight: str = "elderly", capacitated: bool = False,
              setbacks: dict | None = None, village_setback_m: float | None = None,
              time_limit_s: float | None = None, new_capacity: float | None = None,
              bed_demand_per_1000: float | None = None,
              single_source: bool = False) -> SitingOptions:
        """Check the parameters (raising :class:`InvalidInput` with ``name``) and fill
        what is not given from defaults.toml ``[siting]``."""
        defaults = siting_defaults()
        _check_problem(problem, radius_m, add, target, weight, capacitated, time_limit_s)
        setbacks_m = _setbacks(defaults["setbacks_m"], setbacks)
        _check_positive(village_setback_m, new_capacity, bed_demand_per_1000)
        if single_source and not capacitated:
            raise InvalidInput("参数 single_source（整村分配到一处）只用于按床位容量分配"
                               "（capacitated）的 pmedian 问题", name="single_source")
        return cls(
            problem=problem,
            radius_m=float(radius_m),
            add=int(float(add)) if problem != "target" else None,
            target=float(target) if target is not None else None,
            weight=weight,
            capacitated=bool(capacitated),
            single_source=bool(single_source),
            setbacks_m=setbacks_m,
            village_setback_m=float(_given(village_setback_m, defaults["village_setback_m"])),
            new_capacity=float(_given(new_capacity, defaults["new_capacity_beds"])),
            bed_demand_per_1000=float(_given(bed_demand_per_1000,
                                             defaults["bed_demand_per_1000"])),
            time_limit_s=float(_given(time_limit_s, defaults["time_limit_s"])),
            mip_rel_gap=float(defaults["mip_rel_gap"]),
            pmedian_k=int(defaults["pmedian_k"]),
            capacitated_dense_max_pairs=int(defaults["capacitated_dense_max_pairs"]),
            capacitated_k=int(defaults["capacitated_k"]),
            setbacks_source=defaults.get("setbacks_source"),
        )


def _given(value, default):
    return value if value is not None else default


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _check_problem(problem, radius_m, add, target, weight, capacitated, time_limit_s) -> None:
    if problem not in PROBLEMS:
        names = "、".join(f"{p}（{PROBLEM_SHORT[p]}）" for p in PROBLEMS)
        raise InvalidInput(f"参数 problem（选址问题）“{problem}”无效：可选 {names}",
                           name="problem")
    if radius_m is None or not _finite(radius_m) or float(radius_m) <= 0:
        raise InvalidInput(f"参数 radius_m（服务半径，米）必须为正数，而不是“{radius_m}”",
                           name="radius_m")
    if weight not in WEIGHTS:
        names = "、".join(f"{k}（{WEIGHT_LABELS[k]}）" for k in WEIGHTS)
        raise InvalidInput(f"参数 weight（覆盖对象）“{weight}”无效：可选 {names}", name="weight")
    if problem == "target":
        if add is not None:
            raise InvalidInput("参数 add（新增设施数）与 target（目标覆盖率）只能给一个："
                               "目标覆盖问题求最少新增数，请去掉 add", name="add")
        if target is None:
            raise InvalidInput("参数 target（目标覆盖率）必填：目标覆盖问题需要 0 到 1 之间的目标，"
                               "如 0.6", name="target")
        if not _finite(target) or not 0 < float(target) <= 1:
            raise InvalidInput(f"参数 target（目标覆盖率）应在 0 到 1 之间（可等于 1），"
                               f"而不是“{target}”", name="target")
    else:
        if target is not None:
            raise InvalidInput(f"参数 target（目标覆盖率）只用于 target 问题；"
                               f"{PROBLEM_SHORT[problem]}问题请给 add（新增设施数）",
                               name="target")
        if add is None:
            raise InvalidInput(f"参数 add（新增设施数）必填：{PROBLEM_SHORT[problem]}问题需要"
                               "新增设施的个数", name="add")
        if isinstance(add, bool) or not _finite(add) or float(add) != int(float(add)):
            raise InvalidInput(f"参数 add（新增设施数）应为正整数，而不是“{add}”", name="add")
        if int(float(add)) < 1:
            raise InvalidInput(f"参数 add（新增设施数）至少为 1，而不是 {int(float(add))}",
                               name="add")
    if capacitated and problem != "pmedian":
        raise InvalidInput("参数 capacitated（按床位容量约束）只用于 pmedian 问题",
                           name="capacitated")
    if time_limit_s is not None and (not _finite(time_limit_s) or float(time_limit_s) <= 0):
        raise InvalidInput(f"参数 time_limit_s（求解时限，秒）必须为正数，而不是“{time_limit_s}”",
                           name="time_limit_s")


def _setbacks(defaults: dict, setbacks: dict | None) -> dict:
    """The default setbacks with the given ones (zone type -> metres) put over them."""
    sb = dict(defaults)
    for key, val in (setbacks or {}).items():
        if key not in ZONE_LABELS:
            names = "、".join(f"{k}（{v}）" for k, v in ZONE_LABELS.items())
            raise InvalidInput(f"参数 setbacks（退让距离）中的禁建区类型“{key}”无效：可选 {names}",
                               name="setbacks")
        if val is None or not _finite(val) or float(val) < 0:
            raise InvalidInput(f"参数 setbacks（退让距离）中 {key}（{ZONE_LABELS[key]}）"
                               f"应为不小于 0 的米数，而不是“{val}”", name="setbacks")
        sb[key] = float(val)
    return sb


def _check_positive(village_setback_m, new_capacity, bed_demand_per_1000) -> None:
    if village_setback_m is not None and (not _finite(village_setback_m)
                                          or float(village_setback_m) < 0):
        raise InvalidInput(f"参数 village_setback_m（距村中心最小距离，米）应不小于 0，"
                           f"而不是“{village_setback_m}”", name="village_setback_m")
    for name, label, val in (("new_capacity", "每处新建床位数", new_capacity),
                             ("bed_demand_per_1000", "每千名老人床位需求", bed_demand_per_1000)):
        if val is not None and (not _finite(val) or float(val) <= 0):
            raise InvalidInput(f"参数 {name}（{label}）必须为正数，而不是“{val}”", name=name)
