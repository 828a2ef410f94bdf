"""Travel cost between villages and the places they travel to: straight line, along the
road network, or read from an origin-destination matrix (docs/network.md).

Every analysis asks the same four questions of a :class:`Costs` bound to the villages
(the origins, by position) and named destination sets (``"facilities"``,
``"candidates"``), so coverage and every siting problem run unchanged on any cost:

- ``within(to, cutoff, cols=None)``: the (village, destination, cost) triples with
  cost <= cutoff, sorted by village then destination: sparse, never all pairs;
- ``nearest(to, cols=None)``: each village's least cost to the set and which one
  (``inf`` / ``-1`` when none can be reached);
- ``knearest(to, k, cols=None)``: the ``k`` cheapest destinations of each village, as
  ``cKDTree.query(..., k)`` gives them (ascending; ``inf`` and index ``m`` as padding);
- ``dense(to, cols=None)``: the whole villages x destinations matrix (``inf`` where
  unreachable), for the small problems that need it.

``cols`` restricts the set to those positions (the eligible candidates, the chosen sites);
the destination index returned is then a position in ``cols``. The cost is from the
village to the destination (the trip an elderly person makes); ``unit`` is ``m`` or
``min``. :class:`StraightCosts` reproduces the KD-tree arithmetic the analyses used before
to the last bit; :mod:`geoservice.analysis.network` and :mod:`geoservice.analysis.odmatrix`
provide the other two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from geoservice.analysis.vocabulary import COST_FIELDS, COST_UNITS, COSTS


@dataclass(frozen=True)
class CostSpec:
    """What the user asked for: how travel cost is measured (light, no data)."""

    kind: str = "straight"          # straight | network | matrix
    field: str = "length"           # network: length | time
    network: str = "roads"          # network: the layer kind of the roads
    unit: str = "m"                 # m | min (network: from field; matrix: given)
    matrix_name: str | None = None  # matrix: the file's name (provenance)

    @property
    def straight(self) -> bool:
        return self.kind == "straight"

    def label(self) -> str:
        """How the cost is measured, in Chinese, for every map and report."""
        unit = COST_UNITS[self.unit]
        if self.kind == "straight":
            return f"直线距离（{unit}）"
        if self.kind == "network":
            return f"沿道路网（{self.network} 图层）的{COST_FIELDS[self.field]}（{unit}）"
        name = f"“{self.matrix_name}”" if self.matrix_name else ""
        return f"OD 矩阵{name}的出行成本（{unit}）"

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "kind_label": COSTS[self.kind], "unit": self.unit,
             "unit_label": COST_UNITS[self.unit], "label": self.label()}
        if self.kind == "network":
            d.update(field=self.field, field_label=COST_FIELDS[self.field],
                     network=self.network)
        if self.kind == "matrix":
            d["matrix"] = self.matrix_name
        return d


STRAIGHT = CostSpec()


class Costs:
    """Travel costs from the villages (by position) to named destination sets."""

    spec: CostSpec = STRAIGHT

    @property
    def unit(self) -> str:
        return self.spec.unit

    @property
    def straight(self) -> bool:
        return self.spec.straight

    def size(self, to: str, cols=None) -> int:
        raise NotImplementedError

    def within(self, to: str, cutoff: float, cols=None):
        raise NotImplementedError

    def nearest(self, to: str, cols=None):
        raise NotImplementedError

    def dense(self, to: str, cols=None) -> np.ndarray:
        raise NotImplementedError

    def knearest(self, to: str, k: int, cols=None):
        """The ``k`` cheapest destinations per village from :meth:`dense` (ascending,
        ties by position); ``inf`` and index ``m`` pad rows with fewer reachable."""
        d = self.dense(to, cols)
        n, m = d.shape
        k = min(k, m)
        if k == 0:
            return np.zeros((n, 0)), np.zeros((n, 0), dtype=np.intp)
        idx = np.argsort(d, axis=1, kind="stable")[:, :k]
        dd = np.take_along_axis(d, idx, axis=1)
        idx = np.where(np.isfinite(dd), idx, m)
        return dd, idx

    def snap(self, to: str | None = None) -> np.ndarray | None:
        """Metres from each village (``to=None``) or destination to the network, when the
        cost runs on one; None otherwise."""
        return None

    def describe(self) -> dict:
        """The cost for a result's summary (kind, unit, labels, network figures)."""
        return self.spec.to_dict()


def _cols(n: int, cols) -> np.ndarray:
    return np.arange(n) if cols is None else np.asarray(cols, dtype=np.intp)


def pairs_sorted(i: np.ndarray, j: np.ndarray, c: np.ndarray, m: int):
    """The triples ordered by village then destination."""
    order = np.argsort(i.astype(np.int64) * max(m, 1) + j, kind="stable")
    return i[order], j[order], c[order]


def nearest_from_pairs(i, j, c, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Least cost and its destination per village from triples sorted by (village,
    destination); the first (lowest position) wins a tie; ``inf``/-1 without pairs."""
    best = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.intp)
    if len(i):
        order = np.lexsort((j, c, i))
        first = order[np.r_[True, i[order][1:] != i[order][:-1]]]
        best[i[first]] = c[first]
        idx[i[first]] = j[first]
    return best, idx


@dataclass
class StraightCosts(Costs):
    """Straight-line distance in metres (CGCS2000 Gauss-Kruger), by KD-tree."""

    origins: np.ndarray                         # village centres, metres
    places: dict[str, np.ndarray] = field(default_factory=dict)  # set -> xy metres
    spec: CostSpec = STRAIGHT

    def _xy(self, to: str, cols) -> np.ndarray:
        xy = self.places[to]
        return xy if cols is None else xy[np.asarray(cols, dtype=np.intp)]

    def size(self, to: str, cols=None) -> int:
        return len(self._xy(to, cols))

    def within(self, to: str, cutoff: float, cols=None):
        xy = self._xy(to, cols)
        m = len(xy)
        if m == 0 or len(self.origins) == 0:
            e = np.zeros(0, dtype=np.intp)
            return e, e.copy(), np.zeros(0)
        p = cKDTree(self.origins).sparse_distance_matrix(cKDTree(xy), cutoff,
                                                         output_type="ndarray")
        keep = p["v"] <= cutoff
        return pairs_sorted(p["i"][keep], p["j"][keep], p["v"][keep], m)

    def nearest(self, to: str, cols=None):
        xy = self._xy(to, cols)
        n = len(self.origins)
        if len(xy) == 0:
            return np.full(n, np.inf), np.full(n, -1, dtype=np.intp)
        d, idx = cKDTree(xy).query(self.origins, k=1)
        return d, idx

    def knearest(self, to: str, k: int, cols=None):
        xy = self._xy(to, cols)
        n, m = len(self.origins), len(xy)
        kq = min(k, m)
        if kq == 0:
            return np.zeros((n, 0)), np.zeros((n, 0), dtype=np.intp)
        d, idx = cKDTree(xy).query(self.origins, k=kq)
        return d.reshape(n, kq), idx.reshape(n, kq)

    def dense(self, to: str, cols=None) -> np.ndarray:
        xy = self._xy(to, cols)
        o = self.origins
        return np.hypot(o[:, None, 0] - xy[None, :, 0], o[:, None, 1] - xy[None, :, 1])


class CostSource:
    """What a service hands an analysis: the cost asked for, bound to the analysis' own
    points once it knows them (:meth:`bind`). Straight-line distance by default."""

    spec: CostSpec = STRAIGHT

    def bind(self, origins: np.ndarray, places: dict[str, np.ndarray], *, crs: str | None = None,
             origin_codes=None, names: dict | None = None) -> Costs:
        """Costs from ``origins`` (village centres, metres in ``crs``) to each named set of
        points (metres); ``origin_codes`` / ``names`` identify them in an OD matrix."""
        return StraightCosts(np.asarray(origins, dtype=float).reshape(-1, 2),
                             {k: np.asarray(v, dtype=float).reshape(-1, 2)
                              for k, v in places.items()})


STRAIGHT_SOURCE = CostSource()
