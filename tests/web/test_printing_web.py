"""GET /print/<analysis>.pdf|png: the page's parameters, paper options and the map extent
in, a PDF or PNG out; bad options are a Chinese 400; every analysis page offers 打印地图."""

from __future__ import annotations

import pytest
from fixtures import make_app


@pytest.fixture(scope="module")
def client(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace),
                     "PRINT_UNIT": "青神县民政局养老服务股"}).test_client()


def test_coverage_pdf_with_the_extent(client):
    r = client.get("/print/coverage.pdf?layer=elderly_service_points&radius=1500"
                   "&paper=A3&orientation=portrait&bbox=103.75,29.75,103.90,29.90&shading=access")
    assert r.status_code == 200, r.get_data(as_text=True)[-500:]
    assert r.content_type == "application/pdf"
    assert r.data.startswith(b"%PDF")
    assert 'filename="coverage_A3_portrait.pdf"' in r.headers["Content-Disposition"]
    assert "养老服务股".encode("utf-16-be") in r.data or b"Author" in r.data


@pytest.mark.parametrize("url", ["/print/siting.png?layer=elderly_service_points&add=2&dpi=72",
                                 "/print/boundaries.png?layer=villages&dpi=72",
                                 "/print/placenames.png?dpi=72"])
def test_every_analysis_prints(client, url):
    r = client.get(url)
    assert r.status_code == 200, r.get_data(as_text=True)[-500:]
    assert r.content_type == "image/png" and r.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/print/coverage.pdf?paper=B5", 400, "参数 paper（纸张）“B5”无效"),
    ("/print/coverage.pdf?orientation=up", 400, "参数 orientation（方向）"),
    ("/print/coverage.svg", 400, "参数 format（格式）“svg”无效"),
    ("/print/coverage.pdf?bbox=1,2", 400, "应为 4 个数"),
    ("/print/coverage.pdf?radius=-5", 400, "radius"),
    ("/print/nothing.pdf", 404, "没有“nothing”的打印地图"),
])
def test_bad_requests_are_chinese(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status
    assert words in r.get_data(as_text=True)


@pytest.mark.parametrize("page", ["/coverage", "/siting", "/boundaries", "/placenames"])
def test_every_analysis_page_has_the_print_form(client, page):
    html = client.get(page).get_data(as_text=True)
    assert 'id="print-form"' in html and "打印地图" in html
    assert f'action="/print{page}.pdf"' in html


def test_report_title_block_names_the_unit(client):
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(client.get("/coverage/report.xlsx").data))
    rows = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}
    assert rows["编制单位"] == "青神县民政局养老服务股"
    assert wb["乡镇"].oddHeader.left.text == "青神县民政局养老服务股"
