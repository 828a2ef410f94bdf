"""``fields=`` and ``limit``/``offset`` on the analysis APIs other than coverage:
``/api/siting`` (and a job's result: the village rows), ``/api/boundaries`` and
``/api/placenames`` (the findings). A page is the slice of the whole list, bad values are
a Chinese 400 naming the parameter, and without these parameters the JSON is what the old
path (Flask's ``jsonify`` of the analysis' row-by-row ``to_dict``) gave."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fixtures import make_app

from geoservice.analysis.boundaries.checks import FINDING_COLUMNS
from geoservice.analysis.jsonsafe import jsonable
from geoservice.analysis.placenames.check import JSON_COLUMNS
from geoservice.services.boundaries import boundary_params, run_boundaries
from geoservice.services.placenames import placenames_params, run_placenames
from layers import open_store

MCLP = {"layer": "elderly_service_points", "radius": 2000, "add": 3}
VILLAGE_FIELDS = ["code", "name", "township_code", "elderly_population", "population",
                  "covered_before", "covered_after", "nearest_m_before", "nearest_m_after",
                  "new_site_rank", "centre_lon", "centre_lat"]


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def job(client):
    """A finished siting job on the demo county, and its JSON without parameters."""
    r = client.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    found = client.application.extensions["siting_jobs"].get(job_id)
    assert found is not None and found.wait(120), "the siting job did not finish"
    body = client.get(f"/api/siting/jobs/{job_id}").get_json()
    assert body["state"] == "done", body
    return job_id, body


def _old_json(app, body) -> dict:
    """What Flask's ``jsonify`` (the old path) wrote for ``body``, parsed."""
    with app.app_context():
        return json.loads(app.json.dumps(body))


def _old_boundaries_dict(result) -> dict:
    """``BoundaryResult.to_dict`` as it was before the column-wise conversion (row by row)."""
    findings = []
    for row in pd.DataFrame(result.findings.drop(columns="geometry")).to_dict("records"):
        findings.append({k: jsonable(row[k]) for k in FINDING_COLUMNS})
    lines = []
    for row in pd.DataFrame(result.boundary_lines.drop(columns="geometry")).to_dict("records"):
        lines.append({
            "kind": row["kind"],
            "codes": [c for c in (row["code_a"], row["code_b"])
                      if c is not None and not (isinstance(c, float) and np.isnan(c))],
            "names": [jsonable(row["name_a"]), jsonable(row["name_b"])],
            "length_m": jsonable(row["length_m"]),
            "length_km": jsonable(row["length_km"]),
        })
    summary = {**result.summary.get("counts", {}), **result.summary}
    return {"summary": summary, "findings": findings, "boundary_lines": lines,
            "groups": result.groups()}


# --- without parameters: the JSON of the old path -------------------------------------

def test_siting_job_result_unchanged(app, client, job):
    job_id, body = job
    run = client.application.extensions["siting_jobs"].get(job_id).result
    assert body["result"] == _old_json(app, run.to_dict())
    assert "numberMatched" not in body["result"] and len(body["result"]["villages"]) == 58


def test_siting_sync_unchanged(app, client, job):
    r = client.post("/api/siting", json=MCLP)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body, old = r.get_json(), job[1]["result"]
    assert body.keys() == old.keys() and "numberMatched" not in body
    assert {k: body[k] for k in ("sites", "excluded", "villages")} == \
        {k: old[k] for k in ("sites", "excluded", "villages")}
    strip = ("solve_seconds",)
    assert {k: v for k, v in body["summary"].items() if k not in strip} == \
        {k: v for k, v in old["summary"].items() if k not in strip}


@pytest.mark.parametrize("layer", ["townships", "villages"])
def test_boundaries_unchanged(app, client, module_demo_workspace, layer):
    r = client.get(f"/api/boundaries?layer={layer}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    result = run_boundaries(open_store(module_demo_workspace), boundary_params(layer))
    old = _old_json(app, _old_boundaries_dict(result))
    assert r.get_json() == old
    assert result.to_dict() == _old_boundaries_dict(result)  # the CLI's --json too
    assert old["boundary_lines"]


def test_placenames_unchanged(app, client, module_demo_workspace):
    r = client.get("/api/placenames")
    assert r.status_code == 200 and r.mimetype == "application/json"
    result = run_placenames(open_store(module_demo_workspace), placenames_params())
    assert r.get_json() == _old_json(app, result.to_dict())
    assert len(result.findings) >= 4


# --- fields and pages: the slice of the whole list -------------------------------------

def _check_page(whole: dict, page: dict, key: str, fields: list[str], offset: int,
                limit: int) -> None:
    assert page[key] == [{f: row[f] for f in fields}
                         for row in whole[key][offset:offset + limit]]
    assert (page["numberMatched"], page["numberReturned"]) == \
        (len(whole[key]), len(whole[key][offset:offset + limit]))
    assert (page["limit"], page["offset"]) == (limit, offset)
    rest = {k: v for k, v in whole.items() if k != key}
    assert {k: page[k] for k in rest} == rest


def test_siting_job_fields_and_page(client, job):
    job_id, body = job
    whole = body["result"]
    r = client.get(f"/api/siting/jobs/{job_id}?fields=code,covered_after&limit=5&offset=3")
    assert r.status_code == 200
    page = r.get_json()
    assert page["state"] == "done"
    _check_page(whole, page["result"], "villages", ["code", "covered_after"], 3, 5)
    only = client.get(f"/api/siting/jobs/{job_id}?fields=new_site_rank").get_json()["result"]
    assert only["villages"] == [{"new_site_rank": v["new_site_rank"]} for v in whole["villages"]]
    assert "numberMatched" not in only
    last = client.get(f"/api/siting/jobs/{job_id}?offset=56").get_json()["result"]
    assert last["villages"] == whole["villages"][56:]
    assert (last["numberMatched"], last["numberReturned"], last["limit"]) == (58, 2, None)


def test_siting_sync_fields_and_page(client, job):
    whole = job[1]["result"]
    # in the JSON body, in the query string, or in a form
    a = client.post("/api/siting", json={**MCLP, "fields": ["code", "nearest_m_after"],
                                         "limit": 4, "offset": 10}).get_json()
    b = client.post("/api/siting?fields=code,nearest_m_after&limit=4&offset=10",
                    json=MCLP).get_json()
    c = client.post("/api/siting", data={**{k: str(v) for k, v in MCLP.items()},
                                         "fields": "code,nearest_m_after", "limit": "4",
                                         "offset": "10"}).get_json()
    for page in (a, b, c):
        assert page["villages"] == [{"code": v["code"], "nearest_m_after": v["nearest_m_after"]}
                                    for v in whole["villages"][10:14]]
        assert (page["numberMatched"], page["numberReturned"]) == (58, 4)
        assert page["sites"] == whole["sites"]


@pytest.mark.parametrize("layer", ["townships", "villages"])
def test_boundaries_fields_and_page(client, layer):
    whole = client.get(f"/api/boundaries?layer={layer}").get_json()
    n = len(whole["findings"])
    assert n >= 2
    page = client.get(f"/api/boundaries?layer={layer}&fields=type,codes,message"
                      f"&limit=2&offset=1").get_json()
    _check_page(whole, page, "findings", ["type", "codes", "message"], 1, 2)
    every = client.get(f"/api/boundaries?layer={layer}&fields={','.join(FINDING_COLUMNS)}"
                       f"&limit=10000").get_json()
    assert every["findings"] == whole["findings"] and every["numberReturned"] == n
    beyond = client.get(f"/api/boundaries?layer={layer}&offset={n + 5}").get_json()
    assert beyond["findings"] == [] and beyond["numberMatched"] == n


def test_placenames_fields_and_page(client):
    whole = client.get("/api/placenames").get_json()
    page = client.get("/api/placenames?fields=label_name,type,distance_m&limit=3&offset=2")
    assert page.status_code == 200
    _check_page(whole, page.get_json(), "findings", ["label_name", "type", "distance_m"], 2, 3)
    # repeated fields are given once, in the order first asked
    twice = client.get("/api/placenames?fields=code,type,code").get_json()
    assert twice["findings"] == [{"code": f["code"], "type": f["type"]}
                                 for f in whole["findings"]]


# --- bad values: a Chinese 400 ---------------------------------------------------------

BAD = [
    ("fields=nope", "参数 fields 中的字段“nope”无效"),
    ("fields=,", "参数 fields 为空"),
    ("limit=0", "参数 limit“0”应为 1 到"),
    ("limit=abc", "参数 limit“abc”应为 1 到"),
    ("limit=99999999", "参数 limit“99999999”应为 1 到 10000"),
    ("offset=-1", "参数 offset“-1”应为 0 到"),
]


@pytest.mark.parametrize("query, message", BAD)
def test_bad_values_are_a_chinese_400(client, job, query, message):
    if "nope" in query:  # the message names the fields there are
        message_of = {"siting": "：村的字段有 " + "、".join(VILLAGE_FIELDS),
                      "boundaries": "：问题的字段有 " + "、".join(FINDING_COLUMNS),
                      "placenames": "：问题的字段有 " + "、".join(JSON_COLUMNS)}
    else:
        message_of = {k: "" for k in ("siting", "boundaries", "placenames")}
    answers = {
        "siting": client.get(f"/api/siting/jobs/{job[0]}?{query}"),
        "boundaries": client.get(f"/api/boundaries?layer=villages&{query}"),
        "placenames": client.get(f"/api/placenames?{query}"),
    }
    for name, r in answers.items():
        assert r.status_code == 400, (name, r.get_json())
        error = r.get_json()["error"]
        assert error.startswith(message) and error.endswith(message_of[name]), (name, error)
    sync = client.post(f"/api/siting?{query}", json=MCLP)
    assert sync.status_code == 400 and sync.get_json()["error"].startswith(message)
