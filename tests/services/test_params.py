"""Parameters from text (geoservice/services/params.py): one place, one wording.

Every service parses its text parameters here, so a bad value reads the same whichever
analysis, page, API or command it came through: ``参数 <name>（<label>…）…``.
"""

from __future__ import annotations

import pytest

from geoservice.analysis.settings import coverage_defaults
from geoservice.errors import BadParameter, http_status
from geoservice.services import params
from geoservice.services.boundaries import boundary_params, merge_params
from geoservice.services.coverage import coverage_params
from geoservice.services.placenames import placenames_params
from geoservice.services.siting import siting_params


@pytest.mark.parametrize("value, expected", [
    ("0.6", 0.6), ("60", 0.6), ("60%", 0.6), (" 75 % ", 0.75), ("1", 1.0), ("0.5%", 0.005),
    ("", None), (None, None),
])
def test_share_reads_fractions_and_percentages(value, expected):
    got = params.share(value, "target", "目标覆盖率")
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "150%", "101"])
def test_share_refuses_what_is_not_a_share(value):
    with pytest.raises(BadParameter) as err:
        params.share(value, "target", "目标覆盖率")
    assert str(err.value).startswith("参数 target（目标覆盖率")
    assert http_status(err.value) == 400


def test_radius_default_and_given():
    radius, given = params.facility_radius("", "elderly_service_points", "village_station")
    assert not given
    assert radius == coverage_defaults("elderly_service_points", "village_station")["radius_m"]
    assert params.facility_radius("2500", "elderly_service_points", None) == (2500.0, True)
    for bad in ("0", "-5", str(params.MAX_RADIUS_M + 1)):
        with pytest.raises(BadParameter, match=r"^参数 radius（服务半径）应在"):
            params.facility_radius(bad, "elderly_service_points", None)


def test_level_accepts_the_stored_value_or_its_chinese_label():
    assert params.facility_level("elderly_service_points", "village_station") == "village_station"
    stored = params.facility_level("elderly_service_points", "村级互助养老服务站")
    assert stored == "village_station"
    with pytest.raises(BadParameter, match=r"^参数 level（层级/类型）“医院”无效"):
        params.facility_level("elderly_service_points", "医院")


def test_provenance_has_two_words():
    assert params.provenance(True) == params.GIVEN
    assert params.provenance(False) == params.DEFAULT
    assert params.GIVEN != params.DEFAULT


@pytest.mark.parametrize("call, name", [
    (lambda: coverage_params(radius="abc"), "radius"),
    (lambda: coverage_params(target="abc"), "target"),
    (lambda: coverage_params(layer="hospitals"), "layer"),
    (lambda: siting_params(layer="elderly_service_points", radius="abc"), "radius"),
    (lambda: siting_params(layer="hospitals"), "layer"),
    (lambda: siting_params(layer="elderly_service_points", target="abc",
                           problem="target"), "target"),
    (lambda: boundary_params(layer="roads"), "layer"),
    (lambda: boundary_params(width="abc"), "width"),
    (lambda: placenames_params(tolerance="abc"), "tolerance"),
    (lambda: placenames_params(threshold="2"), "threshold"),
    (lambda: merge_params(codes="", name="新村"), "codes"),
    (lambda: merge_params(codes="511425102200,511425102201", name=""), "name"),
])
def test_every_service_words_a_bad_parameter_the_same_way(call, name):
    with pytest.raises(BadParameter) as err:
        call()
    assert str(err.value).startswith(f"参数 {name}（"), str(err.value)
