"""The floating catchment family of accessibility measures, on sparse pairs.

Every method works on the pairs (demand point i, supply point j, cost d_ij) with
d_ij <= d0, sorted by (i, j): a pair absent is out of reach. The cost and the catchment
``d0`` are in the run's cost unit (metres along a straight line or the roads, or minutes):
nothing here assumes metres; the step methods take their zone breaks as shares of ``d0``.

With a weight W_ij per pair (the method's), the two steps are

    R_j = S_j / sum_i W_ij P_i          (0 when no weighted demand is in reach)
    A_i = sum_j W_ij R_j                (0 when no supply point is in reach)

- ``g2sfca``: Gaussian W (Dai 2010), exactly what coverage's G2SFCA gives (bit for bit);
- ``2sfca``: W = 1 within d0 (Luo & Wang 2003);
- ``e2sfca``: step W by travel-cost zone (Luo & Qi 2009), weights from ``[coverage.fca]``;
- ``3sfca``: W = G_ij * T_ij with the step weight T (Wan, Zou & Sternberg 2012) and the
  selection weight G_ij = T_ij / sum_k T_ik over the supply points k in i's catchment.

The step function and the 3SFCA weights are those of PySAL ``access`` (``weights.step_fn``,
``fca.three_stage_fca``): a cost equal to a break belongs to the zone that break closes
(``cost <= break``), a cost beyond the last break weighs 0; the 3SFCA default step weights
are ``access``'s (0.962, 0.704, 0.377, 0.042 up to 10, 20, 30, 60 minutes), taken as shares
of the catchment (1/6, 1/3, 1/2, 1 of d0: the very same function when d0 is 60 minutes).
Where they differ from ``access`` (documented in docs/coverage.md "可达性方法"): a demand
point with no pair in reach gets 0 (``access`` leaves it out of its result); a supply point
whose weighted demand is 0 gets R_j = 0 (``access`` divides by 0).

Vectorised: two ``numpy.bincount`` over the pairs (three for 3SFCA), no dense matrix.
"""

from __future__ import annotations

import math

import numpy as np

from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.settings import fca_defaults
from geoservice.analysis.vocabulary import FCA_METHODS, FCA_SHORT

_E_HALF = math.exp(-0.5)

# 3SFCA step weights of PySAL access (``Access.three_stage_fca`` default
# ``weights.step_fn({10: 0.962, 20: 0.704, 30: 0.377, 60: 0.042})``, minutes, after Wan et al.
# 2012's method), the breaks as shares of a 60-minute catchment.
THREE_SFCA_BREAKS = (1 / 6, 1 / 3, 1 / 2, 1.0)
THREE_SFCA_WEIGHTS = (0.962, 0.704, 0.377, 0.042)
THREE_SFCA_SOURCE = "3SFCA 分段权重取 PySAL access 默认值（Wan 等 2012）：0.962、0.704、0.377、0.042"

_COMMON = "d0 为服务半径（本次成本单位：米或分钟）；P_i 为村老年人口，S_j 为设施{supply}"

# Each method's formula, in Chinese, for reports and pages.
FCA_NOTES = {
    "g2sfca": ("高斯权重 W(d) = (exp(-½(d/d0)²) − exp(-½)) / (1 − exp(-½))（d ≤ d0，否则 0）；"
               "R_j = S_j / Σ_i W(d_ij)·P_i，A_i = Σ_j W(d_ij)·R_j"),
    "2sfca": ("二值权重 W(d) = 1（d ≤ d0，否则 0）；"
              "R_j = S_j / Σ_{d_ij≤d0} P_i，A_i = Σ_{d_ij≤d0} R_j"),
    "e2sfca": ("分段权重 W(d) = w_r（d 落在第 r 段，等于分段点时取内侧一段，超出 d0 为 0）；"
               "R_j = S_j / Σ_i W(d_ij)·P_i，A_i = Σ_j W(d_ij)·R_j"),
    "3sfca": ("分段权重 T(d)（同 E2SFCA 的分段规则），选择权重 G_ij = T_ij / Σ_k T_ik（k 为村 i 服务范围内的设施）；"
              "R_j = S_j / Σ_i G_ij·T_ij·P_i，A_i = Σ_j G_ij·T_ij·R_j"),
}


def gaussian_weight(d: np.ndarray, d0: float) -> np.ndarray:
    """Dai (2010) Gaussian weight: 1 at cost 0, 0 at ``d0`` and beyond."""
    d = np.asarray(d, dtype=float)
    w = (np.exp(-0.5 * (d / d0) ** 2) - _E_HALF) / (1.0 - _E_HALF)
    return np.where(d <= d0, w, 0.0)


def step_weight(d: np.ndarray, d0: float, breaks, weights) -> np.ndarray:
    """Step weight of each cost: ``weights[r]`` for the first break ``d0 * breaks[r]`` the
    cost does not exceed (as ``access.weights.step_fn``), 0 beyond the last break or d0."""
    d = np.asarray(d, dtype=float)
    edges = d0 * np.asarray(breaks, dtype=float)
    table = np.append(np.asarray(weights, dtype=float), 0.0)
    w = table[np.searchsorted(edges, d, side="left")]
    return np.where(d <= d0, w, 0.0)


def fca_steps(method: str, breaks=None, weights=None) -> tuple[tuple, tuple] | None:
    """The zone breaks (shares of d0) and weights a step method uses: those given, else the
    defaults (``e2sfca``: ``[coverage.fca]``; ``3sfca``: access's, or ``[coverage.fca]``'s
    ``three_sfca_*`` when that section has them). None for the methods without steps."""
    if method not in ("e2sfca", "3sfca"):
        if breaks is not None or weights is not None:
            raise InvalidInput(f"可达性方法 {FCA_SHORT.get(method, method)} 不使用分段权重")
        return None
    if breaks is None or weights is None:
        f = fca_defaults()
        if method == "e2sfca":
            default = f["e2sfca_breaks"], f["e2sfca_weights"]
        else:
            default = (f.get("three_sfca_breaks", THREE_SFCA_BREAKS),
                       f.get("three_sfca_weights", THREE_SFCA_WEIGHTS))
        breaks = default[0] if breaks is None else breaks
        weights = default[1] if weights is None else weights
    breaks = tuple(float(b) for b in breaks)
    weights = tuple(float(w) for w in weights)
    name = FCA_SHORT[method]
    if not breaks or len(breaks) != len(weights):
        raise InvalidInput(f"{name} 分段权重：分段点 {len(breaks)} 个、权重 {len(weights)} 个，"
                           "应一一对应且至少一段")
    if not all(math.isfinite(b) and b > 0 for b in breaks) \
            or any(b >= c for b, c in zip(breaks, breaks[1:], strict=False)):
        raise InvalidInput(f"{name} 分段点（服务半径的比例）应为递增的正数：{list(breaks)}")
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise InvalidInput(f"{name} 分段权重应为非负数：{list(weights)}")
    return breaks, weights


def fca(method: str, pairs: tuple, n: int, m: int, demand, supply, d0: float, *,
        breaks=None, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Accessibility of ``n`` demand points to ``m`` supply points by ``method``
    (``g2sfca``, ``2sfca``, ``e2sfca``, ``3sfca``; see the module's docstring).

    ``pairs``: (i, j, cost) arrays of the pairs with cost <= ``d0``, sorted by (i, j);
    ``demand`` (P_i, n values) and ``supply`` (S_j, m values); ``d0`` the catchment in the
    cost's unit. ``breaks`` (shares of d0) and ``weights``: the zones of ``e2sfca`` and
    ``3sfca`` (defaults: :func:`fca_steps`); an error for the other methods.
    Returns (A per demand point, R per supply point).
    """
    if method not in FCA_METHODS:
        raise InvalidInput(f"未知的可达性方法“{method}”，可选：{'、'.join(FCA_METHODS)}")
    d0 = float(d0)
    if not (math.isfinite(d0) and d0 > 0):
        raise InvalidInput(f"可达性服务半径应为正数：{d0}")
    steps = fca_steps(method, breaks, weights)
    i, j, d = pairs
    i = np.asarray(i, dtype=np.intp)
    j = np.asarray(j, dtype=np.intp)
    if method == "g2sfca":
        w = gaussian_weight(d, d0)
    elif method == "2sfca":
        w = np.where(np.asarray(d, dtype=float) <= d0, 1.0, 0.0)
    else:
        w = step_weight(d, d0, *steps)
        if method == "3sfca":
            total = np.bincount(i, weights=w, minlength=n)
            share = np.divide(w, total[i], out=np.zeros(len(w)), where=total[i] > 0)
            w = w * share
    return _two_steps(i, j, w, n, m, demand, supply)


def _two_steps(i, j, w, n: int, m: int, demand, supply) -> tuple[np.ndarray, np.ndarray]:
    """R_j = S_j / sum_i w_ij P_i (0 without weighted demand), A_i = sum_j w_ij R_j, summed
    in the order of the pairs (the order of the sparse products W^T P and W R)."""
    reach = np.bincount(j, weights=w * np.asarray(demand, dtype=float)[i], minlength=m)
    ratio = np.divide(supply, reach, out=np.zeros(m), where=reach > 0)
    access = np.bincount(i, weights=w * ratio[j], minlength=n)
    return access.astype(float, copy=False), ratio  # (no pairs: bincount gives integers)


def _share(b: float) -> str:
    """A break as a share of the radius: 1/3, 2/3, 1/6, 50% ..."""
    for den in (2, 3, 4, 5, 6, 10):
        num = round(b * den)
        if num and abs(b * den - num) < 1e-9:
            if num == den:
                return "d0"
            return f"{num}/{den}·d0"
    return f"{b:g}·d0"


def fca_note(method: str, *, breaks=None, weights=None, supply: str = "床位") -> str:
    """One line in Chinese for a report: the method's name, formula and (step methods)
    the zone weights used; ``supply``: what S_j counts (床位, or 剩余墓穴 for cemeteries)."""
    if method not in FCA_METHODS:
        raise InvalidInput(f"未知的可达性方法“{method}”，可选：{'、'.join(FCA_METHODS)}")
    text = f"{FCA_METHODS[method]}：{FCA_NOTES[method]}"
    steps = fca_steps(method, breaks, weights)
    if steps is not None:
        zones = "，".join(f"≤{_share(b)} 为 {w:g}" for b, w in zip(*steps, strict=True))
        text += f"；分段权重：{zones}"
    return f"{text}。{_COMMON.format(supply=supply)}。"
