"""Services bind an analysis to a store: the layers they read, and the provenance they
write on every result (layer versions, given or default figures)."""

from __future__ import annotations

import pytest

from geoservice.errors import NotFound, http_status
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.params import DEFAULT, GIVEN
from geoservice.services.siting import run_siting, siting_params
from geoservice.services.workspace import require_layer
from layers import open_store


@pytest.fixture
def store(tiny_workspace):
    return open_store(tiny_workspace)


def test_a_missing_layer_is_a_chinese_404(tmp_path):
    empty = open_store(tmp_path / "empty.gpkg")
    with pytest.raises(NotFound) as err:
        require_layer(empty, "villages")
    assert http_status(err.value) == 404 and "村(社区)" in str(err.value)


def test_coverage_records_versions_and_where_the_radius_came_from(store):
    versions = {k: v.version for k, v in store.current_versions().items()}
    given = run_coverage(store, coverage_params(radius="1500")).summary["inputs"]
    default = run_coverage(store, coverage_params()).summary["inputs"]
    assert (given["radius_from"], default["radius_from"]) == (GIVEN, DEFAULT)
    assert given["layer_versions"] == {k: versions[k] for k in given["layer_versions"]}
    assert {"villages", "elderly_service_points"} <= set(given["layer_versions"])


def test_a_new_version_shows_in_the_next_result(store):
    villages = store.read("villages")
    store.write("villages", villages, source="again.geojson", source_crs="EPSG:4490")
    inputs = run_coverage(store, coverage_params()).summary["inputs"]
    assert inputs["layer_versions"]["villages"] == 2


def test_siting_records_where_the_radius_came_from(store):
    given = run_siting(store, siting_params(layer="elderly_service_points", radius="1500",
                                            add="1"))
    default = run_siting(store, siting_params(layer="elderly_service_points", add="1"))
    assert given.result.summary["inputs"]["radius_from"] == GIVEN
    assert default.result.summary["inputs"]["radius_from"] == DEFAULT
