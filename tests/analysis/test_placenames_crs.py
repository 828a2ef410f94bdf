"""Issue 12: a whole label set in the wrong coordinate system is noticed.

The county of test_placenames_name_first (a real roster, its own seed, not the demo). The
labels matched by name are compared with their villages: shifted by the GCJ-02 or BD-09
offset they give ``crs_suspect`` "gcj02" / "bd09" and the median move, which is checked
against the shift measured here on the ellipsoid (pyproj Geod), not by the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from test_placenames_name_first import (
    build_county,
    label_frame,
    ll,
    point_outside,
    seat_labels,
)

from geoservice.analysis.placenames import check_placenames
from layers.crs import suspect_message, wgs_to_bd, wgs_to_gcj
from layers.labels import read_label_file

GEOD = Geod(ellps="GRS80")


@pytest.fixture(scope="module")
def county():
    return build_county()


def _lonlat(labels):
    return labels.geometry.x.to_numpy(), labels.geometry.y.to_numpy()


def _moved_m(lon0, lat0, lon1, lat1) -> np.ndarray:
    return GEOD.inv(lon0, lat0, lon1, lat1)[2]


def test_correct_labels_raise_no_suspicion(county):
    r = check_placenames(county.villages, label_frame(seat_labels(county)))
    assert r.summary["crs_suspect"] is None and r.summary["crs_offset_m"] is None
    assert r.summary["crs_message"] is None
    assert r.summary["crs_check"]["points"] == len(county.names)


@pytest.mark.parametrize("system, forward", [("gcj02", wgs_to_gcj), ("bd09", wgs_to_bd)])
def test_labels_in_an_offset_system_read_as_cgcs2000(county, system, forward):
    labels = label_frame(seat_labels(county))
    lon, lat = _lonlat(labels)
    slon, slat = forward(lon, lat)
    shift = _moved_m(lon, lat, slon, slat)
    assert 100 < np.median(shift) < 1_500  # the offset is real: hundreds of metres
    shifted = labels.set_geometry(shapely.points(slon, slat))  # read as if CGCS2000
    r = check_placenames(county.villages, shifted)
    s = r.summary
    assert s["crs_suspect"] == system
    assert s["crs_offset_m"] == pytest.approx(np.median(shift), rel=0.10)
    assert s["crs_check"]["declared"] == "cgcs2000"
    # every label still found its village by name: no missing, no unknown label
    assert s["counts"]["missing"] == 0 and s["counts"]["unknown_label"] == 0
    assert s["crs_message"] == suspect_message(s["crs_check"], "标注")
    assert "标注整体偏移" in s["crs_message"] and "米" in s["crs_message"]
    assert r.to_dict()["summary"]["crs_suspect"] == system


def test_a_file_declared_gcj02_that_is_really_cgcs2000(county, tmp_path):
    """A label file with CGCS2000 coordinates imported as GCJ-02: every label is moved by the
    inverse offset, and the check says the file is most likely CGCS2000."""
    labels = label_frame(seat_labels(county))
    lon, lat = _lonlat(labels)
    path = tmp_path / "labels_said_gcj02.csv"
    pd.DataFrame({"名称": labels["name"], "经度": lon, "纬度": lat}).to_csv(
        path, index=False, float_format="%.8f", encoding="utf-8-sig")
    read = read_label_file(path, "gcj02")
    assert set(read["crs"]) == {"gcj02"}
    rlon, rlat = _lonlat(read)
    moved = _moved_m(lon, lat, rlon, rlat)
    assert np.median(moved) > 100
    r = check_placenames(county.villages, read)
    s = r.summary
    assert s["crs_suspect"] == "cgcs2000"
    assert s["crs_check"]["declared"] == "gcj02"
    assert s["crs_offset_m"] == pytest.approx(np.median(moved), rel=0.10)
    assert "CGCS2000" in s["crs_message"] and "GCJ-02" in s["crs_message"]
    # the labels keep the system they were read in
    assert set(r.labels["crs"]) == {"gcj02"}


def test_a_few_labels_moved_km_away_are_not_a_wrong_system(county):
    uniq = county.unique_names()
    picks = uniq[:6]
    rows = seat_labels(county, skip=picks)
    for k, i in enumerate(picks):
        p = point_outside(county.cells[i], county.seats[i], 1.1 * k, 2_000 + 3_000 * k)
        rows.append((county.names[i], *p))
    r = check_placenames(county.villages, label_frame(rows))
    assert r.summary["counts"]["misplaced"] == 6
    assert r.summary["crs_suspect"] is None and r.summary["crs_offset_m"] is None


def test_gcj02_labels_read_as_gcj02_are_fine(county, tmp_path):
    """The same GCJ-02 numbers read as GCJ-02 (the right way): nothing suspected, and the
    labels come back where the villages are (within a metre of their seats)."""
    labels = label_frame(seat_labels(county))
    lon, lat = _lonlat(labels)
    glon, glat = wgs_to_gcj(lon, lat)
    path = tmp_path / "amap.csv"
    pd.DataFrame({"名称": labels["name"], "经度": glon, "纬度": glat}).to_csv(
        path, index=False, float_format="%.9f", encoding="utf-8-sig")
    read = read_label_file(path, "gcj02")
    rlon, rlat = _lonlat(read)
    assert _moved_m(lon, lat, rlon, rlat).max() < 1.0
    r = check_placenames(county.villages, read)
    assert r.summary["crs_suspect"] is None
    assert r.summary["crs_check"]["declared"] == "gcj02"
    assert len(r.findings) == 0


def test_seats_are_inside_their_cells(county):
    """The builder's premise: each label sits in its own village (checked with shapely in
    metres and in lon/lat)."""
    lon, lat = ll(county.seats[:, 0], county.seats[:, 1])
    inside = shapely.contains_xy(np.asarray(county.villages.geometry.array), lon, lat)
    assert inside.all()
    assert all(c.contains(shapely.Point(*s)) for c, s in zip(county.cells, county.seats,
                                                            strict=True))
