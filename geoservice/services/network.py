"""The road network check bound to a workspace (``network check``, ``/api/network/check``,
the ``/network`` page), and the service areas of a coverage result on the road network
(docs/network.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geoservice.analysis.vocabulary import FACILITY_LAYERS
from geoservice.services.costs import network_kinds, road_graph
from geoservice.services.params import choice, number, within
from geoservice.services.workspace import require_layer
from layers.crs import metric_crs

# The point layers whose distance to the roads the check reports (besides the villages)
CHECKED_LAYERS = (*FACILITY_LAYERS, "candidates")
MAX_CHECK_M = 100_000


@dataclass(frozen=True)
class NetworkCheckParams:
    network: str = "roads"
    far_m: float | None = None      # None: defaults.toml [network] check_far_m
    dangle_m: float | None = None   # None: defaults.toml [network] dangle_m

    def query(self) -> dict:
        q = {"network": self.network}
        if self.far_m is not None:
            q["far"] = f"{self.far_m:g}"
        if self.dangle_m is not None:
            q["dangle"] = f"{self.dangle_m:g}"
        return q


def network_check_params(network=None, far=None, dangle=None) -> NetworkCheckParams:
    """The check's parameters from text: the network layer, the far-from-road threshold
    and the dangling-end distance (metres; empty: the defaults)."""
    net = choice(network, "network", "道路网图层", network_kinds(), default="roads")
    far_m = number(far, "far", "离路过远阈值", unit="米")
    if far_m is not None:
        within(far_m, "far", "离路过远阈值", 0, MAX_CHECK_M, unit="米")
    dangle_m = number(dangle, "dangle", "悬挂线端距离", unit="米")
    if dangle_m is not None:
        within(dangle_m, "dangle", "悬挂线端距离", 0, 10_000, unit="米")
    return NetworkCheckParams(net, far_m, dangle_m)


def _points_xy(frame, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's point (a polygon's point inside), in metres, and which features
    have a geometry."""
    geoms = frame.geometry
    usable = ~(geoms.isna() | geoms.is_empty)
    pts = geoms[usable].representative_point()
    return shapely.get_coordinates(pts.to_crs(crs).to_numpy()), usable.to_numpy()


def run_network_check(store, params: NetworkCheckParams | str = "roads"):
    """The check of the workspace's road network with its villages and facility layers."""
    from geoservice.analysis.coverage import metre_centres
    from geoservice.analysis.netcheck import check_network

    if isinstance(params, str):
        params = network_check_params(params)
    kind = params.network
    versions = store.current_versions()
    roads = require_layer(store, kind, "（道路网检查）", versions=versions)
    version = versions[kind].version
    layer_versions = {kind: version}
    if "villages" in versions:
        villages = require_layer(store, "villages", versions=versions)
        layer_versions["villages"] = versions["villages"].version
        derived = getattr(store, "derived", None)
        gk, vxy, _ = (derived("villages", versions["villages"].version, "metre_centres",
                              lambda: metre_centres(villages)) if derived is not None
                      else metre_centres(villages))
        codes = villages["code"] if "code" in villages.columns else None
        names = villages["name"] if "name" in villages.columns else None
    else:
        gk, vxy, codes, names = metric_crs(roads), np.zeros((0, 2)), [], []
    graph = road_graph(store, kind, roads, version, gk)
    facilities = {}
    for layer in CHECKED_LAYERS:
        if layer not in versions:
            continue
        frame = store.read(layer, version=versions[layer].version)
        layer_versions[layer] = versions[layer].version
        xy, usable = _points_xy(frame, gk)
        fnames = frame["name"].to_numpy()[usable] if "name" in frame.columns else None
        facilities[layer] = (xy, fnames)
    import datetime as dt

    info = store.info()
    inputs = {"workspace": info.get("title", ""), "demo": info.get("demo") == "1",
              "layer_versions": layer_versions, "date": dt.date.today().isoformat()}
    return check_network(graph, vxy, codes, names, facilities, far_m=params.far_m,
                         dangle_m=params.dangle_m, network=kind, roads=roads, inputs=inputs)


def coverage_service_areas(store, params, result, *, buffer_m: float | None = None):
    """The service areas along roads of a coverage ``result`` run with ``params`` (its
    ``cost`` on the road network): per facility and merged, or None on another cost."""
    spec = params.cost.spec
    if spec.kind != "network":
        return None
    from geoservice.analysis.service_area import service_areas

    versions = store.current_versions()
    kind = spec.network
    roads = require_layer(store, kind, versions=versions)
    villages = require_layer(store, "villages", versions=versions)
    gk = metric_crs(villages)
    graph = road_graph(store, kind, roads, versions[kind].version, gk)
    fac = result.facilities
    fxy, usable = _points_xy(fac, gk)
    names = fac["name"].to_numpy()[usable] if "name" in fac.columns else None
    return service_areas(graph, fxy, names, float(result.summary["radius_m"]),
                         field=spec.field, buffer_m=buffer_m)
