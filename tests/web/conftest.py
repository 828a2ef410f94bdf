"""The web and API tests run on both stores: every workspace fixture (tests/conftest.py) of
these tests is a GeoPackage file once and a PostGIS database once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def store_kind(request) -> str:
    return request.param
