"""The target year on /api/coverage, /api/siting and the pages: ``year`` and ``growth`` in
the query or form, a ``projection`` table by multipart POST; a bad table is a 400 with
row-level Chinese problems and nothing stored. Tiny county: 500/300/250/600 elderly."""

from __future__ import annotations

import io

import pytest

from layers import open_store

CODES = ["511425102200", "511425102201", "511425108200", "511425108201"]
TABLE = ("乡镇代码,年份,60岁以上人口\n511425102,2030,1000\n511425108,2030,900\n").encode()


@pytest.fixture
def client(tiny_app):
    return tiny_app.test_client()


def _elderly(body) -> list[int]:
    by_code = {v["code"]: v["elderly_population"] for v in body["villages"]}
    return [by_code[c] for c in CODES]


def test_api_year_and_growth(client):
    plain = client.get("/api/coverage?radius=1500").get_json()
    assert "demand" not in plain["summary"]
    assert _elderly(plain) == [500, 300, 250, 600]
    body = client.get("/api/coverage?radius=1500&year=2026&growth=10%25").get_json()
    # 1.1**2 = 1.21: 605, 363, 302.5 -> 303 (half up), 726
    assert _elderly(body) == [605, 363, 303, 726]
    assert body["summary"]["demand"] == {"year": 2026, "base_year": 2024,
                                         "source": "年增长率 10%", "given": True}
    bad = client.get("/api/coverage?year=abc")
    assert bad.status_code == 400 and "参数 year（目标年份）" in bad.get_json()["error"]


def test_api_projection_upload(client):
    r = client.post("/api/coverage", data={"radius": "1500", "year": "2030",
                                           "projection": (io.BytesIO(TABLE), "规划预测.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # 甲镇 1000 over 500:300 = 625, 375; 乙镇 900 over 250:600 = 264.71, 635.29 -> 265, 635
    assert _elderly(body) == [625, 375, 265, 635]
    assert body["summary"]["demand"]["source"] == "预测表 规划预测.csv"


def test_a_bad_table_is_refused_row_by_row_and_nothing_is_stored(client, tiny_workspace):
    store = open_store(tiny_workspace)
    before = ({k: v.version for k, v in store.current_versions().items()},
              len(store.audit_rows()))
    table = "村代码,年份,60岁以上人口\n511425102200,2030,许多\n511425999999,2030,10\n".encode()
    for url in ("/api/coverage", "/api/siting"):
        r = client.post(url, data={"layer": "elderly_service_points", "add": "1",
                                   "year": "2030",
                                   "projection": (io.BytesIO(table), "bad.csv")},
                        content_type="multipart/form-data")
        assert r.status_code == 400
        body = r.get_json()
        assert body["error"].startswith("预测表“bad.csv”不能使用，共 2 处问题")
        assert [(p["row"], p["field"]) for p in body["problems"]] == [
            (2, "60岁以上人口"), (3, "村代码")]
    after_store = open_store(tiny_workspace)
    after = ({k: v.version for k, v in after_store.current_versions().items()},
             len(after_store.audit_rows()))
    assert before == after


def test_siting_api_takes_the_projection(client):
    r = client.post("/api/siting", data={"layer": "elderly_service_points", "add": "1",
                                         "year": "2030",
                                         "projection": (io.BytesIO(TABLE), "p.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["summary"]["demand"] == {"year": 2030, "base_year": 2024,
                                         "source": "预测表 p.csv", "given": True}
    assert sorted(v["elderly_population"] for v in body["villages"]) == [265, 375, 625, 635]


def test_pages_show_the_fields_and_the_year_used(client):
    text = client.get("/coverage?radius=1500").get_data(as_text=True)
    assert "目标年份" in text and 'name="year"' in text and 'name="projection"' in text
    assert "需求（老年人口）：当前数据（2024 年）" in text
    text = client.get("/coverage?radius=1500&year=2030").get_data(as_text=True)
    assert "需求（老年人口）：2030 年（年增长率 3%（默认），基准年 2024 年）" in text
    r = client.post("/coverage", data={"radius": "1500", "year": "2030",
                                       "projection": (io.BytesIO(TABLE), "p.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    assert "2030 年（预测表 p.csv，基准年 2024 年）" in r.get_data(as_text=True)
    siting = client.get("/siting").get_data(as_text=True)
    assert "目标年份" in siting and 'name="growth"' in siting and 'enctype="multipart/form-data"' in siting
