"""The boundary page and API with an uploaded county outline, grouped findings on the page,
and the merge page naming every layer an applied merge wrote."""

from __future__ import annotations

import html as htmllib
import io
import re
from pathlib import Path

import pytest
from fixtures import make_app

from geoservice.services.boundaries import boundary_params, read_outline, run_boundaries
from layers import open_store
from layers.schema import KINDS

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"
MEISHAN = DATA / "meishan_counties.geojson"


@pytest.fixture(scope="module")
def demo_client(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)}).test_client()


def upload(**fields):
    data = {"layer": "townships", **fields}
    data["outline"] = (io.BytesIO(MEISHAN.read_bytes()), "meishan_counties.geojson")
    return data


def text_of(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_page_refuses_several_features_and_lists_them(demo_client):
    r = demo_client.post("/boundaries", data=upload(), content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="outline-error"' in page
    error = re.search(r'id="outline-error">(.*?)</p>', page, re.S).group(1)
    assert "包含 6 个面要素" in error and "outline_feature" in error
    for name in ("东坡区（511402）", "仁寿县（511421）", "青神县（511425）"):
        assert name in error
    # The page is still drawn, without the outline.
    assert 'id="findings-table"' in page and 'id="outline-used"' not in page


def test_page_and_api_use_the_chosen_feature(demo_client, module_demo_workspace):
    direct = run_boundaries(open_store(module_demo_workspace), boundary_params("townships"),
                            read_outline(str(MEISHAN), "511425",
                                         filename="meishan_counties.geojson"))
    r = demo_client.post("/boundaries", data=upload(outline_feature="青神县"),
                         content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    used = re.search(r'id="outline-used">(.*?)</p>', page, re.S).group(1)
    assert "meishan_counties.geojson：青神县（511425）" in used
    assert "<th>县界文件</th><td>meishan_counties.geojson：青神县（511425）</td>" in page
    body = demo_client.post("/api/boundaries", data=upload(outline_feature="511425"),
                            content_type="multipart/form-data").get_json()
    assert body["summary"]["inputs"]["outline"] == direct.summary["inputs"]["outline"]
    assert body["findings"] == direct.to_dict()["findings"]
    assert body["summary"]["gap_area_m2"] == direct.summary["gap_area_m2"]
    bad = demo_client.post("/api/boundaries", data=upload(),
                           content_type="multipart/form-data")
    assert bad.status_code == 400 and "青神县（511425）" in bad.get_json()["error"]
    bad = demo_client.post("/api/boundaries", data={"layer": "townships",
                                                    "outline_feature": "511425"},
                           content_type="multipart/form-data")
    assert bad.status_code == 400 and "县界文件" in bad.get_json()["error"]


def test_page_groups_identical_findings(tiny_app, tiny_workspace):
    store = open_store(tiny_workspace)
    v = store.read("villages")
    short = ["511425", "511426", "511427"]
    v.loc[:2, "code"] = short
    store.write("villages", v, source="测试：6 位代码", source_crs="EPSG:4490")
    page = tiny_app.test_client().get("/boundaries?layer=villages").get_data(as_text=True)
    rows = re.findall(r'<tr class="gs-sev-\w+" data-fid="(\d+)" data-type="(\w+)"', page)
    assert rows == [("0", "bad_code")]  # 3 findings, one row
    assert "问题清单（3，同类问题合并为 1 行" in page
    line = "3 个村(社区)的代码为 6 位，应为 12 位数字：" + "、".join(
        f"{n}（{c}）" for n, c in zip(v["name"][:3], short, strict=True))
    assert line in text_of(page)
    # The three places on the map carry that row's id: a click zooms to all of them.
    assert len(re.findall(r'"properties": \{"fid": 0,', page)) == 3


def test_merge_page_names_each_layer_written(demo_app, demo_workspace):
    store = open_store(demo_workspace)
    before = store.current_versions()
    r = demo_app.test_client().post("/boundaries/merge", data={
        "layer": "villages", "codes": "511425102201,511425102208", "name": "文峡村",
        "apply": "1"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    after = store.current_versions()
    changed = [k for k in after if after[k].version != before[k].version]
    assert "villages" in changed and len(changed) >= 2
    items = re.findall(r"<li>(.*?)</li>",
                       re.search(r'id="merge-applied-layers">(.*?)</ul>', page, re.S).group(1))
    assert len(items) == len(changed)
    for kind in changed:
        line = (f"{KINDS[kind].label}图层写入第 {after[kind].version} 版"
                f"（{after[kind].features} 个要素），旧版本保留")
        assert line in [htmllib.unescape(i) for i in items], kind
