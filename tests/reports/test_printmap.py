"""Printed maps as a person files them: the PDF read back with poppler (pdftotext for the
words on page 1, pdffonts for embedded fonts, pdftoppm for the page as a picture), the
PNG's size, the extent asked for, Chinese errors; and the report workbooks' print set-up."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from PIL import Image

from geoservice.config import DEMO_WORKSPACE
from geoservice.errors import BadParameter
from geoservice.reports import printmap
from geoservice.reports.printmap import PrintError, print_map, print_options
from geoservice.services.boundaries import boundary_params, run_boundaries
from geoservice.services.coverage import coverage_params, run_coverage
from layers.store import open_store

POPPLER = ("pdftotext", "pdffonts", "pdftoppm")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install poppler-utils (.ci/run installs it)"
    return path


def pdf_text(path) -> str:
    out = subprocess.run([_tool("pdftotext"), "-f", "1", "-l", "1", str(path), "-"],
                         capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def pdf_fonts(path) -> list[list[str]]:
    out = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return [line.split() for line in out[2:] if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("print") / "qingshen.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    store = open_store(path)
    return store, run_coverage(store, coverage_params(radius="2000"))


@pytest.fixture(scope="module")
def demo_pdf(demo, tmp_path_factory):
    store, result = demo
    path = tmp_path_factory.mktemp("pdf") / "覆盖.pdf"
    path.write_bytes(print_map(store, "coverage", result, print_options("A4", "landscape", "pdf"),
                               unit="测试县民政局"))
    return path


def test_pdf_has_title_legend_scale_and_the_block(demo_pdf):
    assert demo_pdf.read_bytes().startswith(b"%PDF")
    text = pdf_text(demo_pdf)
    for words in ("青神县（示例数据） 养老服务设施覆盖分析图", "图例", "已覆盖的村(社区)",
                  "服务半径 2,000 米（直线距离）", "比例尺 1:", "千米", "北", "数据日期", "图层版本",
                  "村(社区) 第 1 版", "距离计算", "制图单位：测试县民政局", "示例数据"):
        assert words in text, words


def test_pdf_fonts_are_embedded(demo_pdf):
    fonts = pdf_fonts(demo_pdf)
    assert fonts
    assert any("CJK" in row[0] for row in fonts)
    # columns: name type [type] encoding emb sub uni object ID: "emb" is 5th from the end
    assert all(row[-5] == "yes" for row in fonts), fonts


def test_page_one_renders(demo_pdf, tmp_path):
    out = tmp_path / "page"
    subprocess.run([_tool("pdftoppm"), "-png", "-r", "40", "-f", "1", "-l", "1",
                    "-singlefile", str(demo_pdf), str(out)], check=True)
    with Image.open(f"{out}.png") as img:
        w, h = img.size
        assert (round(w), round(h)) == (round(297 / 25.4 * 40), round(210 / 25.4 * 40))
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # a drawn map, not a blank page


def test_png_size_for_the_paper(demo):
    store, result = demo
    options = print_options("A4", "portrait", "png", dpi="100")
    data = print_map(store, "coverage", result, options)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        assert img.size == options.size_px == (826, 1169)


def test_bbox_is_the_extent_shown(demo, tmp_path):
    store, result = demo
    v = result.villages.set_index("name")
    inside, outside = "青衣社区", "施家沟村"
    c = v.loc[inside].geometry.representative_point()
    bbox = f"{c.x - 0.012},{c.y - 0.01},{c.x + 0.012},{c.y + 0.01}"
    path = tmp_path / "bbox.pdf"
    path.write_bytes(print_map(store, "coverage", result,
                               print_options("A3", "portrait", "pdf", bbox=bbox)))
    text = pdf_text(path)
    assert inside in text and outside not in text
    whole = pdf_text(_write(tmp_path / "whole.pdf", print_map(
        store, "coverage", result, print_options("A3", "portrait", "pdf"))))
    assert inside in whole and outside in whole
    # the scale follows the extent: a small box is a larger scale (a smaller ratio)
    assert _ratio(text) < _ratio(whole) / 5


def _write(path, data):
    path.write_bytes(data)
    return path


def _ratio(text: str) -> int:
    line = next(s for s in text.split() if s.startswith("1:"))
    return int(line[2:].replace(",", ""))


def test_second_county_prints_without_demo_mark(county_workspace, tmp_path):
    store = open_store(county_workspace)
    result = run_boundaries(store, boundary_params("villages"))
    path = _write(tmp_path / "界线.pdf", print_map(
        store, "boundaries", result, print_options("A4", "portrait", "pdf")))
    text = pdf_text(path)
    assert "竹山县（测试数据） 村(社区)界线审查图" in text
    assert "制图单位：竹山县民政局" in text  # PRINT_UNIT unset: the county's bureau
    assert "共有界线" in text and "比例尺" in text and "示例数据" not in text
    assert all(row[-5] == "yes" for row in pdf_fonts(path))
    cov = run_coverage(store, coverage_params())
    png = print_map(store, "coverage", cov, print_options("A3", "landscape", "png", dpi="72"))
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (int(420 / 25.4 * 72), int(297 / 25.4 * 72))


@pytest.mark.parametrize(("args", "words"), [
    ({"paper": "B5"}, "参数 paper（纸张）“B5”无效"),
    ({"orientation": "sideways"}, "参数 orientation（方向）“sideways”无效"),
    ({"fmt": "svg"}, "参数 format（格式）“svg”无效"),
    ({"bbox": "103.8,29.8,103.7"}, "应为 4 个数"),
    ({"bbox": "104,30,103,29"}, "最小经纬度应小于最大经纬度"),
    ({"bbox": "10,10,11,11"}, "不在中国境内"),
    ({"dpi": "9000"}, "72 到 600"),
])
def test_bad_options_are_refused_in_chinese(args, words):
    with pytest.raises(BadParameter, match=words):
        print_options(**args)


def test_no_cjk_font_is_a_chinese_error(monkeypatch):
    printmap.cjk_font.cache_clear()
    try:
        monkeypatch.setattr(printmap, "FONT_FAMILIES", ("不存在的字体",))
        monkeypatch.setattr(printmap, "FONT_FILES", ())
        monkeypatch.setattr(printmap.shutil, "which", lambda name: None)
        with pytest.raises(PrintError, match="fonts-noto-cjk"):
            printmap.cjk_font()
    finally:
        printmap.cjk_font.cache_clear()


def test_data_text_is_not_mathtext(demo, tmp_path):
    """A name with ``$`` is printed as written (matplotlib would read $...$ as TeX)."""
    store, result = demo
    villages = result.villages.copy()
    villages.loc[villages.index[0], "name"] = "$\\alpha$村"
    hostile = type(result)(villages, result.townships, result.facilities, result.summary,
                           result.uncovered)
    path = _write(tmp_path / "m.pdf", print_map(store, "coverage", hostile,
                                                print_options("A4", "landscape", "pdf")))
    assert "$\\alpha$村" in pdf_text(path)


# --- the report workbooks, ready to file --------------------------------------------------

def test_report_workbook_print_setup(demo):
    from geoservice.reports.coverage import coverage_xlsx

    store, result = demo
    wb = load_workbook(io.BytesIO(coverage_xlsx(result)))
    summary = wb["汇总"]
    rows = [(r[0], r[1]) for r in summary.iter_rows(values_only=True)]
    assert rows[0] == ("项目", "值")
    assert rows[1] == ("报告", "青神县（示例数据） 养老服务设施覆盖分析报告")
    assert rows[2][0] == "编制日期" or rows[2][0] == "编制单位"
    labels = [r[0] for r in rows]
    assert labels.index("编制日期") < labels.index("工作空间") < labels.index("村(社区)图层版本")
    villages = wb["村(社区)"]
    header = [c.value for c in villages[1]]
    assert header[0] == "村(社区)代码"  # the data keeps its header on row 1
    dist = header.index("到最近设施距离(米)") + 1
    assert villages.cell(2, dist).number_format == "0"
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.print_title_rows in ("1:1", "$1:$1")
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.page_setup.orientation == ("landscape" if ws.max_column > 8 else "portrait")
        assert "覆盖分析报告" in ws.oddHeader.center.text
        assert "&P" in ws.oddFooter.center.text
    assert wb["村(社区)"].page_setup.orientation == "landscape"
    assert wb["汇总"].page_setup.orientation == "portrait"
    towns = wb["乡镇"]
    header = [c.value for c in towns[1]]
    assert towns.cell(2, header.index("村覆盖率") + 1).number_format == "0.0%"


def test_report_unit_in_title_block_and_header(demo, monkeypatch):
    from geoservice.reports import xlsx
    from geoservice.reports.coverage import coverage_xlsx

    _, result = demo
    token = xlsx.REPORT_UNIT.set(lambda: "某县民政局 & 规划股")
    try:
        wb = load_workbook(io.BytesIO(coverage_xlsx(result)))
    finally:
        xlsx.REPORT_UNIT.reset(token)
    rows = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}
    assert rows["编制单位"] == "某县民政局 & 规划股"
    # ``&`` starts a code in a print header: doubled, so it prints as one ``&``
    assert wb["乡镇"].oddHeader.left.text == "某县民政局 && 规划股"
    monkeypatch.setenv("GEOSERVICE_PRINT_UNIT", "环境变量单位")
    rows = {r[0]: r[1] for r in load_workbook(io.BytesIO(coverage_xlsx(result)))["汇总"]
            .iter_rows(values_only=True)}
    assert rows["编制单位"] == "环境变量单位"
