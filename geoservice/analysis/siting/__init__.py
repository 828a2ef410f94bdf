"""Siting suggestions: where the next facilities should go, and proof that it is the best.

Four problems, existing facilities always stay open, new ones come from candidates (a
``candidates`` layer, else every village centre):

* ``mclp``     add K sites maximising the covered weight (elderly, population or villages);
* ``target``   the fewest new sites reaching a target share of the weight;
* ``pmedian``  add K sites minimising the weighted distance to the nearest open facility,
               optionally capacitated by beds (fractional assignment, as in spopt);
* ``cemetery`` candidates filtered by exclusion zones (per-type setbacks) and a distance
               from village centres, then ``mclp`` with the cemeteries as existing sites.

"Covered" means exactly what :func:`geoservice.analysis.coverage.coverage` means: the
village centre (``village_centres``) lies within ``radius_m`` straight-line metres of a
facility, measured in the CGCS2000 Gauss-Kruger zone of the villages. Coverage pairs come
from a KD-tree (never a dense villages x candidates matrix); every problem is solved as a
MILP by HiGHS with a time limit, warm-started from the greedy plan. The chosen sites are
listed in greedy order of marginal gain. See docs/siting.md for the formulations.

The package, along the run's own seams: ``options`` (:class:`SitingOptions`, checked once),
``inputs`` (villages, facilities, candidates as arrays; coverage pairs), ``exclusions``
(cemetery rules and setbacks), ``milp`` (HiGHS: warm start, time limit, gap, cancel),
``cover`` (MCLP, target coverage), ``pmedian`` (incl. capacitated and single-source),
``result`` (ranking, :class:`SitingResult`, the summary) and ``run`` (the steps).
Errors are :class:`~geoservice.analysis.errors.InvalidInput` (with the parameter's name)
and :class:`~geoservice.analysis.errors.Cancelled`.
"""

from geoservice.analysis.errors import Cancelled, InvalidInput
from geoservice.analysis.vocabulary import PROBLEMS

from .milp import solver_name
from .options import SitingOptions
from .result import SitingResult
from .run import precheck, siting

__all__ = ["PROBLEMS", "Cancelled", "InvalidInput", "SitingOptions", "SitingResult",
           "precheck", "siting", "solver_name"]
