"""Malformed parameters and bodies answer 400 (or 404) with a Chinese message, never 500,
and change nothing stored."""

from __future__ import annotations

import re

import pytest

from layers import open_store

HAN = re.compile(r"[\u4e00-\u9fff]")
BAD_VALUES = ["nan", "inf", "-1e999", "99999999999999999999999999", "[]", "%", "1,2", "\u0661",
              "<script>", "\x00"]
ROUTES = {
    "/api/coverage": ["layer", "radius", "level", "weighting", "target"],
    "/coverage": ["layer", "radius", "level", "weighting", "target", "shading"],
    "/coverage/report.csv": ["radius", "target"],
    "/api/boundaries": ["layer", "area", "width", "marker", "area_sum", "snap"],
    "/api/boundaries/lines": ["format", "layer", "snap"],
    "/api/placenames": ["tolerance", "radius", "threshold"],
    "/api/layers/villages": ["bbox", "version", "limit", "offset"],
    "/siting/report.csv": ["radius", "add", "target", "problem", "weight", "time_limit"],
}
CASES = [(route, name, value) for route, names in ROUTES.items() for name in names
         for value in BAD_VALUES]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import shutil

    from fixtures import (
        build_tiny_workspace,
        make_app,  # create_app with an admin signed in (API token)
    )

    folder = tmp_path_factory.mktemp("malformed")
    path = folder / "w.gpkg"
    shutil.copyfile(build_tiny_workspace(folder), path)
    app = make_app({"WORKSPACE": str(path)})
    app.config["_path"] = path
    return app.test_client()


def _readable(r) -> str:
    if r.is_json:
        return r.get_json()["error"]
    return r.get_data(as_text=True)


@pytest.mark.parametrize("route, name, value", CASES,
                         ids=[f"{r}?{n}={v!r}" for r, n, v in CASES])
def test_a_malformed_parameter_is_never_a_500(client, route, name, value):
    r = client.get(route, query_string={name: value})
    assert r.status_code in (200, 400, 404), (r.status_code, _readable(r)[:300])
    if r.status_code != 200:
        assert HAN.search(_readable(r)), _readable(r)[:300]


@pytest.mark.parametrize("route", ["/api/siting", "/api/siting/jobs", "/api/siting/accept",
                                   "/api/boundaries/merge"])
@pytest.mark.parametrize("body", ["[]", "[1, 2]", "1", "\"x\"", "null", "{", "{\"layer\": [1]}"])
def test_a_body_that_is_not_an_object_is_a_400(client, route, body):
    before = open_store(client.application.config["_path"]).current_versions()
    r = client.post(route, data=body, content_type="application/json")
    assert r.status_code in (400, 404), (r.status_code, r.get_data(as_text=True)[:300])
    assert HAN.search(r.get_json()["error"])
    assert open_store(client.application.config["_path"]).current_versions() == before


def test_an_upload_over_the_limit_says_the_limit(tiny_workspace):
    import io

    from fixtures import make_app  # create_app with an admin signed in (API token)

    app = make_app({"WORKSPACE": str(tiny_workspace), "MAX_UPLOAD_MB": 1})
    c = app.test_client()
    big = io.BytesIO(b"0" * (1024 * 1024 + 10))
    r = c.post("/api/layers/villages", data={"file": (big, "v.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 413 and "1 MB" in r.get_json()["error"]
    page = c.post("/upload", data={"kind": "villages", "file": (io.BytesIO(b"0" * (1024 * 1024
                                                                                  + 10)), "v.csv")},
                  content_type="multipart/form-data")
    assert page.status_code == 413 and "1 MB" in page.get_data(as_text=True)


def test_a_huge_number_in_an_import_is_a_400_naming_row_and_field(client):
    import io

    before = open_store(client.application.config["_path"]).current_versions()
    csv = "名称,类型,床位数,经度,纬度\n甲镇敬老院,乡镇敬老院," + "9" * 25 + ",103.75,29.83\n"
    r = client.post("/api/layers/welfare_homes",
                    data={"file": (io.BytesIO(csv.encode("utf-8")), "homes.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    problems = r.get_json()["problems"]
    assert problems[0]["row"] == 2 and problems[0]["field"] == "床位数"
    assert "超出整数的可用范围" in problems[0]["message"]
    assert open_store(client.application.config["_path"]).current_versions() == before
